//! Agent mode end to end: agents with their own node names and fixture proc/sys roots push
//! to one store; a store outage leaves no gap; an agent killed with SIGKILL resends its
//! backlog after a restart.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, label, read, Server};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("exporters/node/tests/fixtures")
        .join(name)
}

/// Copies the directory tree `from` to `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// Starts `vitals agent` for `node` on the fixture tree `root`, pushing to `store`.
fn agent(node: &str, root: &Path, store: &str, dir: &Path) -> Child {
    common::agent_command(node, root, dir)
        .args(["--remote-write.url", &format!("{store}/api/v1/write")])
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawning vitals agent")
}

/// Kills the agents when dropped, so a failing test leaves no process behind.
struct Agents(Vec<Child>);

impl Drop for Agents {
    fn drop(&mut self) {
        for a in &mut self.0 {
            let _ = a.kill();
            let _ = a.wait();
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Timestamps of `up{job="node-exporter", instance=node}` in [start, end].
fn up_ticks(url: &str, node: &str, start: i64, end: i64) -> Vec<i64> {
    read(url, "up", start, end).results[0]
        .timeseries
        .iter()
        .filter(|ts| {
            label(ts, "job") == Some("node-exporter") && label(ts, "instance") == Some(node)
        })
        .flat_map(|ts| ts.samples.iter().map(|s| s.timestamp))
        .collect()
}

fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn three_agents_push_to_one_store() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = Server::start(&dir.path().join("store"), free_port(), &[]);
    // A third tree: the Raspberry Pi's with another load average.
    let third = dir.path().join("tree-c");
    copy_tree(&fixture("rpi"), &third);
    std::fs::write(third.join("proc/loadavg"), "3.25 2.50 1.75 2/300 4242\n").unwrap();
    let trees = [
        ("node-a", fixture("vm")),
        ("node-b", fixture("rpi")),
        ("node-c", third),
    ];
    let _agents = Agents(
        trees
            .iter()
            .map(|(n, t)| agent(n, t, &store.url, &dir.path().join(n)))
            .collect(),
    );
    wait_for("node_load1 from three agents", 30, || {
        read(&store.url, "node_load1", now_ms() - 60_000, now_ms()).results[0]
            .timeseries
            .len()
            == 3
    });
    let resp = read(&store.url, "node_load1", now_ms() - 60_000, now_ms());
    let mut instances: Vec<&str> = resp.results[0]
        .timeseries
        .iter()
        .map(|ts| label(ts, "instance").unwrap())
        .collect();
    instances.sort();
    assert_eq!(instances, ["node-a", "node-b", "node-c"]);
    // Each agent's values are its own fixture's: the three load averages differ.
    let loads: std::collections::BTreeSet<u64> = resp.results[0]
        .timeseries
        .iter()
        .map(|ts| ts.samples[0].value.to_bits())
        .collect();
    assert_eq!(loads.len(), 3);
}

#[test]
fn store_outage_and_agent_sigkill_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let store_dir = dir.path().join("store");
    let (mut store, _) = Server::start(&store_dir, port, &[]);
    let url = store.url.clone();
    let queue = dir.path().join("agent");
    let mut agents = Agents(vec![agent("node-a", &fixture("vm"), &url, &queue)]);
    wait_for("the first samples", 30, || {
        !up_ticks(&url, "node-a", 0, now_ms()).is_empty()
    });
    let first = up_ticks(&url, "node-a", 0, now_ms())[0];

    // The store goes away for a while; the agent keeps collecting into its disk queue.
    store.kill9();
    std::thread::sleep(Duration::from_secs(4));
    // The agent dies too, with its backlog on disk, and comes back.
    let _ = agents.0[0].kill();
    let _ = agents.0[0].wait();
    let killed_at = now_ms();
    agents.0[0] = agent("node-a", &fixture("vm"), &url, &queue);
    std::thread::sleep(Duration::from_secs(3));
    let (store, _) = Server::start(&store_dir, port, &[]);
    let restarted_at = now_ms();
    wait_for("the backlog", 30, || {
        up_ticks(&store.url, "node-a", restarted_at, now_ms() + 1000)
            .iter()
            .any(|&t| t >= restarted_at)
    });
    std::thread::sleep(Duration::from_secs(2));
    let ticks = up_ticks(&store.url, "node-a", first, restarted_at);
    drop(agents);
    // Every 1 s tick from the first to the agent's kill is there (collected while the store
    // was down included), and every tick from the agent's restart on.
    let before: Vec<i64> = ticks
        .iter()
        .copied()
        .filter(|&t| t < killed_at - 1000)
        .collect();
    let want: Vec<i64> = (0..)
        .map(|i| first + i * 1000)
        .take_while(|&t| t < killed_at - 1000)
        .collect();
    assert_eq!(
        before, want,
        "a tick is missing before the agent was killed"
    );
    let after: Vec<i64> = ticks
        .iter()
        .copied()
        .filter(|&t| t > killed_at + 1500)
        .collect();
    assert!(
        after.len() >= 2,
        "ticks after the agent's restart: {after:?}"
    );
    assert!(
        after.windows(2).all(|w| w[1] - w[0] == 1000),
        "gap after the agent's restart: {after:?}"
    );
}
