//! The database's self-metrics in Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::db::Db;
use crate::error::RejectReason;

impl Db {
    /// Appends the database's self-metrics in Prometheus text format.
    pub fn render_metrics(&self, out: &mut String) {
        let m = &self.metrics;
        let hs = self.head_stats();
        let blocks = self.blocks.read().clone();
        let wal_bytes = self.head.read().wal.bytes_written();
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: f64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        counter(
            out,
            "vitals_tsdb_head_samples_appended_total",
            "Samples appended to the head in order.",
            m.samples_appended.load(Ordering::Relaxed),
        );
        counter(
            out,
            "vitals_tsdb_head_out_of_order_samples_appended_total",
            "Samples appended within the out-of-order window.",
            m.ooo_samples_appended.load(Ordering::Relaxed),
        );
        let _ = writeln!(out, "# HELP vitals_tsdb_rejected_samples_total Samples not stored, by reason.\n# TYPE vitals_tsdb_rejected_samples_total counter");
        for r in RejectReason::ALL {
            let _ = writeln!(
                out,
                "vitals_tsdb_rejected_samples_total{{reason=\"{}\"}} {}",
                r.as_str(),
                m.rejected[r as usize].load(Ordering::Relaxed)
            );
        }
        counter(
            out,
            "vitals_tsdb_head_series_created_total",
            "Series created in the head.",
            m.series_created.load(Ordering::Relaxed),
        );
        counter(
            out,
            "vitals_tsdb_head_series_removed_total",
            "Series removed from the head after a block cut.",
            m.series_removed.load(Ordering::Relaxed),
        );
        gauge(
            out,
            "vitals_tsdb_head_series",
            "Series in the head.",
            hs.num_series as f64,
        );
        gauge(
            out,
            "vitals_tsdb_head_chunks",
            "Chunks in the head (open and memory-mapped).",
            hs.num_chunks as f64,
        );
        gauge(
            out,
            "vitals_tsdb_head_min_time_seconds",
            "Oldest sample time in the head.",
            if hs.min_time == i64::MAX {
                0.0
            } else {
                hs.min_time as f64 / 1000.0
            },
        );
        gauge(
            out,
            "vitals_tsdb_head_max_time_seconds",
            "Newest sample time in the head.",
            if hs.max_time == i64::MIN {
                0.0
            } else {
                hs.max_time as f64 / 1000.0
            },
        );
        counter(
            out,
            "vitals_tsdb_wal_bytes_written_total",
            "Bytes written to the WAL since start.",
            wal_bytes,
        );
        counter(
            out,
            "vitals_tsdb_head_chunk_bytes_written_total",
            "Bytes written to head chunk files since start.",
            self.chunks.lock().bytes_written(),
        );
        counter(
            out,
            "vitals_tsdb_wal_checkpoints_total",
            "WAL checkpoints written.",
            m.checkpoints.load(Ordering::Relaxed),
        );
        gauge(
            out,
            "vitals_tsdb_wal_replay_seconds",
            "Time the last open spent loading head chunks and replaying the WAL.",
            m.wal_replay_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        );
        counter(
            out,
            "vitals_tsdb_blocks_cut_total",
            "Blocks cut from the head.",
            m.blocks_cut.load(Ordering::Relaxed),
        );
        counter(
            out,
            "vitals_tsdb_compactions_total",
            "Block compactions completed.",
            m.compactions.load(Ordering::Relaxed),
        );
        counter(
            out,
            "vitals_tsdb_compactions_failed_total",
            "Block compactions that failed.",
            m.compaction_failures.load(Ordering::Relaxed),
        );
        counter(
            out,
            "vitals_tsdb_blocks_deleted_total",
            "Blocks deleted by retention.",
            m.blocks_deleted.load(Ordering::Relaxed),
        );
        gauge(
            out,
            "vitals_tsdb_blocks_loaded",
            "Blocks loaded.",
            blocks.len() as f64,
        );
        gauge(
            out,
            "vitals_tsdb_storage_blocks_bytes",
            "Bytes of all loaded blocks.",
            blocks.iter().map(|b| b.size_bytes()).sum::<u64>() as f64,
        );
    }
}
