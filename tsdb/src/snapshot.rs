//! Snapshots of the persisted blocks: hard links into a directory of their own.

use std::fs;
use std::path::Path;

use crate::db::{fsync_dir, Db};
use crate::error::Error;

/// Hard-links every file under `from` into `to` (created), recursively.
fn link_tree(from: &Path, to: &Path) -> Result<(), Error> {
    fs::create_dir_all(to).map_err(|e| Error::io(to, e))?;
    for entry in fs::read_dir(from).map_err(|e| Error::io(from, e))? {
        let entry = entry.map_err(|e| Error::io(from, e))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().map_err(|e| Error::io(&src, e))?;
        if kind.is_dir() {
            link_tree(&src, &dst)?;
        } else {
            fs::hard_link(&src, &dst).map_err(|e| Error::io(&dst, e))?;
        }
    }
    fsync_dir(to)
}

impl Db {
    /// Hard-links every block into `dst` (which must not exist); the head (samples of the
    /// last block duration, still in memory and the WAL) is not included. Returns the number
    /// of blocks. Blocks are immutable, and compaction and retention wait until it is done.
    pub fn snapshot_blocks(&self, dst: &Path) -> Result<usize, Error> {
        let _g = self.maintenance_lock.lock();
        if dst.exists() {
            return Err(Error::InvalidArgument(format!(
                "snapshot directory {} exists",
                dst.display()
            )));
        }
        let tmp = dst.with_extension("tmp");
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let blocks = self.blocks();
        for b in &blocks {
            let name = b.meta().ulid.clone();
            link_tree(b.dir(), &tmp.join(name))?;
        }
        fsync_dir(&tmp)?;
        fs::rename(&tmp, dst).map_err(|e| Error::io(dst, e))?;
        if let Some(parent) = dst.parent() {
            fsync_dir(parent)?;
        }
        Ok(blocks.len())
    }
}
