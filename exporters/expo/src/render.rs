//! Writers for Prometheus text 0.0.4 and OpenMetrics 1.0, and `Accept` negotiation.

use crate::float::{fmt_float, fmt_float_om};
use crate::model::{MetricSet, MetricType};

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` header value of this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// Chooses a format from an `Accept` header as the Go client does: entries by
    /// descending `q`; the first OpenMetrics (version 1.0.0, 0.0.1 or none) or text/plain
    /// entry wins; anything else (or no header) gives text 0.0.4.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut entries: Vec<(f32, usize, Format)> = Vec::new();
        for (i, part) in accept.split(',').enumerate() {
            let mut params = part.split(';').map(str::trim);
            let media = params.next().unwrap_or("").to_ascii_lowercase();
            let mut q = 1.0f32;
            let mut version = None;
            for p in params {
                if let Some((k, v)) = p.split_once('=') {
                    let v = v.trim().trim_matches('"');
                    match k.trim().to_ascii_lowercase().as_str() {
                        "q" => q = v.parse().unwrap_or(0.0),
                        "version" => version = Some(v.to_string()),
                        _ => {}
                    }
                }
            }
            let fmt = match media.as_str() {
                "application/openmetrics-text"
                    if matches!(version.as_deref(), None | Some("1.0.0") | Some("0.0.1")) =>
                {
                    Format::OpenMetrics
                }
                "text/plain" if matches!(version.as_deref(), None | Some("0.0.4")) => Format::Text,
                _ => continue,
            };
            if q > 0.0 {
                entries.push((q, i, fmt));
            }
        }
        entries.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        entries.first().map(|e| e.2).unwrap_or(Format::Text)
    }
}

/// Appends `s` with `\` and newline escaped (text 0.0.4 HELP); with `quote`, `"` too.
fn escape(out: &mut String, s: &str, quote: bool) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// Appends a HELP text escaped for text 0.0.4 (`\\` and `\n`).
pub fn escape_help(out: &mut String, s: &str) {
    escape(out, s, false);
}

/// Appends a label value escaped (`\\`, `\n`, `\"`).
pub fn escape_label_value(out: &mut String, s: &str) {
    escape(out, s, true);
}

/// Appends the whole set in `format` to `out` (families in their current order; call
/// [`MetricSet::sort`] first for the Go client's order). OpenMetrics ends with `# EOF`.
pub fn render(set: &MetricSet, format: Format, out: &mut String) {
    let om = format == Format::OpenMetrics;
    for fam in set.families() {
        let name = fam.name();
        let meta_name = match (om, fam.kind()) {
            (true, MetricType::Counter) => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        if !fam.help().is_empty() || om {
            out.push_str("# HELP ");
            out.push_str(meta_name);
            out.push(' ');
            escape(out, fam.help(), om);
            out.push('\n');
        }
        out.push_str("# TYPE ");
        out.push_str(meta_name);
        out.push(' ');
        out.push_str(if om {
            fam.kind().om_name()
        } else {
            fam.kind().text_name()
        });
        out.push('\n');
        for s in fam.samples() {
            if om && fam.kind() == MetricType::Counter {
                out.push_str(meta_name);
                out.push_str("_total");
            } else {
                out.push_str(name);
            }
            out.push_str(s.suffix());
            let mut first = true;
            for (n, v) in s.labels() {
                out.push(if first { '{' } else { ',' });
                first = false;
                out.push_str(n);
                out.push_str("=\"");
                escape(out, v, true);
                out.push('"');
            }
            if !first {
                out.push('}');
            }
            out.push(' ');
            if om {
                fmt_float_om(out, s.value());
            } else {
                fmt_float(out, s.value());
            }
            out.push('\n');
        }
    }
    if om {
        out.push_str("# EOF\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        use Format::*;
        assert_eq!(Format::negotiate(None), Text);
        assert_eq!(Format::negotiate(Some("*/*")), Text);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=1.0.0")),
            OpenMetrics
        );
        // Prometheus 2.x scrape Accept header.
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prom)), OpenMetrics);
        assert_eq!(
            Format::negotiate(Some(
                "text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5"
            )),
            Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;version=2.0.0")),
            Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Text
        );
    }
}
