//! The standard benchmark workload: seeded node_exporter + cAdvisor-like series of simulated
//! hosts at 15 s, generated round by round (one timestamp for every series per round).
#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use remote::prompb::{Label, Sample, TimeSeries, WriteRequest};

/// Scrape interval of the workload (ms).
pub const STEP_MS: i64 = 15_000;

#[derive(Clone, Copy)]
enum Kind {
    /// Counter: increases by rate×15 s, rounded to `decimals`.
    Counter { rate: f64, decimals: i32 },
    /// Integer byte counter with jittery rate.
    Bytes { rate: f64 },
    /// Gauge wandering around a level.
    Gauge {
        level: f64,
        step: f64,
        decimals: i32,
    },
    /// Histogram bucket/count: increments by a few per scrape.
    Bucket { rate: f64 },
}

struct Series {
    labels: Vec<Label>,
    kind: Kind,
    value: f64,
}

/// All series of the workload and their evolving values.
pub struct Workload {
    series: Vec<Series>,
    rng: StdRng,
    /// Series per host.
    pub per_host: usize,
    hosts: usize,
}

fn labels(name: &str, pairs: &[(&str, String)]) -> Vec<Label> {
    let mut l = vec![Label {
        name: "__name__".into(),
        value: name.into(),
    }];
    l.extend(pairs.iter().map(|(n, v)| Label {
        name: (*n).into(),
        value: v.clone(),
    }));
    l.sort_by(|a, b| a.name.cmp(&b.name));
    l
}

impl Workload {
    /// Builds the workload for `hosts` hosts from `seed`.
    pub fn new(hosts: usize, seed: u64) -> Workload {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut series = Vec::new();
        for h in 0..hosts {
            let inst = format!("node-{h:03}.cluster.local:9100");
            let base = |extra: &[(&'static str, String)]| {
                let mut v: Vec<(&'static str, String)> = vec![
                    ("job", "node-exporter".to_string()),
                    ("instance", inst.clone()),
                ];
                v.extend(extra.iter().cloned());
                v
            };
            for cpu in 0..16 {
                for (mode, rate) in [
                    ("idle", 0.7),
                    ("user", 0.15),
                    ("system", 0.06),
                    ("iowait", 0.02),
                    ("irq", 0.001),
                    ("softirq", 0.01),
                    ("nice", 0.001),
                    ("steal", 0.0),
                ] {
                    series.push((
                        labels(
                            "node_cpu_seconds_total",
                            &base(&[("cpu", cpu.to_string()), ("mode", mode.into())]),
                        ),
                        Kind::Counter {
                            rate: rate * rng.gen_range(0.5..1.5),
                            decimals: 2,
                        },
                    ));
                }
            }
            for dev in ["eth0", "lo", "wlan0", "cni0"] {
                for m in [
                    "node_network_receive_bytes_total",
                    "node_network_transmit_bytes_total",
                ] {
                    series.push((
                        labels(m, &base(&[("device", dev.into())])),
                        Kind::Bytes {
                            rate: rng.gen_range(1e3..1e6),
                        },
                    ));
                }
                for m in [
                    "node_network_receive_packets_total",
                    "node_network_transmit_packets_total",
                ] {
                    series.push((
                        labels(m, &base(&[("device", dev.into())])),
                        Kind::Bytes {
                            rate: rng.gen_range(10.0..1e3),
                        },
                    ));
                }
            }
            for dev in ["sda", "sdb", "nvme0n1", "mmcblk0"] {
                for m in [
                    "node_disk_read_bytes_total",
                    "node_disk_written_bytes_total",
                ] {
                    series.push((
                        labels(m, &base(&[("device", dev.into())])),
                        Kind::Bytes {
                            rate: rng.gen_range(1e3..1e7),
                        },
                    ));
                }
                for m in [
                    "node_disk_reads_completed_total",
                    "node_disk_writes_completed_total",
                ] {
                    series.push((
                        labels(m, &base(&[("device", dev.into())])),
                        Kind::Bytes {
                            rate: rng.gen_range(1.0..300.0),
                        },
                    ));
                }
                series.push((
                    labels(
                        "node_disk_io_time_seconds_total",
                        &base(&[("device", dev.into())]),
                    ),
                    Kind::Counter {
                        rate: rng.gen_range(0.001..0.3),
                        decimals: 3,
                    },
                ));
            }
            for i in 0..40 {
                series.push((
                    labels(&format!("node_memory_m{i}_bytes"), &base(&[])),
                    Kind::Gauge {
                        level: rng.gen_range(1e6..8e9f64).round(),
                        step: 4096.0 * rng.gen_range(1.0..50.0f64).round(),
                        decimals: 0,
                    },
                ));
            }
            for (mp, dev, fs) in [
                ("/", "/dev/sda1", "ext4"),
                ("/boot", "/dev/sda2", "vfat"),
                ("/var/lib/kubelet", "/dev/sdb1", "ext4"),
                ("/data", "/dev/nvme0n1p1", "xfs"),
                ("/run", "tmpfs", "tmpfs"),
                ("/mnt/sd", "/dev/mmcblk0p1", "ext4"),
            ] {
                for m in [
                    "node_filesystem_avail_bytes",
                    "node_filesystem_free_bytes",
                    "node_filesystem_size_bytes",
                ] {
                    series.push((
                        labels(
                            m,
                            &base(&[
                                ("device", dev.into()),
                                ("fstype", fs.into()),
                                ("mountpoint", mp.into()),
                            ]),
                        ),
                        Kind::Gauge {
                            level: rng.gen_range(1e8..1e12f64).round(),
                            step: if m.ends_with("size_bytes") {
                                0.0
                            } else {
                                4096.0 * 16.0
                            },
                            decimals: 0,
                        },
                    ));
                }
            }
            for s in 0..8 {
                series.push((
                    labels(
                        "node_hwmon_temp_celsius",
                        &base(&[
                            ("chip", "platform_coretemp_0".into()),
                            ("sensor", format!("temp{s}")),
                        ]),
                    ),
                    Kind::Gauge {
                        level: 45.0,
                        step: 0.5,
                        decimals: 1,
                    },
                ));
            }
            for handler in 0..10 {
                let hl = format!("/api/v{handler}");
                let mut count_rate = 0.0;
                for le in [
                    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
                    "+Inf",
                ] {
                    count_rate += rng.gen_range(0.0..2.0);
                    series.push((
                        labels(
                            "http_request_duration_seconds_bucket",
                            &base(&[("handler", hl.clone()), ("le", le.into())]),
                        ),
                        Kind::Bucket { rate: count_rate },
                    ));
                }
                series.push((
                    labels(
                        "http_request_duration_seconds_sum",
                        &base(&[("handler", hl.clone())]),
                    ),
                    Kind::Counter {
                        rate: count_rate * 0.05,
                        decimals: 3,
                    },
                ));
                series.push((
                    labels(
                        "http_request_duration_seconds_count",
                        &base(&[("handler", hl)]),
                    ),
                    Kind::Bucket { rate: count_rate },
                ));
            }
            let node = format!("node-{h:03}");
            for c in 0..30 {
                let (ns, pod, container) = (
                    ["kube-system", "monitoring", "default", "apps"][c % 4],
                    format!("pod-{h}-{c}"),
                    format!("c{}", c % 3),
                );
                let cl = |extra: &[(&'static str, String)]| {
                    let mut v: Vec<(&'static str, String)> = vec![
                        ("job", "kubelet".to_string()),
                        ("instance", node.clone()),
                        ("metrics_path", "/metrics/cadvisor".to_string()),
                        ("namespace", ns.to_string()),
                        ("pod", pod.clone()),
                        ("container", container.clone()),
                        ("id", format!("/kubepods/burstable/pod{h}x{c}/{container}")),
                    ];
                    v.extend(extra.iter().cloned());
                    v
                };
                for (m, kind) in [
                    (
                        "container_cpu_usage_seconds_total",
                        Kind::Counter {
                            rate: 0.05,
                            decimals: 6,
                        },
                    ),
                    (
                        "container_cpu_user_seconds_total",
                        Kind::Counter {
                            rate: 0.03,
                            decimals: 2,
                        },
                    ),
                    (
                        "container_cpu_system_seconds_total",
                        Kind::Counter {
                            rate: 0.01,
                            decimals: 2,
                        },
                    ),
                    (
                        "container_cpu_cfs_periods_total",
                        Kind::Bucket { rate: 150.0 },
                    ),
                    (
                        "container_cpu_cfs_throttled_periods_total",
                        Kind::Bucket { rate: 1.0 },
                    ),
                    (
                        "container_memory_working_set_bytes",
                        Kind::Gauge {
                            level: 2e8,
                            step: 4096.0 * 8.0,
                            decimals: 0,
                        },
                    ),
                    (
                        "container_memory_rss",
                        Kind::Gauge {
                            level: 1.5e8,
                            step: 4096.0 * 8.0,
                            decimals: 0,
                        },
                    ),
                    (
                        "container_memory_cache",
                        Kind::Gauge {
                            level: 5e7,
                            step: 4096.0 * 4.0,
                            decimals: 0,
                        },
                    ),
                    (
                        "container_memory_usage_bytes",
                        Kind::Gauge {
                            level: 2.5e8,
                            step: 4096.0 * 8.0,
                            decimals: 0,
                        },
                    ),
                    (
                        "container_memory_swap",
                        Kind::Gauge {
                            level: 0.0,
                            step: 0.0,
                            decimals: 0,
                        },
                    ),
                    (
                        "container_spec_memory_limit_bytes",
                        Kind::Gauge {
                            level: 5.36870912e8,
                            step: 0.0,
                            decimals: 0,
                        },
                    ),
                    (
                        "container_spec_cpu_quota",
                        Kind::Gauge {
                            level: 50000.0,
                            step: 0.0,
                            decimals: 0,
                        },
                    ),
                    (
                        "container_spec_cpu_shares",
                        Kind::Gauge {
                            level: 512.0,
                            step: 0.0,
                            decimals: 0,
                        },
                    ),
                    (
                        "container_threads",
                        Kind::Gauge {
                            level: 20.0,
                            step: 1.0,
                            decimals: 0,
                        },
                    ),
                ] {
                    series.push((labels(m, &cl(&[])), kind));
                }
                for dev in ["sda", "nvme0n1"] {
                    for m in [
                        "container_fs_reads_bytes_total",
                        "container_fs_writes_bytes_total",
                        "container_fs_reads_total",
                        "container_fs_writes_total",
                    ] {
                        series.push((
                            labels(m, &cl(&[("device", dev.into())])),
                            Kind::Bytes {
                                rate: rng.gen_range(1.0..1e5),
                            },
                        ));
                    }
                }
                for iface in ["eth0"] {
                    for m in [
                        "container_network_receive_bytes_total",
                        "container_network_transmit_bytes_total",
                        "container_network_receive_packets_total",
                        "container_network_transmit_packets_total",
                        "container_network_receive_errors_total",
                        "container_network_transmit_errors_total",
                    ] {
                        series.push((
                            labels(m, &cl(&[("interface", iface.into())])),
                            Kind::Bytes {
                                rate: rng.gen_range(0.0..1e5),
                            },
                        ));
                    }
                }
                for m in [
                    "container_last_seen",
                    "container_start_time_seconds",
                    "container_oom_events_total",
                    "container_processes",
                    "container_sockets",
                    "container_file_descriptors",
                    "container_ulimits_soft",
                    "container_tasks_state",
                    "container_memory_failcnt",
                    "container_memory_mapped_file",
                    "container_memory_max_usage_bytes",
                    "container_spec_memory_reservation_limit_bytes",
                    "container_spec_memory_swap_limit_bytes",
                    "container_spec_cpu_period",
                    "container_blkio_device_usage_total",
                    "container_pressure_cpu_waiting_seconds_total",
                    "container_pressure_memory_waiting_seconds_total",
                    "container_pressure_io_waiting_seconds_total",
                    "container_memory_kernel_usage",
                    "container_memory_total_active_file_bytes",
                ] {
                    series.push((
                        labels(m, &cl(&[])),
                        Kind::Gauge {
                            level: rng.gen_range(0.0..1e6f64).round(),
                            step: if rng.gen_bool(0.5) { 0.0 } else { 1.0 },
                            decimals: 0,
                        },
                    ));
                }
            }
        }
        let per_host = series.len() / hosts.max(1);
        let series = series
            .into_iter()
            .map(|(labels, kind)| {
                let value = match kind {
                    Kind::Counter { .. } | Kind::Bytes { .. } | Kind::Bucket { .. } => {
                        rng.gen_range(0.0..1e6f64).round()
                    }
                    Kind::Gauge { level, .. } => level,
                };
                Series {
                    labels,
                    kind,
                    value,
                }
            })
            .collect();
        Workload {
            series,
            rng,
            per_host,
            hosts,
        }
    }

    /// Total number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// True when there are no series.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Advances every series one scrape and returns the round as requests of about `per_request` series.
    pub fn round(&mut self, t: i64, per_request: usize) -> Vec<WriteRequest> {
        self.advance();
        self.series
            .chunks(per_request)
            .map(|part| WriteRequest {
                timeseries: part
                    .iter()
                    .map(|s| TimeSeries {
                        labels: s.labels.clone(),
                        samples: vec![Sample {
                            value: s.value,
                            timestamp: t,
                        }],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect()
    }

    /// Labels of series `i` (sorted by name).
    pub fn labels(&self, i: usize) -> &[Label] {
        &self.series[i].labels
    }

    /// Advances every series one scrape (as [`Workload::round`] does) and returns the values
    /// in series order, without building requests.
    pub fn next_values(&mut self) -> Vec<f64> {
        self.advance();
        self.series.iter().map(|s| s.value).collect()
    }

    /// Advances every series one scrape.
    fn advance(&mut self) {
        let scale = 10f64;
        for s in &mut self.series {
            s.value = match s.kind {
                Kind::Counter { rate, decimals } => {
                    let p = scale.powi(decimals);
                    ((s.value + rate * 15.0 * self.rng.gen_range(0.8..1.2)) * p).round() / p
                }
                Kind::Bytes { rate } => {
                    (s.value + (rate * 15.0 * self.rng.gen_range(0.5..1.5)).round()).round()
                }
                Kind::Bucket { rate } => s.value + (rate * self.rng.gen_range(0.0..2.0)).round(),
                Kind::Gauge {
                    level,
                    step,
                    decimals,
                } => {
                    if step == 0.0 {
                        s.value
                    } else {
                        let p = scale.powi(decimals);
                        let v = s.value
                            + step * self.rng.gen_range(-1.0..1.0)
                            + (level - s.value) * 0.05;
                        (v * p).round() / p
                    }
                }
            };
        }
    }

    /// Number of hosts.
    pub fn hosts(&self) -> usize {
        self.hosts
    }
}
