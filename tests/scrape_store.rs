//! `vitals store --config.file` scrapes the config's `scrape_configs` into its TSDB: a real
//! `prometheus-node-exporter` and a tiny test target, `up` per target, target and metric
//! relabeling visible in the labels, staleness markers for a target that goes away, and
//! the same series set (label names and values) as the real Prometheus scraping the same
//! static target with the same config. SIGHUP reloads the scrape jobs.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, peer_binary, series_labels as series, Server};

/// Serves `body` as text 0.0.4 on every request; returns `host:port`.
fn tiny_target(body: &'static str) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                line.clear();
            }
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

/// Kills the child on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn query(url: &str, q: &str) -> Vec<serde_json::Value> {
    let r: serde_json::Value = ureq::get(&format!("{url}/api/v1/query"))
        .query("query", q)
        .call()
        .expect("query")
        .into_json()
        .unwrap();
    assert_eq!(r["status"], "success", "{r}");
    r["data"]["result"].as_array().unwrap().clone()
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn label<'a>(v: &'a serde_json::Value, name: &str) -> &'a str {
    v["metric"][name].as_str().unwrap_or("")
}

const DEMO: &str = "# TYPE demo_requests_total counter\n\
demo_requests_total{path=\"/a\",Method=\"GET\"} 5\n\
demo_temp{job=\"inner\"} 3\n\
demo_drop_me 1\n";

fn demo_job(target: &str) -> String {
    format!(
        "- job_name: demo
  static_configs: [{{targets: ['{target}'], labels: {{env: Prod}}}}]
  relabel_configs:
  - {{source_labels: [env], target_label: env_lower, action: lowercase}}
  - {{source_labels: [env], target_label: env_upper, action: uppercase}}
  - {{source_labels: [__address__], target_label: shard, modulus: 4, action: hashmod}}
  - {{source_labels: [job], regex: '(.*)', target_label: team, replacement: 'team-$1'}}
  - {{source_labels: [job], target_label: job, action: keepequal}}
  - {{source_labels: [env], target_label: env_lower, action: dropequal}}
  - {{source_labels: [env], regex: 'Staging', action: drop}}
  - {{source_labels: [env], regex: 'Prod', action: keep}}
  metric_relabel_configs:
  - {{source_labels: [__name__], regex: demo_drop_me, action: drop}}
  - {{regex: Method, replacement: method, action: labelmap}}
  - {{regex: Method, action: labeldrop}}
  - {{regex: '__name__|path|method|env.*|job|exported_job|instance|shard|team', action: labelkeep}}
"
    )
}

#[test]
fn store_scrapes_targets_with_relabeling_and_staleness() {
    let Some(ne_bin) = peer_binary("prometheus-node-exporter") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ne_port = free_port();
    let _ne = Proc(
        Command::new(ne_bin)
            .arg(format!("--web.listen-address=127.0.0.1:{ne_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let demo = tiny_target(DEMO);
    let gone = tiny_target("gone_metric 1\n");
    let sd = dir.path().join("sd.json");
    std::fs::write(&sd, format!(r#"[{{"targets": ["{gone}"]}}]"#)).unwrap();
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
- job_name: node
  static_configs: [{{targets: ['127.0.0.1:{ne_port}']}}]
{}- job_name: gone
  file_sd_configs: [{{files: [sd.json], refresh_interval: 1s}}]
",
            demo_job(&demo)
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let (s, _) = Server::start(
        &data,
        free_port(),
        &[&format!("--config.file={}", cfg.display())],
    );

    wait_for("up of three targets", 30, || {
        let up = query(&s.url, "up == 1");
        up.len() == 3
    });
    let up = query(&s.url, "up");
    let mut jobs: Vec<&str> = up.iter().map(|v| label(v, "job")).collect();
    jobs.sort();
    assert_eq!(jobs, ["demo", "gone", "node"]);
    assert!(up
        .iter()
        .any(|v| label(v, "instance") == format!("127.0.0.1:{ne_port}")));
    wait_for("node-exporter metrics", 30, || {
        !query(&s.url, "node_load1{job=\"node\"}").is_empty()
    });
    assert!(!query(&s.url, "scrape_duration_seconds{job=\"node\"}").is_empty());
    assert!(
        query(&s.url, "scrape_samples_scraped{job=\"node\"}")[0]["value"][1]
            .as_str()
            .unwrap()
            .parse::<f64>()
            .unwrap()
            > 50.0
    );

    // Relabeling is visible.
    let r = query(&s.url, "demo_requests_total");
    assert_eq!(r.len(), 1);
    let m = &r[0];
    assert_eq!(label(m, "env"), "Prod");
    assert_eq!(label(m, "env_lower"), "prod");
    assert_eq!(label(m, "env_upper"), "PROD");
    assert_eq!(label(m, "team"), "team-demo");
    assert_eq!(label(m, "method"), "GET");
    assert_eq!(label(m, "Method"), "");
    assert!(label(m, "shard").parse::<u8>().unwrap() < 4);
    assert_eq!(
        label(&query(&s.url, "demo_temp")[0], "exported_job"),
        "inner"
    );
    assert!(query(&s.url, "demo_drop_me").is_empty());
    assert_eq!(
        query(
            &s.url,
            "scrape_samples_post_metric_relabeling{job=\"demo\"}"
        )[0]["value"][1],
        "2"
    );

    // The file SD target goes away: staleness markers end its series at once (without
    // them they would stay visible for the 5 m lookback).
    assert!(!query(&s.url, "gone_metric").is_empty());
    std::fs::write(&sd, "[]").unwrap();
    wait_for("staleness of the removed target", 20, || {
        query(&s.url, "gone_metric").is_empty() && query(&s.url, "up{job=\"gone\"}").is_empty()
    });
    assert_eq!(query(&s.url, "up").len(), 2);

    // SIGHUP reloads the scrape jobs: the node job removed from the file goes stale.
    std::fs::write(
        &cfg,
        format!(
            "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\nscrape_configs:\n{}",
            demo_job(&demo)
        ),
    )
    .unwrap();
    // SAFETY: signalling our own child process.
    unsafe {
        libc::kill(s.child.id() as i32, libc::SIGHUP);
    }
    wait_for("the removed node job to go stale", 20, || {
        query(&s.url, "up{job=\"node\"}").is_empty()
    });
    assert_eq!(query(&s.url, "up == 1").len(), 1);
    drop(s);

    compare_with_prometheus(&dir, &demo);
}

/// The real Prometheus scraping the demo target with the same job stores the same series.
fn compare_with_prometheus(dir: &tempfile::TempDir, demo: &str) {
    let Some(bin) = peer_binary("prometheus") else {
        return;
    };
    let cfg_text = format!(
        "global: {{scrape_interval: 1s, scrape_timeout: 1s}}\nscrape_configs:\n{}",
        demo_job(demo)
    );
    let pdir = dir.path().join("p");
    std::fs::create_dir_all(&pdir).unwrap();
    let cfg = pdir.join("prometheus.yml");
    std::fs::write(&cfg, &cfg_text).unwrap();
    let pport = free_port();
    let _prom = Proc(
        Command::new(bin)
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                pdir.join("prom").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let purl = format!("http://127.0.0.1:{pport}");
    let vdir = dir.path().join("v");
    let (v, _) = Server::start(
        &vdir,
        free_port(),
        &[&format!("--config.file={}", cfg.display())],
    );
    let sel = "{job=\"demo\"}";
    wait_for("both scraped the demo target", 60, || {
        let ok = |u: &str| {
            ureq::get(&format!("{u}/api/v1/series"))
                .query("match[]", sel)
                .call()
                .is_ok_and(|r| r.status() == 200)
        };
        ok(&purl) && ok(&v.url) && series(&purl, sel).len() >= 7 && series(&v.url, sel).len() >= 7
    });
    let (p, ours) = (series(&purl, sel), series(&v.url, sel));
    assert_eq!(ours, p, "series of job demo differ from Prometheus'");
}
