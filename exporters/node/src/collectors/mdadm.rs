//! `mdadm`: software RAID state from /proc/mdstat (node_exporter's `node_md_*`).

use expo::{MetricSet, MetricType};
use regex::Regex;

use crate::util::read_into;
use crate::{Collector, Config, Error};

/// One md device as /proc/mdstat describes it.
#[derive(Debug, PartialEq)]
struct Md<'a> {
    name: &'a str,
    state: &'a str,
    active: i64,
    total: i64,
    failed: i64,
    spare: i64,
    blocks: i64,
    synced: i64,
}

/// The `mdadm` collector.
pub struct Mdadm {
    buf: String,
    status: Regex,
    recovery: Regex,
}

impl Default for Mdadm {
    fn default() -> Mdadm {
        Mdadm {
            buf: String::new(),
            status: Regex::new(r"(\d+) blocks .*\[(\d+)/(\d+)\] \[([U_]+)\]")
                .expect("BUG: static regex"),
            recovery: Regex::new(r"\((\d+)/\d+\)").expect("BUG: static regex"),
        }
    }
}

impl Mdadm {
    /// Parses /proc/mdstat as procfs (node_exporter's library) does.
    fn parse<'a>(&self, text: &'a str) -> Result<Vec<Md<'a>>, String> {
        let lines: Vec<&str> = text.split('\n').collect();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty()
                || line.starts_with(' ')
                || line.starts_with("Personalities")
                || line.starts_with("unused")
            {
                continue;
            }
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            if fields.len() < 3 {
                return Err(format!("not enough fields in mdline: {line}"));
            }
            let (name, mut state) = (fields[0], fields[2]);
            if lines.len() <= i + 3 {
                return Err(format!("too few lines for md device {name}"));
            }
            let status = lines[i + 1];
            let blocks: i64 = status
                .split_ascii_whitespace()
                .next()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| format!("unexpected status line {status:?}"))?;
            let (active, total) = if line.contains("raid0") || line.contains("linear") {
                let n = line.matches('[').count() as i64;
                (n, n)
            } else if line.contains("inactive") {
                (0, 0)
            } else {
                let c = self
                    .status
                    .captures(status)
                    .ok_or_else(|| format!("no disk counts in {status:?}"))?;
                (c[3].parse().unwrap_or(0), c[2].parse().unwrap_or(0))
            };
            let mut sync = i + 2;
            if lines[sync].contains("bitmap") {
                sync += 1;
            }
            let sl = lines.get(sync).copied().unwrap_or("");
            let mut synced = blocks;
            let (rec, res, chk) = (
                sl.contains("recovery"),
                sl.contains("resync"),
                sl.contains("check"),
            );
            if rec || res || chk {
                state = if rec {
                    "recovering"
                } else if chk {
                    "checking"
                } else {
                    "resyncing"
                };
                synced = if sl.contains("PENDING") || sl.contains("DELAYED") {
                    0
                } else {
                    self.recovery
                        .captures(sl)
                        .and_then(|c| c[1].parse().ok())
                        .ok_or_else(|| format!("unexpected recovery line {sl:?}"))?
                };
            }
            out.push(Md {
                name,
                state,
                active,
                total,
                failed: line.matches("(F)").count() as i64,
                spare: line.matches("(S)").count() as i64,
                blocks,
                synced,
            });
        }
        Ok(out)
    }
}

impl Collector for Mdadm {
    fn name(&self) -> &'static str {
        "mdadm"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let path = cfg.proc("mdstat");
        let mut buf = std::mem::take(&mut self.buf);
        match read_into(&path, &mut buf) {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {
                self.buf = buf;
                return Err(Error::NoData("mdstat does not exist".into()));
            }
            Err(e) => return Err(e),
        }
        let res = self.parse(&buf).map_err(|m| Error::parse(&path, m));
        let mds = match res {
            Ok(m) => m,
            Err(e) => {
                self.buf = buf;
                return Err(e);
            }
        };
        let g = MetricType::Gauge;
        for md in &mds {
            let dev = [("device", md.name)];
            out.family(
                "node_md_disks_required",
                "Total number of disks of device.",
                g,
            )
            .add(&dev, md.total as f64);
            let disks = out.family(
                "node_md_disks",
                "Number of active/failed/spare disks of device.",
                g,
            );
            disks.add(
                &[("device", md.name), ("state", "active")],
                md.active as f64,
            );
            disks.add(
                &[("device", md.name), ("state", "failed")],
                md.failed as f64,
            );
            disks.add(&[("device", md.name), ("state", "spare")], md.spare as f64);
            let states = out.family("node_md_state", "Indicates the state of md-device.", g);
            for (label, s) in [
                ("active", "active"),
                ("inactive", "inactive"),
                ("recovering", "recovering"),
                ("resync", "resyncing"),
                ("check", "checking"),
            ] {
                let v = if md.state == s { 1.0 } else { 0.0 };
                states.add(&[("device", md.name), ("state", label)], v);
            }
            out.family("node_md_blocks", "Total number of blocks on device.", g)
                .add(&dev, md.blocks as f64);
            out.family(
                "node_md_blocks_synced",
                "Number of blocks synced on device.",
                g,
            )
            .add(&dev, md.synced as f64);
        }
        self.buf = buf;
        Ok(())
    }
}
