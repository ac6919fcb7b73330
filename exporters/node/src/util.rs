//! Small helpers for reading /proc and /sys files without per-sample allocation.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::Error;

/// Reads `path` into `buf` (cleared first), reusing its capacity.
pub(crate) fn read_into(path: &Path, buf: &mut String) -> Result<(), Error> {
    buf.clear();
    fs::File::open(path)
        .and_then(|mut f| f.read_to_string(buf))
        .map(|_| ())
        .map_err(|e| Error::io(path, e))
}

/// Reads a small sysfs file, trimmed of surrounding whitespace; None on any error.
pub(crate) fn read_trimmed(path: &Path) -> Option<String> {
    let s = fs::read_to_string(path).ok()?;
    Some(s.trim().to_string())
}

/// Parses an integer as Go's `strconv.ParseInt(s, 0, 64)`: `0x` hex, `0` octal, else decimal.
pub(crate) fn parse_int_auto(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if s.len() > 1 && s.starts_with('0') {
        i64::from_str_radix(&s[1..], 8).ok()?
    } else {
        s.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Reads a sysfs file holding one number; None on any error.
pub(crate) fn read_f64(path: &Path) -> Option<f64> {
    read_trimmed(path)?.parse().ok()
}

/// Entries of `dir` whose names start with `prefix` and continue with digits, sorted
/// numerically by that suffix (e.g. `cpu0`, `cpu1`, `cpu10`). Missing dir: empty.
pub(crate) fn numbered_entries(dir: &Path, prefix: &str) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(u64, String, PathBuf)> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let n: u64 = name.strip_prefix(prefix)?.parse().ok()?;
                Some((n, name, e.path()))
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out.into_iter().map(|(_, n, p)| (n, p)).collect()
}

/// Compiles a filter regex given on the command line.
pub(crate) fn regex(name: &'static str, re: &str) -> Result<regex::Regex, Error> {
    regex::Regex::new(re).map_err(|e| Error::Config {
        name,
        msg: e.to_string(),
    })
}

/// A reusable buffer for formatting integers as label values.
#[derive(Default)]
pub(crate) struct NumBuf(String);

impl NumBuf {
    /// `n` as decimal text.
    pub(crate) fn fmt(&mut self, n: impl std::fmt::Display) -> &str {
        use std::fmt::Write;
        self.0.clear();
        let _ = write!(self.0, "{n}");
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_parse_int() {
        assert_eq!(parse_int_auto("0x1003"), Some(4099));
        assert_eq!(parse_int_auto("0x0"), Some(0));
        assert_eq!(parse_int_auto("1500"), Some(1500));
        assert_eq!(parse_int_auto("0"), Some(0));
        assert_eq!(parse_int_auto("-1"), Some(-1));
        assert_eq!(parse_int_auto("010"), Some(8));
        assert_eq!(parse_int_auto("x"), None);
    }
}
