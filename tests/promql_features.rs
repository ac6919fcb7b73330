//! `--enable-feature` on a running store: `promql-delayed-name-removal` lets
//! `label_replace(rate(…), …, "__name__", …)` see the metric name `rate` drops (off: the
//! name is gone before `label_replace` runs, as in Prometheus without the feature); unknown
//! feature names are accepted (logged) and the flag shows in `/api/v1/status/flags`.

mod common;

use common::{free_port, ts, write, Server};
use remote::prompb::WriteRequest;

const STEP: i64 = 15_000;

/// Two counters with one label set besides the name, 40 samples each.
fn load(url: &str) {
    let mut req = WriteRequest::default();
    for (name, slope) in [("requests_total", 1.0), ("errors_total", 3.0)] {
        for i in 0..40 {
            req.timeseries.push(ts(
                name,
                &[("env", "1".to_string())],
                i * STEP,
                slope * i as f64,
            ));
        }
    }
    assert_eq!(write(url, &req), Ok(204));
}

/// `status`, and the result's label sets (as `{k=v,…}` strings, sorted) or the error text.
fn instant(url: &str, query: &str, t: i64) -> (u16, Result<Vec<String>, String>) {
    let r = ureq::get(&format!("{url}/api/v1/query"))
        .query("query", query)
        .query("time", &(t / 1000).to_string())
        .call();
    let (code, body) = match r {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(c, r)) => (c, r.into_string().unwrap()),
        Err(e) => panic!("{query}: {e}"),
    };
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    if v["status"] != "success" {
        return (
            code,
            Err(v["error"].as_str().unwrap_or_default().to_string()),
        );
    }
    let mut out: Vec<String> = v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let m = s["metric"].as_object().unwrap();
            let kv: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap()))
                .collect();
            format!("{{{}}}", kv.join(","))
        })
        .collect();
    out.sort();
    (code, Ok(out))
}

#[test]
fn delayed_name_removal_flag() {
    let (dir_off, dir_on) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (off, _) = Server::start(dir_off.path(), free_port(), &[]);
    let (on, _) = Server::start(
        dir_on.path(),
        free_port(),
        &[
            "--enable-feature=no-such-feature,promql-delayed-name-removal",
            "--enable-feature",
            "another-unknown",
        ],
    );
    load(&off.url);
    load(&on.url);
    let t = 39 * STEP;
    let q = r#"label_replace(rate({env="1"}[5m]), "name", "rate_$1", "__name__", "(.+)")"#;
    // Off: rate drops both names, so the two results collide.
    let (code, res) = instant(&off.url, q, t);
    assert_eq!(code, 422, "{res:?}");
    assert!(
        res.as_ref().unwrap_err().contains("same labelset"),
        "{res:?}"
    );
    // On: label_replace sees the names; they are removed at the end.
    let (code, res) = instant(&on.url, q, t);
    assert_eq!(code, 200);
    assert_eq!(
        res.unwrap(),
        vec![
            "{env=1,name=rate_errors_total}".to_string(),
            "{env=1,name=rate_requests_total}".to_string()
        ]
    );
    // One metric: off keeps nothing to copy, on copies the name.
    let q1 = r#"label_replace(rate(requests_total[5m]), "name", "$1", "__name__", "(.+)")"#;
    assert_eq!(instant(&off.url, q1, t).1.unwrap(), vec!["{env=1}"]);
    assert_eq!(
        instant(&on.url, q1, t).1.unwrap(),
        vec!["{env=1,name=requests_total}"]
    );
    // Setting `__name__` from the name: off, there is none left to copy; on, it is kept.
    // Plain selectors keep their names either way.
    let q2 = r#"label_replace(rate(requests_total[5m]), "__name__", "r_$1", "__name__", "(.+)")"#;
    assert_eq!(instant(&off.url, q2, t).1.unwrap(), vec!["{env=1}"]);
    assert_eq!(
        instant(&on.url, q2, t).1.unwrap(),
        vec!["{__name__=r_requests_total,env=1}"]
    );
    assert_eq!(
        instant(&on.url, "requests_total", t).1.unwrap(),
        vec!["{__name__=requests_total,env=1}"]
    );
    let flags: serde_json::Value = ureq::get(&format!("{}/api/v1/status/flags", on.url))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    assert_eq!(
        flags["data"]["enable-feature"],
        "no-such-feature,promql-delayed-name-removal,another-unknown"
    );
}
