//! `tcpstat` (off by default, as in node_exporter): TCP sockets by state and queued bytes,
//! from a NETLINK_INET_DIAG dump (as node_exporter does, so listen backlogs count the same).

use std::collections::BTreeMap;

use expo::{MetricSet, MetricType};

use crate::{Collector, Config, Error};

const NETLINK_INET_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const TCPF_ALL: u32 = 0xFFF;

/// Kernel TCP state numbers (1-based) to node_exporter's label values.
const STATES: [&str; 11] = [
    "established",
    "syn_sent",
    "syn_recv",
    "fin_wait1",
    "fin_wait2",
    "time_wait",
    "close",
    "close_wait",
    "last_ack",
    "listen",
    "closing",
];

/// The `tcpstat` collector.
pub struct Tcpstat;

/// A netlink socket closed on drop.
struct Fd(i32);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: closes a descriptor this struct owns.
        unsafe { libc::close(self.0) };
    }
}

fn sys_err(call: &'static str) -> Error {
    Error::Syscall {
        call,
        source: std::io::Error::last_os_error(),
    }
}

/// Adds the sockets of one address family to `counts` (state → n, plus the queue sums).
fn dump(family: u8, counts: &mut BTreeMap<&'static str, f64>) -> Result<(), Error> {
    // SAFETY: plain socket(2) call; the descriptor is owned by `Fd`.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_INET_DIAG,
        )
    };
    if fd < 0 {
        return Err(sys_err("socket(NETLINK_INET_DIAG)"));
    }
    let fd = Fd(fd);
    // nlmsghdr (16 bytes) + inet_diag_req_v2 (56 bytes).
    let mut req = [0u8; 72];
    req[0..4].copy_from_slice(&72u32.to_ne_bytes());
    req[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    req[6..8].copy_from_slice(&flags.to_ne_bytes());
    req[8..12].copy_from_slice(&1u32.to_ne_bytes());
    req[16] = family;
    req[17] = libc::IPPROTO_TCP as u8;
    req[20..24].copy_from_slice(&TCPF_ALL.to_ne_bytes());
    // SAFETY: sockaddr_nl is plain data; zeroed is a valid value (pid 0 = the kernel).
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: `req` and `addr` are valid for the lengths given.
    let sent = unsafe {
        libc::sendto(
            fd.0,
            req.as_ptr().cast(),
            req.len(),
            0,
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if sent < 0 {
        return Err(sys_err("sendto(NETLINK_INET_DIAG)"));
    }
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::recv(fd.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(sys_err("recv(NETLINK_INET_DIAG)"));
        }
        let data = &buf[..n as usize];
        let mut off = 0;
        while off + 16 <= data.len() {
            let u32_at =
                |o: usize| u32::from_ne_bytes([data[o], data[o + 1], data[o + 2], data[o + 3]]);
            let len = u32_at(off) as usize;
            let ty = u16::from_ne_bytes([data[off + 4], data[off + 5]]);
            if len < 16 || off + len > data.len() {
                return Err(Error::NoData("truncated netlink message".into()));
            }
            match ty {
                NLMSG_DONE => return Ok(()),
                NLMSG_ERROR => {
                    return Err(Error::Syscall {
                        call: "NETLINK_INET_DIAG dump",
                        source: std::io::Error::from_raw_os_error(-(u32_at(off + 16) as i32)),
                    })
                }
                _ if len >= 16 + 64 => {
                    // inet_diag_msg: family, state, timer, retrans, id (48), expires,
                    // rqueue, wqueue, …
                    let p = off + 16;
                    let state = data[p + 1] as usize;
                    let label = STATES
                        .get(state.wrapping_sub(1))
                        .copied()
                        .unwrap_or("unknown");
                    *counts.entry(label).or_default() += 1.0;
                    *counts.entry("rx_queued_bytes").or_default() += f64::from(u32_at(p + 56));
                    *counts.entry("tx_queued_bytes").or_default() += f64::from(u32_at(p + 60));
                }
                _ => {}
            }
            off += (len + 3) & !3;
        }
    }
}

impl Collector for Tcpstat {
    fn name(&self) -> &'static str {
        "tcpstat"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let mut counts = BTreeMap::new();
        dump(libc::AF_INET as u8, &mut counts)?;
        if cfg.proc("net/tcp6").exists() {
            dump(libc::AF_INET6 as u8, &mut counts)?;
        }
        for (state, v) in counts {
            out.family(
                "node_tcp_connection_states",
                "Number of connection states.",
                MetricType::Gauge,
            )
            .add(&[("state", state)], v);
        }
        Ok(())
    }
}
