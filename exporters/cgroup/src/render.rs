//! Turns containers' statistics into cAdvisor's metric families.

use expo::{MetricSet, MetricType};

use crate::stats::Stats;
use crate::{CgroupCollector, Container};

use MetricType::{Counter, Gauge};

/// Per-container families: name, HELP (cAdvisor's), type, value.
type Field = (
    &'static str,
    &'static str,
    MetricType,
    fn(&crate::stats::Stats) -> Option<f64>,
);

const FIELDS: &[Field] = &[
    (
        "container_cpu_user_seconds_total",
        "Cumulative user cpu time consumed",
        Counter,
        |s| s.cpu_user,
    ),
    (
        "container_cpu_system_seconds_total",
        "Cumulative system cpu time consumed",
        Counter,
        |s| s.cpu_system,
    ),
    (
        "container_cpu_cfs_periods_total",
        "Number of elapsed enforcement period intervals",
        Counter,
        |s| s.cfs_periods,
    ),
    (
        "container_cpu_cfs_throttled_periods_total",
        "Number of throttled period intervals",
        Counter,
        |s| s.cfs_throttled_periods,
    ),
    (
        "container_cpu_cfs_throttled_seconds_total",
        "Total time duration the container has been throttled",
        Counter,
        |s| s.cfs_throttled_seconds,
    ),
    (
        "container_memory_usage_bytes",
        "Current memory usage, including all memory regardless of when it was accessed",
        Gauge,
        |s| s.mem_usage,
    ),
    (
        "container_memory_max_usage_bytes",
        "Maximum memory usage recorded",
        Gauge,
        |s| s.mem_max_usage,
    ),
    (
        "container_memory_working_set_bytes",
        "Current working set",
        Gauge,
        |s| s.mem_working_set,
    ),
    ("container_memory_rss", "Size of RSS", Gauge, |s| s.mem_rss),
    (
        "container_memory_cache",
        "Total page cache memory",
        Gauge,
        |s| s.mem_cache,
    ),
    (
        "container_memory_swap",
        "Container swap usage",
        Gauge,
        |s| s.mem_swap,
    ),
    (
        "container_memory_mapped_file",
        "Size of memory mapped files",
        Gauge,
        |s| s.mem_mapped_file,
    ),
    (
        "container_memory_file_dirty_bytes",
        "File cache that has been modified but not yet written back to disk (cgroup v2)",
        Gauge,
        |s| s.mem_dirty,
    ),
    (
        "container_memory_file_writeback_bytes",
        "File cache that is currently being written back to disk (cgroup v2)",
        Gauge,
        |s| s.mem_writeback,
    ),
    (
        "container_memory_kernel_usage",
        "Size of kernel memory allocated in bytes.",
        Gauge,
        |s| s.mem_kernel,
    ),
    (
        "container_memory_failcnt",
        "Number of memory usage hits limits",
        Counter,
        |s| s.mem_failcnt,
    ),
    (
        "container_oom_events_total",
        "Count of out of memory events observed for the container",
        Counter,
        |s| s.oom_kills,
    ),
    (
        "container_processes",
        "Number of processes running inside the container",
        Gauge,
        |s| s.processes,
    ),
    (
        "container_threads",
        "Number of threads running inside the container",
        Gauge,
        |s| s.threads,
    ),
    (
        "container_threads_max",
        "Maximum number of threads allowed inside the container",
        Gauge,
        |s| s.threads_max,
    ),
    (
        "container_spec_cpu_period",
        "CPU period of the container",
        Gauge,
        |s| s.spec_cpu_period,
    ),
    (
        "container_spec_cpu_quota",
        "CPU quota of the container",
        Gauge,
        |s| s.spec_cpu_quota,
    ),
    (
        "container_spec_cpu_shares",
        "CPU share of the container",
        Gauge,
        |s| s.spec_cpu_shares,
    ),
    (
        "container_spec_memory_limit_bytes",
        "Memory limit for the container",
        Gauge,
        |s| s.spec_mem_limit,
    ),
    (
        "container_spec_memory_reservation_limit_bytes",
        "Memory reservation limit for the container",
        Gauge,
        |s| s.spec_mem_reservation,
    ),
    (
        "container_spec_memory_swap_limit_bytes",
        "Memory swap limit for the container",
        Gauge,
        |s| s.spec_swap_limit,
    ),
    (
        "container_start_time_seconds",
        "Start time of the container since unix epoch",
        Gauge,
        |s| s.start_time,
    ),
];

/// Per-device families: name, HELP, value.
type IoField = (
    &'static str,
    &'static str,
    fn(&crate::stats::DeviceIo) -> f64,
);

const IO_FIELDS: &[IoField] = &[
    (
        "container_fs_reads_bytes_total",
        "Cumulative count of bytes read",
        |d| d.read_bytes,
    ),
    (
        "container_fs_writes_bytes_total",
        "Cumulative count of bytes written",
        |d| d.write_bytes,
    ),
    (
        "container_fs_reads_total",
        "Cumulative count of reads completed",
        |d| d.reads,
    ),
    (
        "container_fs_writes_total",
        "Cumulative count of writes completed",
        |d| d.writes,
    ),
];

/// Per-interface families: name, HELP, value.
type NetField = (&'static str, &'static str, fn(&crate::net::Iface) -> f64);

const NET_FIELDS: &[NetField] = &[
    (
        "container_network_receive_bytes_total",
        "Cumulative count of bytes received",
        |i| i.rx_bytes,
    ),
    (
        "container_network_receive_packets_total",
        "Cumulative count of packets received",
        |i| i.rx_packets,
    ),
    (
        "container_network_receive_packets_dropped_total",
        "Cumulative count of packets dropped while receiving",
        |i| i.rx_dropped,
    ),
    (
        "container_network_receive_errors_total",
        "Cumulative count of errors encountered while receiving",
        |i| i.rx_errors,
    ),
    (
        "container_network_transmit_bytes_total",
        "Cumulative count of bytes transmitted",
        |i| i.tx_bytes,
    ),
    (
        "container_network_transmit_packets_total",
        "Cumulative count of packets transmitted",
        |i| i.tx_packets,
    ),
    (
        "container_network_transmit_packets_dropped_total",
        "Cumulative count of packets dropped while transmitting",
        |i| i.tx_dropped,
    ),
    (
        "container_network_transmit_errors_total",
        "Cumulative count of errors encountered while transmitting",
        |i| i.tx_errors,
    ),
];

/// Per-filesystem families: name, HELP, value.
type FsField = (&'static str, &'static str, fn(&crate::fs::FsStat) -> f64);

const FS_FIELDS: &[FsField] = &[
    (
        "container_fs_inodes_free",
        "Number of available Inodes",
        |f| f.inodes_free,
    ),
    ("container_fs_inodes_total", "Number of Inodes", |f| {
        f.inodes
    }),
    (
        "container_fs_limit_bytes",
        "Number of bytes that can be consumed by the container on this filesystem.",
        |f| f.capacity,
    ),
    (
        "container_fs_usage_bytes",
        "Number of bytes that are consumed by the container on this filesystem.",
        |f| f.usage,
    ),
];

/// Families of a filesystem's disk counters: name, HELP, type, index into
/// [`crate::fs::FsStat::disk`], divisor. The times are milliseconds that cAdvisor divides by
/// 1e9 (it treats them as nanoseconds); the same division keeps the values identical.
type FsDiskField = (&'static str, &'static str, MetricType, usize, f64);

const FS_DISK_FIELDS: &[FsDiskField] = &[
    (
        "container_fs_reads_total",
        "Cumulative count of reads completed",
        Counter,
        0,
        1.0,
    ),
    (
        "container_fs_reads_merged_total",
        "Cumulative count of reads merged",
        Counter,
        1,
        1.0,
    ),
    (
        "container_fs_sector_reads_total",
        "Cumulative count of sector reads completed",
        Counter,
        2,
        1.0,
    ),
    (
        "container_fs_read_seconds_total",
        "Cumulative count of seconds spent reading",
        Counter,
        3,
        1e9,
    ),
    (
        "container_fs_writes_total",
        "Cumulative count of writes completed",
        Counter,
        4,
        1.0,
    ),
    (
        "container_fs_writes_merged_total",
        "Cumulative count of writes merged",
        Counter,
        5,
        1.0,
    ),
    (
        "container_fs_sector_writes_total",
        "Cumulative count of sector writes completed",
        Counter,
        6,
        1.0,
    ),
    (
        "container_fs_write_seconds_total",
        "Cumulative count of seconds spent writing",
        Counter,
        7,
        1e9,
    ),
    (
        "container_fs_io_current",
        "Number of I/Os currently in progress",
        Gauge,
        8,
        1.0,
    ),
    (
        "container_fs_io_time_seconds_total",
        "Cumulative count of seconds spent doing I/Os",
        Counter,
        9,
        1e9,
    ),
    (
        "container_fs_io_time_weighted_seconds_total",
        "Cumulative weighted I/O time in seconds",
        Counter,
        10,
        1e9,
    ),
];

/// Pressure families: name, HELP, value.
type PsiField = (&'static str, &'static str, fn(&Stats) -> Option<f64>);

const PSI_FIELDS: &[PsiField] = &[
    (
        "container_pressure_cpu_stalled_seconds_total",
        "Total time duration no tasks in the container could make progress due to CPU congestion.",
        |s| s.psi_cpu.map(|p| p.full),
    ),
    (
        "container_pressure_cpu_waiting_seconds_total",
        "Total time duration tasks in the container have waited due to CPU congestion.",
        |s| s.psi_cpu.map(|p| p.some),
    ),
    (
        "container_pressure_memory_stalled_seconds_total",
        "Total time duration no tasks in the container could make progress due to memory congestion.",
        |s| s.psi_memory.map(|p| p.full),
    ),
    (
        "container_pressure_memory_waiting_seconds_total",
        "Total time duration tasks in the container have waited due to memory congestion.",
        |s| s.psi_memory.map(|p| p.some),
    ),
    (
        "container_pressure_io_stalled_seconds_total",
        "Total time duration no tasks in the container could make progress due to IO congestion.",
        |s| s.psi_io.map(|p| p.full),
    ),
    (
        "container_pressure_io_waiting_seconds_total",
        "Total time duration tasks in the container have waited due to IO congestion.",
        |s| s.psi_io.map(|p| p.some),
    ),
];

/// Adds the families of `containers` (read at `now`, seconds since the epoch) to `set`.
pub fn render(c: &mut CgroupCollector, containers: &[Container], now: f64, set: &mut MetricSet) {
    set.family(
        "container_scrape_error",
        "1 if there was an error while getting container metrics, 0 otherwise",
        Gauge,
    )
    .add(&[], 0.0);
    let mut labels: Vec<(&str, &str)> = Vec::with_capacity(9);
    for ct in containers {
        labels.clear();
        labels.push(("id", &ct.id));
        let m = &ct.meta;
        for (k, v) in [
            ("container", &m.container),
            ("image", &m.image),
            ("name", &m.name),
            ("namespace", &m.namespace),
            ("pod", &m.pod),
        ] {
            if !v.is_empty() {
                labels.push((k, v));
            }
        }
        let s = &ct.stats;
        if let Some(v) = s.cpu_usage {
            labels.push(("cpu", "total"));
            set.family(
                "container_cpu_usage_seconds_total",
                "Cumulative cpu time consumed",
                Counter,
            )
            .add(&labels, v);
            labels.pop();
        }
        for (name, help, kind, get) in FIELDS {
            if let Some(v) = get(s) {
                set.family(name, help, *kind).add(&labels, v);
            }
        }
        set.family(
            "container_last_seen",
            "Last time a container was seen by the exporter",
            Gauge,
        )
        .add(&labels, now);
        for (kind, faults) in [("pgfault", s.pgfault), ("pgmajfault", s.pgmajfault)] {
            let Some((own, hier)) = faults else { continue };
            for (scope, v) in [("container", own), ("hierarchy", hier)] {
                let mut l = labels.clone();
                l.extend([("failure_type", kind), ("scope", scope)]);
                set.family(
                    "container_memory_failures_total",
                    "Cumulative count of memory allocation failures",
                    Counter,
                )
                .add(&l, v);
            }
        }
        for (name, help, get) in PSI_FIELDS {
            if let Some(v) = get(s) {
                set.family(name, help, Counter).add(&labels, v);
            }
        }
        if let Some(t) = &s.tasks {
            for (state, v) in [
                ("sleeping", t.sleeping),
                ("running", t.running),
                ("stopped", t.stopped),
                ("uninterruptible", t.uninterruptible),
                ("iowaiting", t.iowaiting),
            ] {
                let mut l = labels.clone();
                l.push(("state", state));
                set.family(
                    "container_tasks_state",
                    "Number of tasks in given state",
                    Gauge,
                )
                .add(&l, v);
            }
        }
        for iface in ct.network.iter().flat_map(|n| n.iter()) {
            let mut l = labels.clone();
            l.push(("interface", &iface.name));
            for (name, help, get) in NET_FIELDS {
                set.family(name, help, Counter).add(&l, get(iface));
            }
        }
        let mut io_devices = Vec::with_capacity(s.io.len());
        for io in &s.io {
            let dev = c.device_name(io.major, io.minor).to_string();
            io_devices.push(dev.clone());
            let (major, minor) = (io.major.to_string(), io.minor.to_string());
            let mut l = labels.clone();
            l.push(("device", &dev));
            for (name, help, get) in IO_FIELDS {
                set.family(name, help, Counter).add(&l, get(io));
            }
            l.extend([("major", major.as_str()), ("minor", minor.as_str())]);
            for (op, v) in [("Read", io.read_bytes), ("Write", io.write_bytes)] {
                let mut lo = l.clone();
                lo.push(("operation", op));
                set.family(
                    "container_blkio_device_usage_total",
                    "Blkio device bytes usage",
                    Counter,
                )
                .add(&lo, v);
            }
        }
        for f in &ct.filesystems {
            let mut l = labels.clone();
            l.push(("device", &f.device));
            for (name, help, get) in FS_FIELDS {
                set.family(name, help, Gauge).add(&l, get(f));
            }
            for &(name, help, kind, i, divisor) in FS_DISK_FIELDS {
                let from_cgroup = matches!(i, 0 | 4) && io_devices.contains(&f.device);
                if !from_cgroup {
                    set.family(name, help, kind).add(&l, f.disk[i] / divisor);
                }
            }
        }
    }
}
