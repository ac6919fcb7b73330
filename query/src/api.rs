//! `/api/v1/series`, `/api/v1/labels`, `/api/v1/label/<name>/values`.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::selector::parse_selector;
use crate::ApiState;

/// Query-string and form parameters, in order, repeated keys kept.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(query: Option<&str>, body: &[u8]) -> Params {
        let mut v: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .into_owned()
            .collect();
        v.extend(form_urlencoded::parse(body).into_owned());
        Params(v)
    }
    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    pub(crate) fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Parses a Prometheus API time: RFC 3339 or (fractional) unix seconds, into ms.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(f) = s.parse::<f64>() {
        if !f.is_finite() {
            return Err(format!("cannot parse {s:?} to a valid timestamp"));
        }
        let ms = (f * 1000.0).round();
        return Ok(ms.clamp(i64::MIN as f64, i64::MAX as f64) as i64);
    }
    parse_rfc3339(s).ok_or_else(|| format!("cannot parse {s:?} to a valid timestamp"))
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b't' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d, h, mi, se) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = s.get(start..i)?;
        if digits.is_empty() {
            return None;
        }
        let d3: String = digits.chars().chain("000".chars()).take(3).collect();
        frac_ms = d3.parse().ok()?;
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let v = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if *c == b'+' {
                v
            } else {
                -v
            }
        }
        _ => return None,
    };
    // Days from civil (proleptic Gregorian).
    let (y2, m2) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60) * 1000) + frac_ms)
}

pub(crate) fn range(p: &Params) -> Result<(i64, i64), ApiError> {
    let start = match p.get("start") {
        Some(s) => parse_time(s)
            .map_err(|e| ApiError::BadData(format!("invalid parameter \"start\": {e}")))?,
        None => i64::MIN,
    };
    let end = match p.get("end") {
        Some(s) => parse_time(s)
            .map_err(|e| ApiError::BadData(format!("invalid parameter \"end\": {e}")))?,
        None => i64::MAX,
    };
    if end < start {
        return Err(ApiError::BadData(
            "invalid parameter \"end\": end timestamp must not be before start time".into(),
        ));
    }
    Ok((start, end))
}

fn limit(p: &Params) -> Result<usize, ApiError> {
    match p.get("limit") {
        None | Some("") | Some("0") => Ok(usize::MAX),
        Some(s) => s.parse().map_err(|_| {
            ApiError::BadData(format!("invalid parameter \"limit\": cannot parse {s:?}"))
        }),
    }
}

pub(crate) fn selectors(p: &Params) -> Result<Vec<Vec<tsdb::Matcher>>, ApiError> {
    p.all("match[]")
        .into_iter()
        .map(|s| parse_selector(s).map_err(ApiError::BadData))
        .collect()
}

pub(crate) fn success(data: Value) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

/// Union of `f` over every `match[]` selector, or of `f(&[])` (all series) when there is none.
fn union_over<T: Ord>(
    sels: &[Vec<tsdb::Matcher>],
    mut f: impl FnMut(&[tsdb::Matcher]) -> Result<Vec<T>, tsdb::Error>,
) -> Result<std::collections::BTreeSet<T>, ApiError> {
    let mut all = std::collections::BTreeSet::new();
    if sels.is_empty() {
        all.extend(f(&[])?);
    }
    for m in sels {
        all.extend(f(m)?);
    }
    Ok(all)
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// `GET|POST /api/v1/series`.
pub(crate) async fn series(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    st.metrics.request("series");
    let p = Params::parse(q.as_deref(), &body);
    let sels = selectors(&p)?;
    if sels.is_empty() {
        return Err(ApiError::BadData("no match[] parameter provided".into()));
    }
    let (mint, maxt) = range(&p)?;
    let lim = limit(&p)?;
    let db = st.db.clone();
    let out = blocking(move || union_over(&sels, |m| db.select_series(m, mint, maxt))).await?;
    let data: Vec<Value> = out
        .iter()
        .take(lim)
        .map(|l| {
            Value::Object(
                l.iter()
                    .map(|l| (l.name.to_string(), Value::String(l.value.to_string())))
                    .collect::<Map<_, _>>(),
            )
        })
        .collect();
    Ok(success(Value::Array(data)))
}

/// `GET|POST /api/v1/labels`.
pub(crate) async fn labels(
    State(st): State<ApiState>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    st.metrics.request("labels");
    let p = Params::parse(q.as_deref(), &body);
    let sels = selectors(&p)?;
    let (mint, maxt) = range(&p)?;
    let lim = limit(&p)?;
    let db = st.db.clone();
    let names = blocking(move || union_over(&sels, |m| db.label_names(m, mint, maxt))).await?;
    Ok(success(Value::Array(
        names.into_iter().take(lim).map(Value::String).collect(),
    )))
}

/// `GET /api/v1/label/<name>/values`.
pub(crate) async fn label_values(
    State(st): State<ApiState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    st.metrics.request("label_values");
    let name = match name.strip_prefix("U__") {
        Some(enc) => decode_underscore_escaping(enc)
            .ok_or_else(|| ApiError::BadData(format!("invalid label name: {name:?}")))?,
        None => name,
    };
    if name.is_empty() {
        return Err(ApiError::BadData(format!("invalid label name: {name:?}")));
    }
    let p = Params::parse(q.as_deref(), &[]);
    let sels = selectors(&p)?;
    let (mint, maxt) = range(&p)?;
    let lim = limit(&p)?;
    let db = st.db.clone();
    let values =
        blocking(move || union_over(&sels, |m| db.label_values(&name, m, mint, maxt))).await?;
    Ok(success(Value::Array(
        values.into_iter().take(lim).map(Value::String).collect(),
    )))
}

/// Decodes Prometheus 3's `U__` label-name escaping (`_2e_` → `.`, `__` → `_`).
fn decode_underscore_escaping(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if it.peek() == Some(&'_') {
            it.next();
            out.push('_');
            continue;
        }
        let mut hex = String::new();
        loop {
            match it.next()? {
                '_' => break,
                h => hex.push(h),
            }
        }
        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1700000000.123"), Ok(1_700_000_000_123));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert_eq!(
            parse_time("2023-11-14T23:13:20.5+01:00"),
            Ok(1_700_000_000_500)
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        assert!(parse_time("yesterday").is_err());
        assert!(parse_time("2023-13-14T22:13:20Z").is_err());
        assert!(parse_time("NaN").is_err());
    }

    #[test]
    fn underscore_escaping() {
        assert_eq!(
            decode_underscore_escaping("my_2e_metric__x").as_deref(),
            Some("my.metric_x")
        );
        assert_eq!(decode_underscore_escaping("bad_zz"), None);
    }
}
