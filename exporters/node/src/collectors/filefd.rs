//! `filefd`: /proc/sys/fs/file-nr.

use expo::{MetricSet, MetricType};

use crate::util::read_into;
use crate::{Collector, Config, Error};

/// The `filefd` collector.
#[derive(Default)]
pub struct Filefd {
    buf: String,
}

impl Collector for Filefd {
    fn name(&self) -> &'static str {
        "filefd"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("sys/fs/file-nr");
        read_into(&path, &mut self.buf)?;
        let f: Vec<f64> = self
            .buf
            .split_ascii_whitespace()
            .map(|t| t.parse())
            .collect::<Result<_, _>>()
            .map_err(|_| Error::parse(&path, "expected three numbers"))?;
        if f.len() != 3 {
            return Err(Error::parse(&path, "expected three numbers"));
        }
        out.family(
            "node_filefd_allocated",
            "File descriptor statistics: allocated.",
            MetricType::Gauge,
        )
        .add(&[], f[0]);
        out.family(
            "node_filefd_maximum",
            "File descriptor statistics: maximum.",
            MetricType::Gauge,
        )
        .add(&[], f[2]);
        Ok(())
    }
}
