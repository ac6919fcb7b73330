//! The head's heap per series on the standard workload, in-process: the seeded workload is
//! appended round by round straight into a `tsdb::Db` (no HTTP, no remote-write decoding)
//! while a counting global allocator tracks the bytes the process has allocated and not freed.
//!
//! `cargo bench --bench head_memory -- [--hosts 20] [--hours 3] [--maintain-every 20] [--reopen]`
//!
//! Prints, every simulated hour: series, live heap (MiB and bytes per series, the bench's own
//! copy of the label strings excluded), glibc's in-use and held bytes (`mallinfo2`) and VmRSS;
//! then the peak of live heap while appending and during maintenance (block cut, WAL
//! checkpoint, compaction). `--reopen` closes the database (head snapshot) and opens it again, then
//! prints the heap of the reloaded head.

#[path = "common/flags.rs"]
mod flags;
#[path = "../tests/common/workload.rs"]
mod workload;

use flags::flag;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// The system allocator, counting live and peak bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to `System` with the same arguments; the counters are only
// bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = System.alloc(l);
        if !p.is_null() {
            add(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(l);
        if !p.is_null() {
            add(l.size());
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = System.realloc(p, l, new);
        if !q.is_null() {
            LIVE.fetch_sub(l.size(), Ordering::Relaxed);
            add(new);
        }
        q
    }
}

fn add(n: usize) {
    let now = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const HOUR_MS: i64 = 3_600_000;
/// One series of an append batch: labels and samples.
type Entry<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);
/// Start of the simulated data: aligned to the 2 h block grid.
const START_MS: i64 = 1_764_000_000_000;

/// Bytes as MiB.
fn mib(b: usize) -> f64 {
    b as f64 / (1u64 << 20) as f64
}

/// glibc's (in-use, held from the OS) heap bytes.
fn malloc_stats() -> (usize, usize) {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let m = unsafe { libc::mallinfo2() };
    (m.uordblks + m.hblkhd, m.arena + m.hblkhd)
}

/// VmRSS of this process in bytes.
fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn report(what: &str, series: u64, base: usize) {
    let live = LIVE.load(Ordering::Relaxed).saturating_sub(base);
    let (used, held) = malloc_stats();
    println!(
        "| {what} | {series} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} |",
        mib(live),
        live as f64 / series.max(1) as f64,
        mib(used),
        mib(held),
        mib(rss()),
    );
}

fn main() {
    let hosts: usize = flag("--hosts", 20);
    let hours: f64 = flag("--hours", 3.0);
    let maintain_every: usize = flag("--maintain-every", 20);
    let reopen = std::env::args().any(|a| a == "--reopen");
    let mut w = workload::Workload::new(hosts, 42);
    let owned: Vec<Vec<(String, String)>> = (0..w.len())
        .map(|i| {
            w.labels(i)
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect()
        })
        .collect();
    let labels: Vec<Vec<(&str, &str)>> = owned
        .iter()
        .map(|l| l.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
        .collect();
    let rounds = (hours * HOUR_MS as f64 / workload::STEP_MS as f64).round() as usize;
    println!(
        "workload: {} hosts, {} series, {} rounds ({} h at 15 s), maintenance every {} rounds",
        hosts,
        w.len(),
        rounds,
        hours,
        maintain_every
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let db = tsdb::Db::open(dir.path(), tsdb::Options::default()).expect("open");
    println!();
    println!("| at | series | live heap MiB | heap B/series | malloc in use MiB | malloc held MiB | VmRSS MiB |");
    println!("|---|---|---|---|---|---|---|");
    let started = Instant::now();
    let (mut maint_peak, mut run_peak) = (0usize, 0usize);
    let rounds_per_hour = (HOUR_MS / workload::STEP_MS) as usize;
    for r in 0..rounds {
        let t = START_MS + r as i64 * workload::STEP_MS;
        let values = w.next_values();
        for (ls, vs) in labels.chunks(5000).zip(values.chunks(5000)) {
            let samples: Vec<[(i64, f64); 1]> = vs.iter().map(|&v| [(t, v)]).collect();
            let batch: Vec<Entry> = ls
                .iter()
                .zip(&samples)
                .map(|(l, s)| (l.as_slice(), s.as_slice()))
                .collect();
            db.append_batch(&batch).expect("append");
        }
        drop(values);
        if maintain_every > 0 && (r + 1) % maintain_every == 0 {
            let before = LIVE.load(Ordering::Relaxed);
            let appends_peak = PEAK.swap(before, Ordering::Relaxed);
            run_peak = run_peak.max(appends_peak.saturating_sub(base));
            db.maintenance().expect("maintenance");
            maint_peak = maint_peak.max(PEAK.load(Ordering::Relaxed).saturating_sub(base));
        }
        if (r + 1) % rounds_per_hour == 0 || r + 1 == rounds {
            let h = (r + 1) as f64 * workload::STEP_MS as f64 / HOUR_MS as f64;
            report(&format!("{h:.2} h"), db.head_stats().num_series, base);
        }
    }
    run_peak = run_peak.max(PEAK.load(Ordering::Relaxed).saturating_sub(base));
    let per = |b: usize| b as f64 / w.len() as f64;
    println!();
    println!(
        "ingest {:.1} s; peak live heap: appending {:.1} MiB ({:.0} B/series, with the round's \
         {:.1} MiB of values), during maintenance {:.1} MiB ({:.0} B/series); head chunks {}",
        started.elapsed().as_secs_f64(),
        mib(run_peak),
        per(run_peak),
        mib(w.len() * 8),
        mib(maint_peak),
        per(maint_peak),
        db.head_stats().num_chunks
    );
    if reopen {
        let t0 = Instant::now();
        db.close().expect("close");
        drop(db);
        let after_close = LIVE.load(Ordering::Relaxed).saturating_sub(base);
        let db = tsdb::Db::open(dir.path(), tsdb::Options::default()).expect("reopen");
        println!(
            "reopened in {:.2} s (live heap after close {:.1} MiB)",
            t0.elapsed().as_secs_f64(),
            mib(after_close)
        );
        report("reopened", db.head_stats().num_series, base);
    }
}
