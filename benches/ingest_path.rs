//! The store's ingest path in-process, without HTTP: remote-write bodies of the standard
//! workload (snappy-compressed protobuf, made beforehand a few rounds at a time) are decoded
//! and appended the way `POST /api/v1/write` does it (`query::write_body`), with the head's
//! maintenance (block cuts, WAL checkpoints, compaction) every few rounds. CPU time is taken
//! on the one thread that does all of it, with no load generator running meanwhile, so
//! figures repeat more closely than the whole-server `ingest` bench's; use it to compare
//! builds of the ingest path.
//!
//! `cargo bench --bench ingest_path -- [--hosts 20] [--hours 4] [--per-request 5000] [--maintain-every 20] [--runs 1]`

#[path = "common/flags.rs"]
mod flags;
#[path = "../tests/common/workload.rs"]
mod workload;

use flags::flag;
use std::time::Instant;

/// Start of the simulated data: aligned to the 2 h block grid.
const START_MS: i64 = 1_764_000_000_000;

/// CPU time this thread has used, in seconds.
fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// CPU time (user + system) the whole process has used, in seconds.
fn process_cpu() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Seconds of CPU per stage of one run.
#[derive(Default)]
struct Stages {
    /// Decoding and appending the requests.
    write: f64,
    maintenance: f64,
    /// Process CPU while storing: includes helper threads (WAL checkpoint reads).
    store: f64,
    samples: u64,
    wall: f64,
}

fn run(hosts: usize, rounds: usize, per_request: usize, maintain_every: usize) -> Stages {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = tsdb::Db::open(dir.path(), tsdb::Options::default()).expect("open");
    let mut w = workload::Workload::new(hosts, 42);
    let mut scratch = query::WriteScratch::default();
    let mut st = Stages::default();
    let step = maintain_every.max(1);
    let mut r = 0;
    while r < rounds {
        // The next rounds' bodies first, outside the measurement, so that no other thread
        // competes for the caches while the store's work is timed.
        let n = step.min(rounds - r);
        let bodies: Vec<Vec<u8>> = (r..r + n)
            .flat_map(|r| w.round(START_MS + r as i64 * workload::STEP_MS, per_request))
            .map(|req| remote::encode_write_request(&req))
            .collect();
        r += n;
        let (c0, w0) = (process_cpu(), Instant::now());
        let t0 = thread_cpu();
        for body in &bodies {
            let out =
                query::write_body(&db, body, usize::MAX, 0, &mut scratch).expect("write accepted");
            assert!(out.rejected.is_none(), "{:?}", out.rejected);
            st.samples += out.samples;
        }
        let t1 = thread_cpu();
        st.write += t1 - t0;
        if maintain_every > 0 && r % maintain_every == 0 {
            db.maintenance().expect("maintenance");
            st.maintenance += thread_cpu() - t1;
        }
        st.store += process_cpu() - c0;
        st.wall += w0.elapsed().as_secs_f64();
    }
    st
}

fn main() {
    let hosts: usize = flag("--hosts", 20);
    let hours: f64 = flag("--hours", 4.0);
    let per_request: usize = flag("--per-request", 5000);
    let maintain_every: usize = flag("--maintain-every", 20);
    let runs: usize = flag("--runs", 1);
    let rounds = (hours * 3_600_000.0 / workload::STEP_MS as f64).round() as usize;
    let series = workload::Workload::new(hosts, 42).len();
    println!(
        "workload: {hosts} hosts, {series} series, {rounds} rounds ({hours} h at 15 s), \
         {per_request} series per request, maintenance every {maintain_every} rounds"
    );
    println!();
    println!("| run | write ns/sample | maintenance ns/sample | both ns/sample | store CPU s/M samples | wall s |");
    println!("|---|---|---|---|---|---|");
    for i in 0..runs {
        let s = run(hosts, rounds, per_request, maintain_every);
        let per = |x: f64| x * 1e9 / s.samples as f64;
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.3} | {:.1} |",
            i + 1,
            per(s.write),
            per(s.maintenance),
            per(s.write + s.maintenance),
            s.store * 1e6 / s.samples as f64,
            s.wall
        );
    }
}
