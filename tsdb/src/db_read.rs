//! Reads over blocks and the head: series, samples, label names and values, self-metrics.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::db::{Db, SeriesSamples};
use crate::error::{Error, RejectReason};
use crate::head::merge_samples;
use crate::head_chunks::MmapChunk;
use crate::labels::Labels;
use crate::matcher::Matcher;

/// Head data of one series copied out under the lock.
struct HeadSeriesData {
    labels: Labels,
    mmapped: Vec<MmapChunk>,
    open: Option<Vec<u8>>,
    ooo: Vec<(i64, f64)>,
}

/// Decodes chunk `data` of `encoding`, appending all its samples to `out`.
pub(crate) fn decode_chunk(
    encoding: u8,
    data: &[u8],
    out: &mut Vec<(i64, f64)>,
) -> Result<(), String> {
    crate::chunkenc::decode_any(encoding, data, out).map_err(|e| e.to_string())
}

impl Db {
    /// Calls `f` with every series matching `matchers` in blocks overlapping [mint, maxt].
    fn for_each_block_series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        mut f: impl FnMut(
            &crate::block::Block,
            Labels,
            Vec<crate::block::ChunkMeta>,
        ) -> Result<(), Error>,
    ) -> Result<(), Error> {
        for b in self.blocks.read().iter() {
            let m = b.meta();
            if m.max_time <= mint || m.min_time > maxt {
                continue;
            }
            for id in b.select(matchers)? {
                let (labels, chunks) = b.series(id)?;
                f(b, labels, chunks)?;
            }
        }
        Ok(())
    }

    /// Label sets of series matching all matchers with data in [mint, maxt], sorted.
    pub fn select_series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Labels>, Error> {
        let mut set: BTreeSet<Labels> = BTreeSet::new();
        self.for_each_block_series(matchers, mint, maxt, |_, labels, chunks| {
            if chunks
                .iter()
                .any(|c| c.min_time <= maxt && c.max_time >= mint)
            {
                set.insert(labels);
            }
            Ok(())
        })?;
        let st = self.head.read();
        for r in st.idx.select(matchers) {
            let s = st.idx.series[r as usize]
                .as_ref()
                .expect("BUG: postings point at a removed series");
            if s.overlaps(mint, maxt) {
                set.insert(st.idx.labels_of(s));
            }
        }
        Ok(set.into_iter().collect())
    }

    /// Samples in [mint, maxt] of series matching all matchers, sorted by labels.
    pub fn select_samples(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<SeriesSamples>, Error> {
        let mut runs: BTreeMap<Labels, Vec<Vec<(i64, f64)>>> = BTreeMap::new();
        self.for_each_block_series(matchers, mint, maxt, |b, labels, chunks| {
            let mut out = Vec::new();
            for c in chunks
                .iter()
                .filter(|c| c.min_time <= maxt && c.max_time >= mint)
            {
                let (enc, data) = b.chunk(c.chunk_ref)?;
                decode_chunk(enc, data, &mut out).map_err(|detail| Error::Corrupt {
                    path: b.dir().to_path_buf(),
                    detail,
                })?;
            }
            out.retain(|s| s.0 >= mint && s.0 <= maxt);
            if !out.is_empty() {
                runs.entry(labels).or_default().push(out);
            }
            Ok(())
        })?;
        let head_data: Vec<HeadSeriesData> = {
            let st = self.head.read();
            st.idx
                .select(matchers)
                .into_iter()
                .filter_map(|r| {
                    let s = st.idx.series[r as usize]
                        .as_ref()
                        .expect("BUG: postings point at a removed series");
                    if !s.overlaps(mint, maxt) {
                        return None;
                    }
                    let open =
                        (s.open.num_samples() > 0 && s.open_min <= maxt && s.open_max >= mint)
                            .then(|| s.open.bytes().to_vec());
                    Some(HeadSeriesData {
                        labels: st.idx.labels_of(s),
                        mmapped: s
                            .mmapped
                            .iter()
                            .filter(|c| c.min_time <= maxt && c.max_time >= mint)
                            .copied()
                            .collect(),
                        open,
                        ooo: s
                            .ooo
                            .iter()
                            .filter(|x| x.0 >= mint && x.0 <= maxt)
                            .copied()
                            .collect(),
                    })
                })
                .collect()
        };
        let mut chunks = self.chunks.lock();
        for hd in head_data {
            let mut out = Vec::new();
            for c in &hd.mmapped {
                chunks
                    .with_chunk(c.chunk_ref, |enc, data| decode_chunk(enc, data, &mut out))?
                    .map_err(|detail| Error::Corrupt {
                        path: self.dir.join("chunks_head"),
                        detail,
                    })?;
            }
            if let Some(open) = &hd.open {
                decode_chunk(crate::chunkenc::ENCODING_XOR, open, &mut out).map_err(|detail| {
                    Error::Corrupt {
                        path: self.dir.join("head"),
                        detail,
                    }
                })?;
            }
            out.retain(|s| s.0 >= mint && s.0 <= maxt);
            let e = runs.entry(hd.labels).or_default();
            // Head data is newest: it wins ties against blocks.
            e.insert(0, out);
            if !hd.ooo.is_empty() {
                e.insert(1, hd.ooo);
            }
        }
        drop(chunks);
        Ok(runs
            .into_iter()
            .map(|(labels, r)| SeriesSamples {
                labels,
                samples: merge_samples(r),
            })
            .filter(|s| !s.samples.is_empty())
            .collect())
    }

    /// Sorted label names of matching series (all series when `matchers` is empty) with data in [mint, maxt].
    pub fn label_names(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, Error> {
        let mut names: BTreeSet<String> = BTreeSet::new();
        if matchers.is_empty() {
            for b in self.blocks.read().iter() {
                let m = b.meta();
                if m.max_time > mint && m.min_time <= maxt {
                    names.extend(b.label_names());
                }
            }
            let st = self.head.read();
            if st.min_time <= maxt && st.max_time >= mint {
                names.extend(
                    st.idx
                        .postings
                        .keys()
                        .map(|&n| st.idx.symbols.get(n).to_string()),
                );
            }
        } else {
            for l in self.select_series(matchers, mint, maxt)? {
                names.extend(l.iter().map(|l| l.name.clone()));
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Sorted values of label `name` across matching series (all series when `matchers` is empty).
    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, Error> {
        let mut values: BTreeSet<String> = BTreeSet::new();
        if matchers.is_empty() {
            for b in self.blocks.read().iter() {
                let m = b.meta();
                if m.max_time > mint && m.min_time <= maxt {
                    values.extend(b.label_values(name));
                }
            }
            let st = self.head.read();
            if st.min_time <= maxt && st.max_time >= mint {
                values.extend(crate::postings::PostingsSource::label_values(&st.idx, name));
            }
        } else {
            for l in self.select_series(matchers, mint, maxt)? {
                if let Some(v) = l.get(name) {
                    values.insert(v.to_string());
                }
            }
        }
        Ok(values.into_iter().collect())
    }

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
