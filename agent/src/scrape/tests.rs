use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Mutex;

use super::*;
use crate::config::HttpClientConfig;
use crate::relabel::{compile_all, RelabelConfig};

/// Records every batch.
#[derive(Default)]
pub(crate) struct Rec(pub Mutex<Vec<Vec<Sample>>>);

impl Appender for Rec {
    fn append(&self, batch: &[Sample]) -> Result<(), String> {
        self.0.lock().unwrap().push(batch.to_vec());
        Ok(())
    }
}

/// Serves the bodies in turn (the last one repeats), each with `content_type`; records
/// request headers.
pub(crate) fn serve(bodies: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let h2 = heads.clone();
    std::thread::spawn(move || {
        for (i, c) in l.incoming().enumerate() {
            let Ok(mut c) = c else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            h2.lock().unwrap().push(head);
            let (code, body) = bodies[i.min(bodies.len() - 1)];
            if let Some(plain) = body.strip_prefix("GZIP:") {
                let mut enc =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                enc.write_all(plain.as_bytes()).unwrap();
                let gz = enc.finish().unwrap();
                let _ = write!(
                    c,
                    "HTTP/1.1 {code} X\r\nContent-Type: text/plain\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    gz.len()
                );
                let _ = c.write_all(&gz);
                continue;
            }
            let ct = if body.ends_with("# EOF\n") {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            } else {
                "text/plain; version=0.0.4"
            };
            let _ = write!(
                c,
                "HTTP/1.1 {code} X\r\nContent-Type: {ct}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, heads)
}

fn target(addr: &str) -> Target {
    Target {
        labels: vec![("instance".into(), addr.into()), ("job".into(), "j".into())],
        url: format!("http://{addr}/metrics"),
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(5),
    }
}

fn lp(s: &Series) -> String {
    s.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn run_scrapes(
    bodies: Vec<(u16, &'static str)>,
    opts: Options,
    n: usize,
) -> (Vec<Vec<Sample>>, Vec<String>) {
    let (addr, heads) = serve(bodies);
    let rec = Arc::new(Rec::default());
    let client = Client::new(&HttpClientConfig::default(), Duration::from_secs(5)).unwrap();
    let mut l = Loop::new(target(&addr), opts, client, rec.clone());
    for i in 0..n {
        l.scrape(10_000 * (i as i64 + 1));
    }
    let batches = rec.0.lock().unwrap().clone();
    let h = heads.lock().unwrap().clone();
    (batches, h)
}

fn value(b: &[Sample], series: &str) -> Option<f64> {
    b.iter().find(|s| lp(&s.0) == series).map(|s| s.2)
}

fn opts() -> Options {
    Options {
        honor_timestamps: true,
        ..Default::default()
    }
}

#[test]
fn report_series_staleness_and_timestamps() {
    let first = "# TYPE a counter\na{x=\"1\"} 1\na{x=\"2\"} 2\nb 5 1234\n";
    let second = "# TYPE a counter\na{x=\"1\"} 3\nb 6 2345\n";
    let (b, heads) = run_scrapes(vec![(200, first), (200, second), (500, "")], opts(), 3);
    assert!(
        heads[0].contains("Accept: application/openmetrics-text"),
        "{}",
        heads[0]
    );
    let inst = b[0][0]
        .0
        .iter()
        .find(|l| l.0 == "instance")
        .unwrap()
        .1
        .clone();
    let s = |name: &str, extra: &str| {
        let mut l = format!("__name__={name},");
        if !extra.is_empty() {
            l = format!("{l}{extra},");
        }
        format!("{l}instance={inst},job=j")
    };
    let a1 = b[0].iter().find(|x| lp(&x.0).contains("x=1")).unwrap();
    assert_eq!(a1.1, 10_000, "stamped with the tick");
    assert_eq!(value(&b[0], &s("up", "")), Some(1.0));
    assert_eq!(value(&b[0], &s("scrape_samples_scraped", "")), Some(3.0));
    assert_eq!(value(&b[0], &s("scrape_series_added", "")), Some(2.0));
    // b carries its own timestamp.
    assert_eq!(
        b[0].iter()
            .find(|x| lp(&x.0).starts_with("__name__=b,"))
            .unwrap()
            .1,
        1234
    );
    // Second scrape: a{x="2"} went away → staleness marker at the tick; b (explicit
    // timestamps) gets none.
    let gone: Vec<&Sample> = b[1]
        .iter()
        .filter(|x| x.2.to_bits() == crate::STALE_NAN_BITS)
        .collect();
    assert_eq!(gone.len(), 1);
    assert!(lp(&gone[0].0).contains("x=2"));
    assert_eq!(gone[0].1, 20_000);
    assert_eq!(value(&b[1], &s("scrape_series_added", "")), Some(0.0));
    // Failed scrape: up 0, every remaining series stale.
    assert_eq!(value(&b[2], &s("up", "")), Some(0.0));
    let stale: Vec<&Sample> = b[2]
        .iter()
        .filter(|x| x.2.to_bits() == crate::STALE_NAN_BITS)
        .collect();
    assert_eq!(stale.len(), 1);
    assert!(lp(&stale[0].0).contains("x=1"));
}

#[test]
fn honor_timestamps_false_uses_the_tick() {
    let (b, _) = run_scrapes(vec![(200, "b 5 1234\n")], Options::default(), 1);
    assert_eq!(
        b[0].iter()
            .find(|x| lp(&x.0).starts_with("__name__=b,"))
            .unwrap()
            .1,
        10_000
    );
}

#[test]
fn sample_limit_fails_the_whole_scrape() {
    let o = Options {
        sample_limit: 1,
        ..opts()
    };
    let (b, _) = run_scrapes(vec![(200, "a 1\nb 2\n")], o, 1);
    assert_eq!(b[0].len(), 5, "only report series");
    assert!(b[0]
        .iter()
        .any(|x| lp(&x.0).starts_with("__name__=up,") && x.2 == 0.0));
    // Metric relabeling counts: dropping b brings it under the limit.
    let rc: Vec<RelabelConfig> =
        serde_yaml::from_str("[{source_labels: [__name__], regex: b, action: drop}]").unwrap();
    let o = Options {
        sample_limit: 1,
        metric_rules: Arc::new(compile_all(&rc).unwrap()),
        ..opts()
    };
    let (b, _) = run_scrapes(vec![(200, "a 1\nb 2\n")], o, 1);
    assert!(b[0]
        .iter()
        .any(|x| lp(&x.0).starts_with("__name__=up,") && x.2 == 1.0));
    assert!(b[0].iter().any(|x| lp(&x.0)
        .starts_with("__name__=scrape_samples_post_metric_relabeling,")
        && x.2 == 1.0));
    assert!(b[0]
        .iter()
        .any(|x| lp(&x.0).starts_with("__name__=scrape_samples_scraped,") && x.2 == 2.0));
}

#[test]
fn honor_labels_and_exported_prefix() {
    let t = vec![
        ("instance".to_string(), "i".to_string()),
        ("job".to_string(), "j".to_string()),
    ];
    let ls = |p: &[(&str, &str)]| -> LabelSet {
        p.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    let sample = ls(&[("__name__", "m"), ("job", "theirs"), ("exported_job", "x")]);
    assert_eq!(
        mutate(sample.clone(), &t, false),
        ls(&[
            ("__name__", "m"),
            ("exported_exported_job", "theirs"),
            ("exported_job", "x"),
            ("instance", "i"),
            ("job", "j")
        ])
    );
    assert_eq!(
        mutate(sample, &t, true),
        ls(&[
            ("__name__", "m"),
            ("exported_job", "x"),
            ("instance", "i"),
            ("job", "theirs")
        ])
    );
}

#[test]
fn ticks_are_aligned_per_target() {
    let client = Client::new(&HttpClientConfig::default(), Duration::from_secs(1)).unwrap();
    let l = Loop::new(
        target("a:1"),
        opts(),
        client.clone(),
        Arc::new(Rec::default()),
    );
    let t1 = l.next_tick(1_000_000);
    assert!(t1 > 1_000_000 && t1 <= 1_010_000);
    assert_eq!(l.next_tick(t1), t1 + 10_000);
    assert_eq!(l.next_tick(t1 - 1), t1);
    let other = Loop::new(target("b:2"), opts(), client, Arc::new(Rec::default()));
    assert_ne!(
        other.next_tick(1_000_000),
        t1,
        "different targets get different offsets"
    );
}

#[test]
fn end_of_run_marks_everything_stale() {
    let (addr, _) = serve(vec![(200, "a 1\n")]);
    let rec = Arc::new(Rec::default());
    let client = Client::new(&HttpClientConfig::default(), Duration::from_secs(5)).unwrap();
    let mut l = Loop::new(target(&addr), opts(), client, rec.clone());
    l.scrape(10_000);
    l.end_of_run(15_000);
    let b = rec.0.lock().unwrap();
    assert_eq!(b[1].len(), 6);
    assert!(b[1]
        .iter()
        .all(|x| x.1 == 15_000 && x.2.to_bits() == crate::STALE_NAN_BITS));
}

#[test]
fn openmetrics_bodies_by_content_type() {
    let om = "# TYPE c counter\nc_total 3 12.5 # {id=\"x\"} 1\n# EOF\n";
    let (b, _) = run_scrapes(vec![(200, om)], opts(), 1);
    let c = b[0]
        .iter()
        .find(|x| lp(&x.0).starts_with("__name__=c_total,"))
        .unwrap();
    assert_eq!((c.1, c.2), (12_500, 3.0), "timestamp in seconds");
    // A free-form comment is fine in text 0.0.4 but fails an OpenMetrics scrape.
    let (b, _) = run_scrapes(vec![(200, "# hello\nc_total 3\n# EOF\n")], opts(), 1);
    assert!(b[0]
        .iter()
        .any(|x| lp(&x.0).starts_with("__name__=up,") && x.2 == 0.0));
}

#[test]
fn gzip_bodies_are_decoded() {
    let (b, heads) = run_scrapes(vec![(200, "GZIP:zipped 42\n")], opts(), 1);
    assert!(
        heads[0]
            .to_ascii_lowercase()
            .contains("accept-encoding: gzip"),
        "{}",
        heads[0]
    );
    assert_eq!(
        value(
            &b[0],
            &format!(
                "__name__=zipped,instance={},job=j",
                b[0][0].0.iter().find(|l| l.0 == "instance").unwrap().1
            )
        ),
        Some(42.0)
    );
}

#[test]
fn a_sample_without_name_fails_the_scrape() {
    let rc: Vec<RelabelConfig> =
        serde_yaml::from_str("[{regex: __name__, action: labeldrop}]").unwrap();
    let o = Options {
        metric_rules: Arc::new(compile_all(&rc).unwrap()),
        ..opts()
    };
    let (b, _) = run_scrapes(vec![(200, "a 1\n")], o, 1);
    assert!(b[0]
        .iter()
        .any(|x| lp(&x.0).starts_with("__name__=up,") && x.2 == 0.0));
}
