//! `os`: `node_os_info` and `node_os_version` from os-release under `--path.rootfs`.

use std::collections::HashMap;

use expo::{MetricSet, MetricType};

use crate::{Collector, Config, Error};

/// The `os` collector.
pub struct OsRelease;

/// Parses os-release `KEY=value` lines (values optionally quoted, `\` escapes in quotes).
pub fn parse_os_release(text: &str) -> HashMap<String, String> {
    let mut env = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        let value = match v.chars().next() {
            Some(q @ ('"' | '\'')) if v.len() >= 2 && v.ends_with(q) => {
                let inner = &v[1..v.len() - 1];
                if q == '"' {
                    let mut s = String::new();
                    let mut it = inner.chars();
                    while let Some(c) = it.next() {
                        if c == '\\' {
                            if let Some(n) = it.next() {
                                s.push(n);
                            }
                        } else {
                            s.push(c);
                        }
                    }
                    s
                } else {
                    inner.to_string()
                }
            }
            _ => v.to_string(),
        };
        env.insert(k.trim().to_string(), value);
    }
    env
}

/// `^[0-9]+\.?[0-9]*` of VERSION_ID as a number (0 when absent).
fn major_minor(version_id: &str) -> f64 {
    let int_end = version_id
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(version_id.len());
    if int_end == 0 {
        return 0.0;
    }
    let mut end = int_end;
    if version_id[end..].starts_with('.') {
        end += 1;
        end += version_id[end..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(version_id.len() - end);
    }
    version_id[..end]
        .trim_end_matches('.')
        .parse()
        .unwrap_or(0.0)
}

impl Collector for OsRelease {
    fn name(&self) -> &'static str {
        "os"
    }

    fn update(&mut self, cfg: &Config, out: &mut MetricSet) -> Result<(), Error> {
        let mut text = None;
        for rel in ["etc/os-release", "usr/lib/os-release"] {
            let path = cfg.root(rel);
            match std::fs::read_to_string(&path) {
                Ok(t) => {
                    text = Some(t);
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        let text = text.ok_or_else(|| Error::NoData("no os-release file found".into()))?;
        let env = parse_os_release(&text);
        let get = |k: &str| env.get(k).map(String::as_str).unwrap_or("");
        out.family(
            "node_os_info",
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, image_version, name, pretty_name, variant, variant_id, version, version_codename, version_id.",
            MetricType::Gauge,
        )
        .add(
            &[
                ("build_id", get("BUILD_ID")),
                ("id", get("ID")),
                ("id_like", get("ID_LIKE")),
                ("image_id", get("IMAGE_ID")),
                ("image_version", get("IMAGE_VERSION")),
                ("name", get("NAME")),
                ("pretty_name", get("PRETTY_NAME")),
                ("variant", get("VARIANT")),
                ("variant_id", get("VARIANT_ID")),
                ("version", get("VERSION")),
                ("version_codename", get("VERSION_CODENAME")),
                ("version_id", get("VERSION_ID")),
            ],
            1.0,
        );
        let version = major_minor(get("VERSION_ID"));
        if version > 0.0 {
            out.family(
                "node_os_version",
                "Metric containing the major.minor part of the OS version.",
                MetricType::Gauge,
            )
            .add(
                &[
                    ("id", get("ID")),
                    ("id_like", get("ID_LIKE")),
                    ("name", get("NAME")),
                ],
                version,
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(major_minor("12"), 12.0);
        assert_eq!(major_minor("22.04"), 22.04);
        assert_eq!(major_minor("3.18.4"), 3.18);
        assert_eq!(major_minor("rolling"), 0.0);
        assert_eq!(major_minor(""), 0.0);
        let env = parse_os_release("NAME=\"Debian GNU/Linux\"\nID=debian\n# c\nX='a b'\n");
        assert_eq!(env["NAME"], "Debian GNU/Linux");
        assert_eq!(env["X"], "a b");
    }
}
