//! Deleting series (tombstones) and cleaning tombstones, as Prometheus' admin API does.
//!
//! Design constraints:
//! - A deletion is durable when [`Db::delete_series`] returns: head tombstones are in an
//!   fsynced WAL record, block tombstones in each block's fsynced `tombstones` file.
//! - Deletions and maintenance (block cuts, compaction) exclude each other, so a block being
//!   compacted never loses tombstones added meanwhile.
//! - Intervals end no later than the newest sample of each series (block intervals also start
//!   at its first), so samples appended later at newer times stay visible.

use crate::db::{Db, HeadState};
use crate::error::Error;
use crate::matcher::Matcher;
use crate::tombstones::Tombstones;
use crate::wal;

impl Db {
    /// Deletes the samples in [mint, maxt] of series matching all `matchers` (at least one).
    /// Reads stop returning them at once; compaction and block cuts drop them from disk.
    pub fn delete_series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<(), Error> {
        if matchers.is_empty() {
            return Err(Error::InvalidArgument(
                "delete needs at least one matcher".into(),
            ));
        }
        if mint > maxt {
            return Err(Error::InvalidArgument(
                "delete range ends before it starts".into(),
            ));
        }
        let _m = self.maintenance_lock.lock();
        for b in self.blocks() {
            let m = b.meta();
            if m.max_time <= mint || m.min_time > maxt {
                continue;
            }
            let mut new = Tombstones::default();
            for id in b.select(matchers)? {
                let (_, chunks) = b.series(id)?;
                let (Some(first), Some(last)) = (chunks.first(), chunks.last()) else {
                    continue;
                };
                let (a, z) = (mint.max(first.min_time), maxt.min(last.max_time));
                if a <= z {
                    new.add(id as u64, a, z);
                }
            }
            if !new.is_empty() {
                b.add_tombstones(&new)?;
            }
        }
        let mut st = self.head.write();
        let mut entries = Vec::new();
        for r in st.idx.select(matchers) {
            let Some(s) = st.idx.series[r as usize].as_ref() else {
                continue;
            };
            if !s.has_data() {
                continue;
            }
            let z = maxt.min(s.max_time());
            if mint <= z {
                entries.push((r as u64, mint, z));
            }
        }
        if !entries.is_empty() {
            let mut buf = Vec::new();
            crate::tombstones::encode_entries(&entries, &mut buf);
            st.wal.log(wal::RECORD_TOMBSTONES, &buf)?;
            st.wal.sync()?;
            for (r, a, z) in entries {
                st.tombstones.add(r, a, z);
            }
        }
        tracing::info!(
            min_time = mint,
            max_time = maxt,
            head_intervals = st.tombstones.num_intervals(),
            "deleted series"
        );
        Ok(())
    }

    /// Rewrites every block that has tombstones without the deleted samples (a new block
    /// replaces the old one, which is then deleted). Head tombstones stay until the head
    /// range they cover is cut into a block, which drops the samples (as Prometheus).
    pub fn clean_tombstones(&self) -> Result<usize, Error> {
        let _m = self.maintenance_lock.lock();
        let mut rewritten = 0;
        for b in self.blocks() {
            if b.tombstones().is_empty() {
                continue;
            }
            let group = [b];
            let meta = crate::compact::compact_blocks(self, &group)?;
            let meta = crate::compact::replace_blocks(self, &group, meta)?;
            tracing::info!(old = %group[0].meta().ulid, new = %meta.ulid, "rewrote block without tombstones");
            rewritten += 1;
        }
        Ok(rewritten)
    }

    /// Head tombstones as one WAL record, when there are any (for the clean-shutdown snapshot).
    pub(crate) fn log_head_tombstones(st: &mut HeadState) -> Result<(), Error> {
        if st.tombstones.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        crate::tombstones::encode_entries(&st.tombstones.entries(), &mut buf);
        st.wal.log(wal::RECORD_TOMBSTONES, &buf)?;
        st.wal.sync()
    }
}
