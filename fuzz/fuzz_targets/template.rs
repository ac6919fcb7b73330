#![no_main]
//! Templates built from Go template tokens (each input byte picks one) parse and execute
//! or fail with a message, never panic or overflow the stack: control structures,
//! `define`/`template`/`block`, `break`/`continue`, variables, every function, queries.

use libfuzzer_sys::fuzz_target;
use rules::template::{expand, QuerySample, TemplateData};

/// Fragments an input byte selects (byte % len).
const TOKENS: &[&str] = &[
    "{{",
    "}}",
    "{{- ",
    " -}}",
    " ",
    "if ",
    "else ",
    "else if ",
    "end",
    "range ",
    "with ",
    "define \"a\"",
    "template \"a\"",
    "template \"a\" .",
    "block \"b\" 1",
    "break",
    "continue",
    "$x := ",
    "$x = ",
    "$x",
    "$i, $e := ",
    "$e",
    "$i",
    "$labels",
    "$labels.job",
    "$value",
    ".",
    ".Value",
    ".Labels",
    ".Labels.job",
    "|",
    "(",
    ")",
    "\"x\"",
    "`r`",
    "1",
    "-2",
    "0.5",
    "true",
    "nil",
    "query \"up\"",
    "first",
    "value",
    "label \"job\"",
    "printf \"%v %d\"",
    "print",
    "println",
    "len",
    "index",
    "slice",
    "eq",
    "ne",
    "lt",
    "ge",
    "and",
    "or",
    "not",
    "humanize",
    "humanizeDuration",
    "humanizeTimestamp",
    "html",
    "js",
    "urlquery",
    "args",
    "sortByLabel \"job\"",
    "stripPort",
    "stripDomain",
    "graphLink",
    "toTime",
    "parseDuration",
    "reReplaceAll \"(.)\" \"$1\"",
    "match \"a\"",
    "title",
    "safeHtml",
    "{{/* c */}}",
    "text",
];

fuzz_target!(|data: &[u8]| {
    let text: String = data
        .iter()
        .map(|b| TOKENS[*b as usize % TOKENS.len()])
        .collect();
    let q = |e: &str| -> Result<Vec<QuerySample>, String> {
        match e {
            "up" => Ok(vec![QuerySample {
                labels: [("job".to_string(), "a.b:1".to_string())].into(),
                value: 2.5,
            }]),
            _ => Err("bad query".into()),
        }
    };
    let d = TemplateData {
        labels: [("job".to_string(), "node".to_string())].into(),
        value: 1.5,
        external_labels: Default::default(),
        external_url: "http://h:9090/p".into(),
        query: Some(&q),
    };
    let _ = expand("fuzz", &text, &d);
    if let Ok(raw) = std::str::from_utf8(data) {
        let _ = expand("fuzz", raw, &d);
    }
});
