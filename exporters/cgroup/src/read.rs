//! Small readers for cgroup files, reusing one buffer.

use std::io::Read;
use std::path::Path;

/// Reads files into a reused buffer.
#[derive(Default)]
pub struct Reader {
    buf: String,
}

impl Reader {
    /// The contents of `path`, or `None` when it is missing or unreadable.
    pub fn read(&mut self, path: &Path) -> Option<&str> {
        self.buf.clear();
        let mut f = std::fs::File::open(path).ok()?;
        f.read_to_string(&mut self.buf).ok()?;
        Some(&self.buf)
    }

    /// A file holding one number (`max` reads as `None`).
    pub fn number(&mut self, path: &Path) -> Option<f64> {
        let s = self.read(path)?.trim();
        s.parse::<u64>()
            .map(|v| v as f64)
            .or_else(|_| s.parse::<i64>().map(|v| v as f64))
            .ok()
    }

    /// Calls `f(key, value)` for each `key value` line of a flat keyed file (`memory.stat`).
    pub fn keyed(&mut self, path: &Path, mut f: impl FnMut(&str, f64)) -> bool {
        let Some(s) = self.read(path) else {
            return false;
        };
        for line in s.lines() {
            let mut it = line.split_ascii_whitespace();
            if let (Some(k), Some(v)) = (it.next(), it.next()) {
                if let Ok(v) = v.parse::<u64>() {
                    f(k, v as f64);
                }
            }
        }
        true
    }
}
