use super::*;

#[test]
fn durations() {
    let d = |s| parse_duration(s).map(|d| d.as_millis());
    assert_eq!(d("1m"), Some(60_000));
    assert_eq!(d("1h30m"), Some(5_400_000));
    assert_eq!(d("500ms"), Some(500));
    assert_eq!(d("1s500ms"), Some(1500));
    assert_eq!(d("0"), Some(0));
    for bad in ["", "1", "m", "1x", "30s1m", "1.5s", "-1s"] {
        assert_eq!(d(bad), None, "{bad}");
    }
    assert_eq!(format_duration(Duration::from_millis(90_500)), "1m30s500ms");
}

#[test]
fn defaults_are_prometheus() {
    let l = parse(
        "scrape_configs:\n- job_name: a\n  static_configs: [{targets: ['x:1']}]\n",
        "t",
    )
    .unwrap();
    let sc = &l.config.scrape_configs[0];
    let g = &l.config.global;
    assert_eq!(sc.interval(g), Duration::from_secs(60));
    assert_eq!(sc.timeout(g), Duration::from_secs(10));
    assert_eq!(sc.metrics_path, "/metrics");
    assert_eq!(sc.scheme, "http");
    assert!(sc.honor_timestamps && !sc.honor_labels);
    let l = parse(
        "global: {scrape_interval: 5s}\nscrape_configs: [{job_name: a}]\n",
        "t",
    )
    .unwrap();
    assert_eq!(
        l.config.scrape_configs[0].timeout(&l.config.global),
        Duration::from_secs(5)
    );
}

#[test]
fn unknown_valid_keys_warn_others_fail() {
    let l = parse(
        "scrape_configs:\n- job_name: a\n  enable_http2: false\n  follow_redirects: true\n",
        "t",
    )
    .unwrap();
    assert_eq!(
        l.ignored,
        vec![
            "scrape_configs.0.enable_http2",
            "scrape_configs.0.follow_redirects"
        ]
    );
    let e = parse(
        "scrape_configs:\n- job_name: a\n  scrape_intervall: 1s\n",
        "p.yml",
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "p.yml:3: field scrape_intervall not found");
}

#[test]
fn invalid_values_fail_with_line() {
    let cases = [
        ("scrape_configs:\n- job_name: a\n  scrape_interval: 1x\n", 3),
        ("scrape_configs:\n- job_name: a\n  scheme: ftp\n", 3),
        ("scrape_configs:\n- job_name: a\n  scrape_interval: 5s\n  scrape_timeout: 10s\n", 4),
        ("scrape_configs:\n- job_name: a\n- job_name: a\n", 2),
        ("scrape_configs:\n- job_name: a\n  relabel_configs:\n  - action: hashmod\n    target_label: x\n", 3),
        ("scrape_configs:\n- job_name: a\n  sample_limit: -1\n", 3),
        ("remote_write:\n- url: localhost:9090\n", 2),
    ];
    for (text, line) in cases {
        match parse(text, "f.yml") {
            Err(Error::Config { line: l, .. }) => assert_eq!(l, line, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
}
