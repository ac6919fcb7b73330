//! `netstat`: /proc/net/netstat, /proc/net/snmp and /proc/net/snmp6 fields matching
//! `--collector.netstat.fields`, untyped.

use expo::{MetricSet, MetricType};
use regex::Regex;

use crate::util::{read_into, regex};
use crate::{Collector, Config, Error};

/// node_exporter's current default `--collector.netstat.fields` (a superset of 1.5's:
/// adds `TcpExt_TCPOFOQueue` and `TcpExt_TCPRcvQDrop`, used by Node Exporter Full).
pub const DEFAULT_FIELDS: &str = "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$";

/// The `netstat` collector.
pub struct Netstat {
    fields: Regex,
    buf: String,
    key: String,
    name: String,
    help: String,
}

impl Netstat {
    /// With the field filter of `cfg`.
    pub fn new(cfg: &Config) -> Result<Netstat, Error> {
        Ok(Netstat {
            fields: regex("collector.netstat.fields", &cfg.netstat_fields)?,
            buf: String::new(),
            key: String::new(),
            name: String::new(),
            help: String::new(),
        })
    }

    fn emit(
        &mut self,
        out: &mut MetricSet,
        proto: &str,
        field: &str,
        value: &str,
        path: &std::path::Path,
    ) -> Result<(), Error> {
        self.key.clear();
        self.key.push_str(proto);
        self.key.push('_');
        self.key.push_str(field);
        let v: f64 = value
            .parse()
            .map_err(|_| Error::parse(path, format!("invalid value {value:?} in netstats")))?;
        if !self.fields.is_match(&self.key) {
            return Ok(());
        }
        self.name.clear();
        self.name.push_str("node_netstat_");
        self.name.push_str(&self.key);
        self.help.clear();
        self.help.push_str("Statistic ");
        self.help.push_str(proto);
        self.help.push_str(field);
        self.help.push('.');
        out.family(&self.name, &self.help, MetricType::Untyped)
            .add(&[], v);
        Ok(())
    }
}

impl Collector for Netstat {
    fn name(&self) -> &'static str {
        "netstat"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        for file in ["net/netstat", "net/snmp"] {
            let path = cfg.proc(file);
            let mut buf = std::mem::take(&mut self.buf);
            read_into(&path, &mut buf)?;
            // Pairs of lines: "Proto: name name …" then "Proto: value value …".
            let mut lines = buf.lines();
            while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
                let (Some((proto, names)), Some((_, values))) =
                    (names.split_once(':'), values.split_once(':'))
                else {
                    continue;
                };
                for (n, v) in names
                    .split_ascii_whitespace()
                    .zip(values.split_ascii_whitespace())
                {
                    self.emit(out, proto, n, v, &path)?;
                }
            }
            self.buf = buf;
        }
        let path = cfg.proc("net/snmp6");
        let mut buf = std::mem::take(&mut self.buf);
        match read_into(&path, &mut buf) {
            Ok(()) => {
                // "Icmp6InMsgs 12": the protocol is the name up to and including its first '6'.
                for line in buf.lines() {
                    let mut f = line.split_ascii_whitespace();
                    let (Some(name), Some(v)) = (f.next(), f.next()) else {
                        continue;
                    };
                    let Some(six) = name.find('6') else { continue };
                    self.emit(out, &name[..=six], &name[six + 1..], v, &path)?;
                }
            }
            // IPv6 disabled: node_exporter tolerates a missing snmp6.
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        self.buf = buf;
        Ok(())
    }
}
