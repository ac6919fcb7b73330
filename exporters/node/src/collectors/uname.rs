//! `uname`: `node_uname_info` from uname(2).

use std::ffi::CStr;

use expo::{MetricSet, MetricType};

use crate::{Collector, Config, Error};

/// The `uname` collector.
pub struct Uname;

fn field(f: &[libc::c_char]) -> String {
    // SAFETY: utsname fields are NUL-terminated within their fixed-size arrays.
    unsafe { CStr::from_ptr(f.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

impl Collector for Uname {
    fn name(&self) -> &'static str {
        "uname"
    }

    fn update(&mut self, _cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        // SAFETY: uname fills the zeroed struct.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut u) } != 0 {
            return Err(Error::Syscall {
                call: "uname",
                source: std::io::Error::last_os_error(),
            });
        }
        out.family(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
            MetricType::Gauge,
        )
        .add(
            &[
                ("sysname", &field(&u.sysname)),
                ("release", &field(&u.release)),
                ("version", &field(&u.version)),
                ("machine", &field(&u.machine)),
                ("nodename", &field(&u.nodename)),
                ("domainname", &field(&u.domainname)),
            ],
            1.0,
        );
        Ok(())
    }
}
