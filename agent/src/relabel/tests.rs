//! Table tests: expected outputs follow Prometheus' documented relabeling semantics
//! (cases adapted from `model/relabel/relabel_test.go`).

use super::*;

fn ls(pairs: &[(&str, &str)]) -> LabelSet {
    pairs
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn rules(yaml: &str) -> Vec<Rule> {
    let cs: Vec<RelabelConfig> = serde_yaml::from_str(yaml).unwrap();
    compile_all(&cs).unwrap()
}

fn run(yaml: &str, input: &[(&str, &str)]) -> Option<LabelSet> {
    process(ls(input), &rules(yaml))
}

const ABC: &[(&str, &str)] = &[("a", "foo"), ("b", "bar"), ("c", "baz")];

#[test]
fn replace() {
    type Case<'a> = (&'a str, Option<&'a [(&'a str, &'a str)]>);
    let cases: &[Case] = &[
        (
            "[{source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch${1}'}]",
            Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "choo-choo")]),
        ),
        (
            "[{source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: 'b${1}${2}m'}]",
            Some(&[("a", "boobam"), ("b", "bar"), ("c", "baz")]),
        ),
        // The regex is anchored: "o" alone does not match "foo".
        ("[{source_labels: [a], regex: 'o', target_label: d, replacement: x}]", Some(ABC)),
        // Default regex (.*) and replacement $1 copy the value.
        ("[{source_labels: [c], target_label: d}]", Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "baz")])),
        // An empty result deletes the target label.
        ("[{source_labels: [missing], target_label: a}]", Some(&[("b", "bar"), ("c", "baz")])),
        // Target label templating from capture groups.
        (
            "[{source_labels: [a], regex: '(f)(.*)', target_label: 'l_${1}', replacement: '$2'}]",
            Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("l_f", "oo")]),
        ),
        // An invalid expanded target name leaves the set unchanged.
        ("[{source_labels: [missing], regex: '(.*)', target_label: '${1}', replacement: v}]", Some(ABC)),
        // `$1x` names group "1x", which does not exist: empty, so d is not set.
        ("[{source_labels: [a], regex: '(.*)', target_label: d, replacement: '$1x'}]", Some(ABC)),
        // Separator and a named group.
        (
            "[{source_labels: [a, b], separator: '/', regex: '(?P<first>[^/]+)/.*', target_label: d, replacement: '${first}'}]",
            Some(&[("a", "foo"), ("b", "bar"), ("c", "baz"), ("d", "foo")]),
        ),
    ];
    for (yaml, want) in cases {
        assert_eq!(run(yaml, ABC), want.map(ls), "{yaml}");
    }
}

#[test]
fn keep_and_drop() {
    assert_eq!(
        run("[{source_labels: [a], regex: '.*o.*', action: drop}]", ABC),
        None
    );
    assert_eq!(
        run("[{source_labels: [a], regex: 'o', action: drop}]", ABC),
        Some(ls(ABC))
    );
    assert_eq!(
        run("[{source_labels: [c], regex: no-match, action: keep}]", ABC),
        None
    );
    assert_eq!(
        run(
            "[{source_labels: [a, b], regex: 'foo;bar', action: keep}]",
            ABC
        ),
        Some(ls(ABC))
    );
    // A missing label is the empty string: keep on "" keeps, drop on ".+" keeps.
    assert_eq!(
        run("[{source_labels: [x], regex: '', action: keep}]", ABC),
        Some(ls(ABC))
    );
    assert_eq!(
        run("[{source_labels: [x], regex: '.+', action: drop}]", ABC),
        Some(ls(ABC))
    );
}

#[test]
fn keepequal_and_dropequal() {
    let input = &[("a", "foo"), ("b", "foo"), ("c", "baz")];
    assert_eq!(
        run(
            "[{source_labels: [a], target_label: b, action: keepequal}]",
            input
        ),
        Some(ls(input))
    );
    assert_eq!(
        run(
            "[{source_labels: [a], target_label: c, action: keepequal}]",
            input
        ),
        None
    );
    assert_eq!(
        run(
            "[{source_labels: [a], target_label: b, action: dropequal}]",
            input
        ),
        None
    );
    assert_eq!(
        run(
            "[{source_labels: [a], target_label: c, action: dropequal}]",
            input
        ),
        Some(ls(input))
    );
}

#[test]
fn hashmod() {
    // md5("baz"), last 8 bytes big-endian, mod 1000 = 976 (Prometheus' own test value).
    assert_eq!(
        run(
            "[{source_labels: [c], target_label: d, modulus: 1000, action: hashmod}]",
            ABC
        ),
        Some(ls(&[
            ("a", "foo"),
            ("b", "bar"),
            ("c", "baz"),
            ("d", "976")
        ]))
    );
    assert_eq!(
        run(
            "[{source_labels: [a, b], target_label: d, modulus: 1000, action: hashmod}]",
            ABC
        )
        .unwrap()["d"],
        "750"
    );
    // Sharding: keep only shard 2 of 3.
    let shard =
        "[{source_labels: [__address__], target_label: __tmp_hash, modulus: 3, action: hashmod},
                  {source_labels: [__tmp_hash], regex: '2', action: keep}]";
    assert!(run(shard, &[("__address__", "10.0.0.1:9100")]).is_some());
    assert!(
        run(shard, &[("__address__", "baz;")]).is_none()
            || run(shard, &[("__address__", "x")]).is_none()
    );
}

#[test]
fn labelmap_labeldrop_labelkeep() {
    let input = &[
        ("__meta_kubernetes_pod_label_app", "web"),
        ("__meta_kubernetes_pod_label_tier", "front"),
        ("b", "bar"),
    ];
    assert_eq!(
        run(
            "[{regex: '__meta_kubernetes_pod_label_(.+)', action: labelmap}]",
            input
        ),
        Some(ls(&[
            ("__meta_kubernetes_pod_label_app", "web"),
            ("__meta_kubernetes_pod_label_tier", "front"),
            ("app", "web"),
            ("b", "bar"),
            ("tier", "front"),
        ]))
    );
    assert_eq!(
        run(
            "[{regex: '(b)', replacement: '${1}_dup', action: labelmap}]",
            input
        )
        .unwrap()["b_dup"],
        "bar"
    );
    assert_eq!(
        run("[{regex: '__meta.*', action: labeldrop}]", input),
        Some(ls(&[("b", "bar")]))
    );
    assert_eq!(
        run("[{regex: '__meta.*', action: labelkeep}]", input),
        Some(ls(&input[..2]))
    );
    // Anchored: "a" matches only the name "a".
    assert_eq!(
        run("[{regex: a, action: labeldrop}]", ABC),
        Some(ls(&ABC[1..]))
    );
}

#[test]
fn lowercase_uppercase() {
    let input = &[("foo", "bAr123Foo")];
    assert_eq!(
        run("[{source_labels: [foo], target_label: foo_lower, action: lowercase}, {source_labels: [foo], target_label: foo_upper, action: uppercase}]", input),
        Some(ls(&[("foo", "bAr123Foo"), ("foo_lower", "bar123foo"), ("foo_upper", "BAR123FOO")]))
    );
}

#[test]
fn invalid_configs_are_rejected() {
    for bad in [
        "{action: replace}",
        "{action: hashmod, target_label: x}",
        "{action: lowercase}",
        "{action: labeldrop, regex: a, source_labels: [b]}",
        "{action: labelmap, replacement: '-'}",
        "{action: keepequal, source_labels: [a], target_label: b, regex: x}",
        "{regex: '(', target_label: x}",
        "{source_labels: ['a-b'], target_label: x}",
        "{action: replace, target_label: '1abc'}",
    ] {
        let c: RelabelConfig = serde_yaml::from_str(bad).unwrap();
        assert!(Rule::compile(&c).is_err(), "{bad}");
    }
    assert!(serde_yaml::from_str::<RelabelConfig>("{action: bogus}").is_err());
}
