//! Table tests of the template subset against outputs Go's text/template gives.

use super::*;

fn data(q: Option<QueryFn<'_>>) -> TemplateData<'_> {
    TemplateData {
        labels: [
            ("instance", "node-1:9100"),
            ("job", "node"),
            ("mountpoint", "/"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        value: 1e6,
        external_labels: [("cluster".to_string(), "prod".to_string())]
            .into_iter()
            .collect(),
        external_url: "http://vitals:9090".into(),
        query: q,
    }
}

fn run(t: &str) -> Result<String, TemplateError> {
    let q = |e: &str| -> Result<Vec<QuerySample>, String> {
        match e {
            "up" => Ok(vec![
                QuerySample {
                    labels: [("instance".to_string(), "a".to_string())]
                        .into_iter()
                        .collect(),
                    value: 0.25,
                },
                QuerySample {
                    labels: [("instance".to_string(), "b".to_string())]
                        .into_iter()
                        .collect(),
                    value: 1.0,
                },
            ]),
            "none" => Ok(vec![]),
            _ => Err("bad query".into()),
        }
    };
    Template::parse("t", t)?.execute(&data(Some(&q)))
}

#[test]
fn golden_outputs() {
    let cases: &[(&str, &str)] = &[
        ("{{ $labels.instance }} down", "node-1:9100 down"),
        ("{{ $value }}", "1e+06"),
        ("{{ .Value }}/{{ .Labels.job }}", "1e+06/node"),
        ("{{ $externalLabels.cluster }}", "prod"),
        ("{{ $labels.missing }}|", "|"),
        ("{{ printf \"%.2f\" $value }}", "1000000.00"),
        ("{{ $value | humanize }}", "1M"),
        ("{{ 1536 | humanize1024 }}", "1.5ki"),
        ("{{ humanizePercentage 0.1234 }}", "12.34%"),
        ("{{ humanizeDuration 3600 }}", "1h 0m 0s"),
        (
            "{{ \"1435065584.128\" | humanizeTimestamp }}",
            "2015-06-23 13:19:44.128 +0000 UTC",
        ),
        ("{{ query \"up\" | first | value }}", "0.25"),
        (
            "{{ with query \"up\" }}{{ . | first | label \"instance\" }}{{ end }}",
            "a",
        ),
        (
            "{{ range query \"up\" }}{{ .Labels.instance }}={{ .Value }};{{ end }}",
            "a=0.25;b=1;",
        ),
        (
            "{{ range $i, $s := query \"up\" }}{{ $i }}:{{ $s.Value }} {{ end }}",
            "0:0.25 1:1 ",
        ),
        (
            "{{ with query \"none\" }}x{{ else }}empty{{ end }}",
            "empty",
        ),
        ("{{ reReplaceAll \":.*\" \"\" $labels.instance }}", "node-1"),
        (
            "{{ $labels.job | toUpper }} {{ \"ABC\" | toLower }} {{ title \"hello world\" }}",
            "NODE abc Hello World",
        ),
        (
            "{{ if gt $value 100.0 }}big{{ else if gt $value 1.0 }}mid{{ else }}small{{ end }}",
            "big",
        ),
        ("{{ if eq $labels.job \"x\" \"node\" }}yes{{ end }}", "yes"),
        (
            "{{ if and (ne $labels.job \"\") (not false) }}ok{{ end }}",
            "ok",
        ),
        ("{{ or \"\" \"fallback\" }}", "fallback"),
        ("{{ len $labels }} {{ index $labels \"job\" }}", "3 node"),
        ("{{ $x := \"a\" }}{{ $x = \"b\" }}{{ $x }}", "b"),
        ("a  {{- \" b \" -}}  c", "a b c"),
        ("{{/* comment */}}x", "x"),
        (
            "{{ printf \"%s has %d %q %v\" \"n\" 3 \"q\" 0.5 }}",
            "n has 3 \"q\" 0.5",
        ),
        (
            "{{ range $k, $v := $labels }}{{ $k }}={{ $v }},{{ end }}",
            "instance=node-1:9100,job=node,mountpoint=/,",
        ),
        ("{{ $labels.instance | stripPort }}", "node-1"),
        ("{{ match \"^node\" $labels.instance }}", "true"),
    ];
    for (t, want) in cases {
        assert_eq!(run(t).as_deref(), Ok(*want), "template {t}");
    }
}

#[test]
fn parse_errors_read_like_go() {
    let e = |t: &str| Template::parse("__alert_X", t).unwrap_err().0;
    assert_eq!(e("{{ $labels.x "), "template: __alert_X:1: unclosed action");
    assert_eq!(
        e("a\n{{ nosuch 1 }}"),
        "template: __alert_X:2: function \"nosuch\" not defined"
    );
    assert_eq!(e("{{ if 1 }}x"), "template: __alert_X:1: unexpected EOF");
    assert_eq!(e("{{ end }}"), "template: __alert_X:1: unexpected {{end}}");
    assert_eq!(
        e("{{ $nope }}"),
        "template: __alert_X:1: undefined variable \"$nope\""
    );
}

#[test]
fn execution_errors_are_reported_not_panics() {
    for t in [
        "{{ query \"none\" | first }}",
        "{{ query \"bad\" }}",
        "{{ gt $value 1 }}",
        "{{ humanize \"abc\" }}",
        "{{ .Nope }}",
        "{{ index $value 1 }}",
        "{{ range 1.5 }}{{ end }}",
    ] {
        assert!(run(t).is_err(), "{t} should fail");
    }
    let d = data(None);
    let out = expand("__alert_X", "{{ query \"up\" }}", &d);
    assert_eq!(
        out,
        "<error expanding template: error executing template __alert_X: template: __alert_X:1:115: executing \"__alert_X\" at <query \"up\">: error calling query: queries are not available here>"
    );
    assert_eq!(expand("n", "plain", &d), "plain");
    assert!(
        expand("n", "{{", &d).starts_with("<error expanding template: error parsing template n:")
    );
}

#[test]
fn control_structures_and_named_templates() {
    let cases: &[(&str, &str)] = &[
        (
            r#"{{ define "f" }}<{{ . }}>{{ end }}{{ template "f" $labels.job }}"#,
            "<node>",
        ),
        (r#"{{ block "b" 2 }}[{{ . }}]{{ end }}"#, "[2]"),
        (
            r#"{{ define "v" }}{{ $ }}{{ end }}{{ template "v" }}"#,
            "<no value>",
        ),
        (
            r#"{{ range $i, $s := query "up" }}{{ if $i }}{{ break }}{{ end }}{{ $s.Value }}{{ end }}"#,
            "0.25",
        ),
        (
            r#"{{ range $i, $s := query "up" }}{{ if not $i }}{{ continue }}{{ end }}{{ $s.Value }}{{ end }}"#,
            "1",
        ),
        (
            r#"{{ range $k, $v := $labels }}{{ with $v }}{{ if eq $k "job" }}{{ break }}{{ end }}{{ end }}{{ $k }};{{ end }}"#,
            "instance;",
        ),
        (
            r#"{{ $a := args 1 "x" }}{{ $a.arg1 }} {{ $a }}"#,
            "x map[arg0:1 arg1:x]",
        ),
        (r#"{{ slice "hello" 1 3 }} {{ index "A" 0 }}"#, "el 65"),
        (
            r#"{{ js "<'>" }} {{ urlquery "a b" }} {{ html "<&>" }}"#,
            r"\u003C\'\u003E a+b &lt;&amp;&gt;",
        ),
        (
            r#"{{ graphLink "up > 1" }}"#,
            "/graph?g0.expr=up+%3E+1&g0.tab=0",
        ),
        (
            r#"{{ stripDomain "a.b.c:80" }} {{ stripDomain "1.2.3.4" }} {{ stripPort "[::1]:9" }}"#,
            "a:80 1.2.3.4 ::1",
        ),
        (
            r#"{{ pathPrefix }}|{{ externalURL }}"#,
            "|http://vitals:9090",
        ),
    ];
    for (t, want) in cases {
        assert_eq!(run(t).as_deref(), Ok(*want), "template {t}");
    }
    let e = |t: &str| Template::parse("__alert_X", t).unwrap_err().0;
    assert_eq!(
        e("{{ break }}"),
        "template: __alert_X:1: {{break}} outside {{range}}"
    );
    assert_eq!(
        e("{{ with 1 }}{{ else with 2 }}{{ end }}"),
        "template: __alert_X:1: unexpected <with> in else"
    );
    assert_eq!(
        e("{{ tmpl \"x\" 1 }}"),
        "template: __alert_X:1: function \"tmpl\" not defined"
    );
    assert!(e("{{ if 1 }}{{ define \"x\" }}{{ end }}{{ end }}").contains("unexpected <define>"));
    // Execution errors: reported, never a crash (unbounded recursion included).
    for t in [
        r#"{{ template "nope" }}"#,
        r#"{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" 1 }}"#,
        r#"{{ range 3 }}{{ end }}"#,
        r#"{{ slice "abc" 2 1 }}"#,
        r#"{{ index (args 1) 0 }}"#,
    ] {
        assert!(run(t).is_err(), "{t} should fail");
    }
    let deep = "{{ if 1 }}".repeat(150) + &"{{ end }}".repeat(150);
    assert!(Template::parse("d", &deep).is_err());
}

proptest::proptest! {
    /// Any text, and any text inside an action, parses or fails cleanly and never panics.
    #[test]
    fn arbitrary_templates_never_panic(
        text in "(\\{\\{-? |[ -~é€]|\\$labels|\\.Value| \\| |humanize|printf|\"|`|\\(|\\)| -?\\}\\}|if |end|range |else|define \"a\"|template \"a\" |block \"a\" |break|continue){0,24}"
    ) {
        let _ = run(&text);
        let d = data(None);
        let _ = expand("p", &text, &d);
    }
}

#[test]
fn deeply_nested_parentheses_are_an_error_not_a_crash() {
    // Found by the rule_file fuzz target: thousands of `(` overflowed the parser's stack.
    let deep = format!("{{{{{}1{}}}}}", "(".repeat(100_000), ")".repeat(100_000));
    let err = Template::parse("t", &deep).unwrap_err().to_string();
    assert!(err.contains("max expression depth exceeded"), "{err}");
    let ok = format!("{{{{{}1{}}}}}", "(".repeat(100), ")".repeat(100));
    assert_eq!(run(&ok).unwrap(), "1");
}
