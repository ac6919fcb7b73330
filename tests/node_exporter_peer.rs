//! Differential test against the real node_exporter (Debian `prometheus-node-exporter`):
//! both run on this machine; every family node_exporter exposes (bar the ignored ones
//! below) must be exposed by `vitals node-exporter` with the same type, label names, label
//! values per series, and values within tolerance. node_exporter is scraped before and after
//! Vitals, so a counter must lie between its two reads; HELP texts must be identical. `promtool check metrics` on Vitals'
//! output may only report the naming lints node_exporter's own names trigger.
//! Skips loudly without the peer on PATH; fails instead when VITALS_REQUIRE_PEERS=1.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::{Command, Stdio};

use common::exporter::{get, get_gzip, wait_ready, Proc};
use common::{free_port, peer_binary};
use expo::MetricType;

/// Families not compared, with the reason.
const IGNORED: &[(&str, &str)] = &[
    ("go_", "Go runtime of node_exporter"),
    ("process_", "process metrics of the exporter itself"),
    ("promhttp_", "HTTP handler metrics of node_exporter"),
    ("node_exporter_build_info", "build of the peer binary"),
    ("node_systemd_", "systemd collector: out of scope (issue 4)"),
    (
        "node_bcache_",
        "bcache collector not implemented (crate README)",
    ),
    ("node_btrfs_", "btrfs collector not implemented"),
    ("node_dmi_", "dmi collector not implemented"),
    ("node_edac_", "edac collector not implemented"),
    (
        "node_fibrechannel_",
        "fibrechannel collector not implemented",
    ),
    ("node_infiniband_", "infiniband collector not implemented"),
    ("node_ipvs_", "ipvs collector not implemented"),
    ("node_nfs_", "nfs collector not implemented"),
    ("node_nfsd_", "nfsd collector not implemented"),
    ("node_nvme_", "nvme collector not implemented"),
    (
        "node_power_supply_",
        "powersupplyclass collector not implemented",
    ),
    ("node_rapl_", "rapl collector not implemented"),
    ("node_tape_", "tapestats collector not implemented"),
    ("node_xfs_", "xfs collector not implemented"),
    ("node_zfs_", "zfs collector not implemented"),
];

/// Collectors node_exporter runs that Vitals does not (see IGNORED).
const MISSING_COLLECTORS: &[&str] = &[
    "bcache",
    "btrfs",
    "dmi",
    "edac",
    "fibrechannel",
    "infiniband",
    "ipvs",
    "nfs",
    "nfsd",
    "nvme",
    "rapl",
    "systemd",
    "tapestats",
    "xfs",
    "zfs",
];

/// Collectors only Vitals runs (documented in exporters/node/README.md).
const EXTRA_COLLECTORS: &[&str] = &["rpi_throttled"];

/// (family prefix, absolute, relative) tolerance beyond the [first, second] bracket of
/// node_exporter's two reads, for values that move between reads; first match wins.
const TOLERANCE: &[(&str, f64, f64)] = &[
    ("node_scrape_collector_duration_seconds", f64::INFINITY, 0.0),
    ("node_time_seconds", 1.0, 0.0),
    // iowait can go backwards (kernel accounting), the rest moves by ticks.
    ("node_cpu_seconds_total", 1.0, 0.0),
    ("node_load", 0.5, 0.0),
    ("node_memory_", 8.0 * 1048576.0, 0.05),
    ("node_vmstat_", 1000.0, 0.01),
    ("node_procs_", 20.0, 0.0),
    ("node_filefd_allocated", 200.0, 0.0),
    ("node_sockstat_", 10.0, 0.05),
    ("node_netstat_", 100.0, 0.01),
    ("node_filesystem_", 64.0 * 1048576.0, 0.01),
    ("node_disk_io_now", 64.0, 0.0),
    ("node_udp_queues", 1048576.0, 0.0),
    ("node_nf_conntrack_", 20.0, 0.0),
    ("node_entropy_available_bits", 256.0, 0.0),
    ("node_timex_", 0.001, 0.01),
    ("node_pressure_", 0.5, 0.0),
    ("node_processes_", 50.0, 0.05),
    // The scrapes themselves open and close connections.
    ("node_tcp_connection_states", 20.0, 0.5),
];

/// Families whose set of series moves between reads (process states come and go): only
/// label names and the values of series both sides have are compared.
const VOLATILE_SERIES: &[&str] = &[
    "node_processes_state",
    "node_processes_threads_state",
    "node_tcp_connection_states",
];

type Series = BTreeMap<Vec<(String, String)>, f64>;

struct Fam {
    kind: MetricType,
    help: Option<String>,
    series: Series,
}

fn families(text: &str) -> BTreeMap<String, Fam> {
    let parsed = expo::parse(text).unwrap_or_else(|e| panic!("unparsable exposition: {e}"));
    parsed
        .into_iter()
        .filter(|f| !f.samples.is_empty())
        .map(|f| {
            let series = f
                .samples
                .iter()
                .map(|s| {
                    let mut l = s.labels.clone();
                    if !s.suffix.is_empty() {
                        l.push(("__suffix__".into(), s.suffix.clone()));
                    }
                    l.sort();
                    (l, s.value)
                })
                .collect();
            (
                f.name,
                Fam {
                    kind: f.kind,
                    help: f.help,
                    series,
                },
            )
        })
        .collect()
}

fn ignored(name: &str) -> bool {
    IGNORED.iter().any(|(p, _)| name.starts_with(p))
}

fn tolerance(name: &str) -> (f64, f64) {
    TOLERANCE
        .iter()
        .find(|(p, _, _)| name.starts_with(p))
        .map(|&(_, a, r)| (a, r))
        .unwrap_or((1e-9, 1e-9))
}

#[test]
fn vitals_matches_node_exporter() {
    let Some(peer) = peer_binary("prometheus-node-exporter") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let tf = dir.path().join("textfile");
    std::fs::create_dir(&tf).unwrap();
    std::fs::write(
        tf.join("app.prom"),
        "# HELP app_jobs_total Jobs done.\n# TYPE app_jobs_total counter\napp_jobs_total{queue=\"a\"} 5\napp_jobs_total{queue=\"b\",prio=\"hi\"} 7\nplain_value 1.5\n",
    )
    .unwrap();
    let (pport, vport) = (free_port(), free_port());
    // Debian patches two defaults; give the peer upstream's so both run the same config.
    let peer_proc = Proc(
        Command::new(peer)
            .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
            .arg(format!("--collector.textfile.directory={}", tf.display()))
            .arg("--collector.filesystem.mount-points-exclude=^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)")
            .arg("--collector.netdev.device-exclude=")
            .args(["--collector.interrupts", "--collector.processes", "--collector.tcpstat"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning node_exporter"),
    );
    let vitals_proc = Proc(
        Command::new(env!("CARGO_BIN_EXE_vitals"))
            .args(["node-exporter", "--web.listen-address"])
            .arg(format!("127.0.0.1:{vport}"))
            .arg(format!("--collector.textfile.directory={}", tf.display()))
            .args([
                "--collector.interrupts",
                "--collector.processes",
                "--collector.tcpstat",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawning vitals node-exporter"),
    );
    let purl = format!("http://127.0.0.1:{pport}/metrics");
    let vurl = format!("http://127.0.0.1:{vport}/metrics");
    wait_ready(&purl);
    wait_ready(&vurl);
    // Warm both up (first scrapes initialise caches), then bracket Vitals' read.
    let _ = get(&purl, None);
    let _ = get(&vurl, None);
    let before = families(&get(&purl, None).unwrap().1);
    let (vheaders, vtext) = get_gzip(vport, "/metrics");
    let after = families(&get(&purl, None).unwrap().1);
    assert!(
        vheaders.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{vheaders}"
    );
    let ours = families(&vtext);

    let mut problems = Vec::new();
    let mut compared = 0;
    let mut skipped = BTreeSet::new();
    for (name, theirs) in &before {
        if ignored(name) {
            skipped.insert(name.clone());
            continue;
        }
        let Some(mine) = ours.get(name) else {
            problems.push(format!("{name}: missing in Vitals"));
            continue;
        };
        compared += 1;
        if mine.kind != theirs.kind {
            problems.push(format!("{name}: type {:?} vs {:?}", mine.kind, theirs.kind));
        }
        if mine.help != theirs.help {
            problems.push(format!("{name}: HELP {:?} vs {:?}", mine.help, theirs.help));
        }
        let label_names = |s: &Series| -> BTreeSet<String> {
            s.keys().flatten().map(|(n, _)| n.clone()).collect()
        };
        if label_names(&mine.series) != label_names(&theirs.series) {
            problems.push(format!(
                "{name}: label names {:?} vs {:?}",
                label_names(&mine.series),
                label_names(&theirs.series)
            ));
            continue;
        }
        let scrape_meta = name.starts_with("node_scrape_collector_");
        for (labels, &v1) in &theirs.series {
            if scrape_meta
                && labels
                    .iter()
                    .any(|(n, v)| n == "collector" && MISSING_COLLECTORS.contains(&v.as_str()))
            {
                continue;
            }
            let Some(&mine_v) = mine.series.get(labels) else {
                if VOLATILE_SERIES.contains(&name.as_str()) {
                    continue;
                }
                problems.push(format!("{name}{labels:?}: series missing in Vitals"));
                continue;
            };
            let v2 = after
                .get(name)
                .and_then(|f| f.series.get(labels))
                .copied()
                .unwrap_or(v1);
            let queued = labels
                .iter()
                .any(|(n, v)| n == "state" && v.ends_with("_queued_bytes"));
            // Bytes waiting in socket queues move with whatever else the machine sends.
            let (abs, rel) = if queued {
                (16.0 * 1048576.0, 0.5)
            } else {
                tolerance(name)
            };
            let (lo, hi) = (v1.min(v2), v1.max(v2));
            let slack = abs.max(rel * lo.abs().max(hi.abs()));
            let ok =
                (v1.is_nan() && mine_v.is_nan()) || (mine_v >= lo - slack && mine_v <= hi + slack);
            if !ok {
                problems.push(format!(
                    "{name}{labels:?}: Vitals {mine_v} outside node_exporter's [{v1}, {v2}] ± {slack}"
                ));
            }
        }
        for labels in mine.series.keys() {
            if scrape_meta
                && labels
                    .iter()
                    .any(|(n, v)| n == "collector" && EXTRA_COLLECTORS.contains(&v.as_str()))
            {
                continue;
            }
            if !theirs.series.contains_key(labels)
                && !VOLATILE_SERIES.contains(&name.as_str())
                && !after
                    .get(name)
                    .is_some_and(|f| f.series.contains_key(labels))
            {
                problems.push(format!("{name}{labels:?}: series only in Vitals"));
            }
        }
    }
    eprintln!(
        "node_exporter peer: {compared} families compared; ignored {}: {:?}",
        skipped.len(),
        skipped
            .iter()
            .filter(|n| !n.starts_with("go_"))
            .collect::<Vec<_>>()
    );
    assert!(compared > 100, "only {compared} families compared");
    assert!(
        problems.is_empty(),
        "{} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );

    // OpenMetrics by Accept.
    let (otype, otext) = get(
        &vurl,
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    )
    .unwrap();
    assert!(otype.starts_with("application/openmetrics-text; version=1.0.0"));
    assert!(otext.ends_with("# EOF\n"));
    assert!(otext.contains("# TYPE node_cpu_seconds counter\n"));

    promtool_check(&vtext, &get(&purl, None).unwrap().1);
    drop(vitals_proc);
    drop(peer_proc);
}

/// Newer node_exporter names Vitals exports by default whose CamelCase promtool flags.
const NEWER_NAMES: &[&str] = &[
    "node_netstat_TcpExt_TCPOFOQueue",
    "node_netstat_TcpExt_TCPRcvQDrop",
];

fn promtool(text: &str) -> Option<Vec<String>> {
    let bin = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("promtool"))
            .find(|c| c.is_file())
    })?;
    let mut child = Command::new(bin)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let all =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Some(
        all.lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect(),
    )
}

fn promtool_check(ours: &str, theirs: &str) {
    let Some(mine) = promtool(ours) else {
        eprintln!("\n!!! SKIPPED: promtool not on PATH; Vitals' /metrics not linted !!!\n");
        return;
    };
    let peer: BTreeSet<String> = promtool(theirs).unwrap_or_default().into_iter().collect();
    let unexpected: Vec<&String> = mine
        .iter()
        .filter(|l| {
            !peer.contains(*l)
                && !NEWER_NAMES.iter().any(|n| {
                    l.starts_with(&format!(
                        "{n} metric names should be written in 'snake_case'"
                    ))
                })
        })
        .collect();
    eprintln!(
        "promtool check metrics: {} lines for Vitals, all naming lints shared with node_exporter's names: {}",
        mine.len(),
        unexpected.is_empty()
    );
    assert!(
        unexpected.is_empty(),
        "promtool problems not explained by node_exporter's own names:\n{unexpected:?}"
    );
}
