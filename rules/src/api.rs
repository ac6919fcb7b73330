//! HTTP endpoints of the rule engine, shaped as Prometheus': `/api/v1/rules`,
//! `/api/v1/alerts`, `/api/v1/alertmanagers`, and `POST /-/reload`.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use query::ApiError;
use serde_json::{json, Map, Value};
use tsdb::{Labels, Matcher};

use crate::alerting::{ActiveAlert, AlertState};
use crate::eval::{Group, RuleState};
use crate::manager::Manager;
use crate::RuleKind;

/// The routes, to be merged into the store's router.
pub fn router(m: Arc<Manager>) -> Router {
    Router::new()
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/alerts", get(alerts))
        .route("/api/v1/alertmanagers", get(alertmanagers))
        .route("/-/reload", post(reload).put(reload))
        .with_state(m)
}

fn success(data: Value) -> Response {
    Json(json!({"status": "success", "data": data})).into_response()
}

/// Go's RFC 3339 with nanoseconds, in UTC (`0001-01-01T00:00:00Z` for never).
pub fn rfc3339(ms: i64) -> String {
    if ms == 0 {
        return "0001-01-01T00:00:00Z".into();
    }
    let ts = crate::gofmt::humanize_timestamp(ms as f64 / 1000.0);
    // "YYYY-MM-DD hh:mm:ss[.fff] +0000 UTC" → "YYYY-MM-DDThh:mm:ss[.fff]Z"
    let core = ts.trim_end_matches(" +0000 UTC");
    format!("{}Z", core.replacen(' ', "T", 1))
}

fn labels_json(l: &Labels) -> Value {
    let m: Map<String, Value> = l
        .iter()
        .map(|x| (x.name.to_string(), Value::String(x.value.to_string())))
        .collect();
    Value::Object(m)
}

fn pairs_json(l: &[(String, String)]) -> Value {
    let m: Map<String, Value> = l
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Value::Object(m)
}

fn alert_json(a: &ActiveAlert) -> Value {
    let mut o = json!({
        "labels": labels_json(&a.labels),
        "annotations": labels_json(&a.annotations),
        "state": a.state.as_str(),
        "activeAt": rfc3339(a.active_at_ms),
        "value": crate::gofmt::format_e(a.value, false),
    });
    if a.keep_firing_since_ms != 0 {
        o["keepFiringSince"] = json!(rfc3339(a.keep_firing_since_ms));
    }
    o
}

/// Pending and firing alerts of a rule (resolved ones are not shown).
fn active(r: &RuleState) -> impl Iterator<Item = &ActiveAlert> {
    r.alerts
        .active
        .values()
        .filter(|a| a.state != AlertState::Inactive)
}

fn rule_json(r: &RuleState, with_alerts: bool) -> Value {
    let mut o = match &r.rule.kind {
        RuleKind::Alert(name) => {
            let state = active(r)
                .map(|a| a.state)
                .max_by_key(|s| *s as u8)
                .unwrap_or(AlertState::Inactive);
            let alerts: Vec<Value> = if with_alerts {
                active(r).map(alert_json).collect()
            } else {
                Vec::new()
            };
            json!({
                "state": state.as_str(),
                "name": name,
                "query": r.rule.parsed.to_string(),
                "duration": r.rule.for_ms as f64 / 1000.0,
                "keepFiringFor": r.rule.keep_firing_for_ms as f64 / 1000.0,
                "labels": pairs_json(&r.rule.labels),
                "annotations": pairs_json(&r.rule.annotations),
                "alerts": alerts,
            })
        }
        RuleKind::Record(name) => json!({
            "name": name,
            "query": r.rule.parsed.to_string(),
            "labels": pairs_json(&r.rule.labels),
        }),
    };
    o["health"] = json!(r.health.health());
    if let Some(e) = &r.health.last_error {
        o["lastError"] = json!(e);
    }
    o["evaluationTime"] = json!(r.health.eval_seconds);
    o["lastEvaluation"] = json!(rfc3339(r.health.last_eval_ms));
    o["type"] = json!(match r.rule.kind {
        RuleKind::Alert(_) => "alerting",
        RuleKind::Record(_) => "recording",
    });
    o
}

/// Query parameters, decoded.
fn params(q: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

fn all<'a>(p: &'a [(String, String)], k: &str) -> Vec<&'a str> {
    p.iter()
        .filter(|(n, _)| n == k)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// Token of a group for `group_next_token` pagination.
fn group_token(g: &Group) -> String {
    format!(
        "{:032x}",
        Labels::from_pairs(&[("file", &g.def.file), ("name", &g.def.name)]).fingerprint()
    )
}

async fn rules(State(m): State<Arc<Manager>>, RawQuery(q): RawQuery) -> Response {
    match rules_inner(&m, q.as_deref()) {
        Ok(v) => success(v),
        Err(e) => e.into_response(),
    }
}

fn rules_inner(m: &Manager, q: Option<&str>) -> Result<Value, ApiError> {
    let p = params(q);
    let get = |k: &str| all(&p, k).first().copied().unwrap_or("");
    let typ = get("type").to_ascii_lowercase();
    let (want_alert, want_record) = match typ.as_str() {
        "" => (true, true),
        "alert" => (true, false),
        "record" => (false, true),
        _ => {
            return Err(ApiError::BadData(format!(
                "invalid parameter \"type\": not supported value {typ:?}"
            )))
        }
    };
    let exclude = match get("exclude_alerts").to_ascii_lowercase().as_str() {
        "" | "0" | "f" | "false" => false,
        "1" | "t" | "true" => true,
        other => {
            return Err(ApiError::BadData(format!(
                "invalid parameter \"exclude_alerts\": error converting exclude_alerts: strconv.ParseBool: parsing {other:?}: invalid syntax"
            )))
        }
    };
    let mut matchers: Vec<Vec<Matcher>> = Vec::new();
    for s in all(&p, "match[]") {
        matchers.push(query::selector::parse_selector(s).map_err(ApiError::BadData)?);
    }
    let names = all(&p, "rule_name[]");
    let mut groups = all(&p, "rule_group[]");
    groups.extend(all(&p, "group_name[]"));
    let files = all(&p, "file[]");
    let (limit, token) = (get("group_limit"), get("group_next_token"));
    if !token.is_empty() && limit.is_empty() {
        return Err(ApiError::BadData("invalid parameter \"group_next_token\": group_limit needs to be present in order to paginate over the groups".into()));
    }
    let limit = if limit.is_empty() {
        None
    } else {
        match limit.parse::<i32>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(_) => return Err(ApiError::BadData("invalid parameter \"group_limit\": group_limit needs to be greater than 0".into())),
            Err(_) => return Err(ApiError::BadData(format!("invalid parameter \"group_limit\": group_limit needs to be a valid number: strconv.ParseInt: parsing {limit:?}: invalid syntax"))),
        }
    };
    let mut out = Vec::new();
    let mut found_token = token.is_empty();
    let mut next_token = None;
    for slot in m.slots() {
        let g = slot.group.lock();
        if (!groups.is_empty() && !groups.contains(&g.def.name.as_str()))
            || (!files.is_empty() && !files.contains(&g.def.file.as_str()))
        {
            continue;
        }
        if !found_token {
            found_token = group_token(&g) == token;
            if !found_token {
                continue;
            }
        }
        let rules: Vec<Value> = g
            .rules
            .iter()
            .filter(|r| names.is_empty() || names.contains(&r.rule.name()))
            .filter(|r| match r.rule.kind {
                RuleKind::Alert(_) => want_alert,
                RuleKind::Record(_) => want_record,
            })
            .filter(|r| {
                matchers.is_empty()
                    || matchers.iter().any(|ms| {
                        ms.iter().all(|mt| {
                            let v = match mt.name.as_str() {
                                "__name__" => Some(r.rule.name()),
                                n => r
                                    .rule
                                    .labels
                                    .iter()
                                    .find(|(k, _)| k == n)
                                    .map(|(_, v)| v.as_str()),
                            };
                            mt.matches(v.unwrap_or(""))
                        })
                    })
            })
            .map(|r| rule_json(r, !exclude))
            .collect();
        if rules.is_empty() {
            continue;
        }
        if limit.is_some_and(|l| out.len() == l) {
            next_token = Some(group_token(&g));
            break;
        }
        out.push(json!({
            "name": g.def.name,
            "file": g.def.file,
            "rules": rules,
            "interval": g.interval_ms as f64 / 1000.0,
            "limit": g.def.limit,
            "evaluationTime": g.eval_seconds,
            "lastEvaluation": rfc3339(g.last_eval_ms),
        }));
    }
    if !found_token {
        return Err(ApiError::BadData(format!("invalid parameter \"group_next_token\": invalid group_next_token '{token}'. were rule groups changed?")));
    }
    let mut data = json!({ "groups": out });
    if let Some(t) = next_token {
        data["groupNextToken"] = json!(t);
    }
    Ok(data)
}

async fn alerts(State(m): State<Arc<Manager>>) -> Response {
    let mut out = Vec::new();
    for slot in m.slots() {
        let g = slot.group.lock();
        for r in &g.rules {
            out.extend(active(r).map(alert_json));
        }
    }
    success(json!({ "alerts": out }))
}

async fn alertmanagers(State(m): State<Arc<Manager>>) -> Response {
    let active: Vec<Value> = m
        .notifier()
        .alertmanager_urls()
        .into_iter()
        .map(|u| json!({ "url": u }))
        .collect();
    success(json!({ "activeAlertmanagers": active, "droppedAlertmanagers": [] }))
}

async fn reload(State(m): State<Arc<Manager>>) -> Response {
    let res = tokio::task::spawn_blocking(move || m.reload()).await;
    match res {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}
