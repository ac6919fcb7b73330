//! The TSDB admin API's `delete_series` and `clean_tombstones` against a running store: deleted
//! series vanish from queries, `/api/v1/series`, label values and remote-read at once, other
//! series stay whole, and the deletion survives `kill -9` and cleaning.

mod common;

use common::{free_port, read, series_labels, ts, write, Server};
use remote::prompb::WriteRequest;

const STEP: i64 = 15_000;
const POINTS: i64 = 40;

/// Status and body of a POST or PUT with query parameters `q`.
fn send(method: &str, url: &str, q: &[(&str, &str)]) -> (u16, String) {
    let mut r = ureq::request(method, url);
    for (k, v) in q {
        r = r.query(k, v);
    }
    match r.call() {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(e) => panic!("{method} {url}: {e}"),
    }
}

fn get_json(url: &str, path: &str, q: &[(&str, &str)]) -> serde_json::Value {
    let mut r = ureq::get(&format!("{url}{path}"));
    for (k, v) in q {
        r = r.query(k, v);
    }
    let v: serde_json::Value = r.call().expect(path).into_json().unwrap();
    assert_eq!(v["status"], "success", "{v}");
    v["data"].clone()
}

/// Values of label `i` over `/api/v1/series`, `/api/v1/label/i/values`, the query API and
/// remote-read; asserts they agree and returns them with each series' sample count.
fn visible(url: &str, start: i64) -> Vec<(String, usize)> {
    let end = start + POINTS * STEP;
    let from_series: Vec<String> = series_labels(url, "del_test")
        .into_iter()
        .map(|l| l.into_iter().find(|(k, _)| k == "i").unwrap().1)
        .collect();
    let values = get_json(url, "/api/v1/label/i/values", &[]);
    let values: Vec<String> = serde_json::from_value(values).unwrap();
    assert_eq!(values, from_series, "label values");
    let q = get_json(
        url,
        "/api/v1/query",
        &[
            ("query", "count_over_time(del_test[1h])"),
            ("time", &((end as f64) / 1000.0).to_string()),
        ],
    );
    let mut from_query: Vec<(String, usize)> = q["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let n: usize = r["value"][1].as_str().unwrap().parse().unwrap();
            (r["metric"]["i"].as_str().unwrap().to_string(), n)
        })
        .collect();
    from_query.sort();
    let rr = read(url, "del_test", start - 1, end);
    let mut from_read: Vec<(String, usize)> = rr.results[0]
        .timeseries
        .iter()
        .map(|t| {
            let i = common::label(t, "i").unwrap().to_string();
            (i, t.samples.len())
        })
        .collect();
    from_read.sort();
    assert_eq!(from_query, from_read, "query and remote-read");
    let names: Vec<String> = from_read.iter().map(|x| x.0.clone()).collect();
    assert_eq!(names, from_series, "series and remote-read");
    from_read
}

#[test]
fn delete_series_and_clean_tombstones_survive_kill9() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let args = ["--web.enable-admin-api"];
    let (mut server, _) = Server::start(dir.path(), port, &args);
    let url = server.url.clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let start = (now / STEP) * STEP - 30 * 60_000;
    for k in 0..POINTS {
        let req = WriteRequest {
            timeseries: (0..3)
                .map(|i| ts("del_test", &[("i", i.to_string())], start + k * STEP, 1.0))
                .chain(std::iter::once(ts("keep_me", &[], start + k * STEP, 2.0)))
                .collect(),
            ..Default::default()
        };
        assert_eq!(write(&url, &req), Ok(204));
    }
    let n = POINTS as usize;
    let all =
        |v: &[&str]| -> Vec<(String, usize)> { v.iter().map(|i| (i.to_string(), n)).collect() };
    assert_eq!(visible(&url, start), all(&["0", "1", "2"]));

    let admin = format!("{url}/api/v1/admin/tsdb");
    let (code, body) = send("POST", &format!("{admin}/delete_series"), &[]);
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("bad_data") && body.contains("match[]"),
        "{body}"
    );
    let (code, body) = send(
        "POST",
        &format!("{admin}/delete_series"),
        &[("match[]", "del_test{i=\"1\"}")],
    );
    assert_eq!((code, body.as_str()), (204, ""));
    // Ten points of i="0" go too (inclusive range, seconds as the API takes them).
    let (a, z) = (start + 10 * STEP, start + 19 * STEP);
    let (a, z) = (
        (a as f64 / 1000.0).to_string(),
        (z as f64 / 1000.0).to_string(),
    );
    let q = [("match[]", "del_test{i=\"0\"}"), ("start", &a), ("end", &z)];
    let partial = send("PUT", &format!("{admin}/delete_series"), &q);
    assert_eq!(partial.0, 204, "{}", partial.1);
    let want = vec![("0".to_string(), n - 10), ("2".to_string(), n)];
    assert_eq!(visible(&url, start), want);
    let keep = series_labels(&url, "keep_me");
    assert_eq!(keep.len(), 1, "another metric is untouched");

    server.kill9();
    let (mut server, _) = Server::start(dir.path(), port, &args);
    assert_eq!(visible(&url, start), want, "after kill -9");

    assert_eq!(
        send("POST", &format!("{admin}/clean_tombstones"), &[]).0,
        204
    );
    assert_eq!(visible(&url, start), want, "after clean_tombstones");
    server.kill9();
    let (mut server, _) = Server::start(dir.path(), port, &args);
    assert_eq!(
        visible(&url, start),
        want,
        "after clean_tombstones and kill -9"
    );
    // A clean shutdown (head snapshot) keeps the deletion too.
    server.terminate();
    let (server, _) = Server::start(dir.path(), port, &args);
    assert_eq!(visible(&url, start), want, "after a clean shutdown");
    assert_eq!(series_labels(&url, "keep_me").len(), 1);
    drop(server);

    // Without --web.enable-admin-api: Prometheus' "admin APIs disabled".
    let (_server, _) = Server::start(dir.path(), port, &[]);
    let (code, body) = send(
        "POST",
        &format!("{admin}/delete_series"),
        &[("match[]", "keep_me")],
    );
    assert_eq!(code, 503);
    assert!(body.contains("admin APIs disabled"), "{body}");
    assert_eq!(
        send("PUT", &format!("{admin}/clean_tombstones"), &[]).0,
        503
    );
    assert_eq!(series_labels(&url, "keep_me").len(), 1);
}
