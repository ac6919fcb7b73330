//! The layer applied to every route: credentials, rights, body read timeout, response headers.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use parking_lot::Mutex;

use crate::config::{Right, Rights, WebConfig};

/// Most verified (user, password) digests kept; the cache is cleared when full.
const CACHE_MAX: usize = 4096;

/// A hash no password matches quickly: unknown users pay the same bcrypt cost as known ones.
const DUMMY_HASH: &str = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/// Authentication and limits shared by every request.
pub struct Auth {
    users: Vec<(String, String, Rights)>,
    tokens: Vec<(ring::digest::Digest, String, Rights)>,
    /// SHA-256 of (user, password, hash) triples that bcrypt verified.
    verified: Mutex<HashSet<Vec<u8>>>,
    health_requires_auth: bool,
    headers: Vec<(HeaderName, HeaderValue)>,
    challenge: HeaderValue,
    read_timeout: Duration,
    max_body_bytes: usize,
}

/// Who made a request, added to the request's extensions after authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal(pub String);

impl Auth {
    /// Checks from `cfg` (`None`: no authentication); bodies are read within `read_timeout`
    /// and at most `max_body_bytes` (413 above).
    pub fn new(
        cfg: Option<&WebConfig>,
        read_timeout: Duration,
        max_body_bytes: usize,
    ) -> Result<Auth, crate::Error> {
        let default = WebConfig::default();
        let cfg = cfg.unwrap_or(&default);
        let mut headers = Vec::new();
        for (k, v) in &cfg.headers {
            let bad = |what: &str| crate::Error::Config {
                path: cfg.path.clone(),
                line: 0,
                msg: format!("http_server_config.headers: invalid header {what} {k:?}"),
            };
            let name = HeaderName::try_from(k.as_str()).map_err(|_| bad("name"))?;
            let value = HeaderValue::try_from(v.as_str()).map_err(|_| bad("value for"))?;
            headers.push((name, value));
        }
        let challenge = match (cfg.users.is_empty(), cfg.tokens.is_empty()) {
            (false, false) => "Basic realm=\"vitals\", Bearer realm=\"vitals\"",
            (true, false) => "Bearer realm=\"vitals\"",
            _ => "Basic realm=\"vitals\"",
        };
        Ok(Auth {
            users: cfg
                .users
                .iter()
                .map(|u| (u.name.clone(), u.hash.clone(), u.rights))
                .collect(),
            tokens: cfg
                .tokens
                .iter()
                .map(|t| (sha256(&[t.secret.as_bytes()]), t.name.clone(), t.rights))
                .collect(),
            verified: Mutex::new(HashSet::new()),
            health_requires_auth: cfg.health_requires_auth,
            headers,
            challenge: HeaderValue::from_static(challenge),
            read_timeout,
            max_body_bytes,
        })
    }

    fn enabled(&self) -> bool {
        !self.users.is_empty() || !self.tokens.is_empty()
    }

    /// The principal and rights of the request's credentials; `Err` when they are missing or wrong.
    async fn authenticate(
        self: &Arc<Self>,
        auth: Option<&HeaderValue>,
    ) -> Result<(String, Rights), ()> {
        let value = auth.and_then(|v| v.to_str().ok()).ok_or(())?;
        let (scheme, cred) = value.split_once(' ').ok_or(())?;
        let cred = cred.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            let d = sha256(&[cred.as_bytes()]);
            return self
                .tokens
                .iter()
                .find(|(t, _, _)| t.as_ref() == d.as_ref())
                .map(|(_, name, r)| (format!("token {name}"), *r))
                .ok_or(());
        }
        if !scheme.eq_ignore_ascii_case("basic") || self.users.is_empty() {
            return Err(());
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(cred)
            .map_err(|_| ())?;
        let raw = String::from_utf8(raw).map_err(|_| ())?;
        let (user, password) = raw.split_once(':').ok_or(())?;
        let found = self.users.iter().find(|(u, _, _)| u == user);
        let hash = found.map_or(DUMMY_HASH, |(_, h, _)| h.as_str());
        let key = sha256(&[user.as_bytes(), password.as_bytes(), hash.as_bytes()])
            .as_ref()
            .to_vec();
        let cached = self.verified.lock().contains(&key);
        let ok = cached || {
            let (password, hash) = (password.to_string(), hash.to_string());
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false)
        };
        match found {
            Some((name, _, rights)) if ok => {
                if !cached {
                    let mut v = self.verified.lock();
                    if v.len() >= CACHE_MAX {
                        v.clear();
                    }
                    v.insert(key);
                }
                Ok((format!("user {name}"), *rights))
            }
            _ => Err(()),
        }
    }
}

fn sha256(parts: &[&[u8]]) -> ring::digest::Digest {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        ctx.update(&(p.len() as u64).to_le_bytes());
        ctx.update(p);
    }
    ctx.finish()
}

/// The right a request needs; `None` for the health endpoints (unless configured otherwise).
pub fn required_right(method: &Method, path: &str, health_requires_auth: bool) -> Option<Right> {
    match path {
        "/-/healthy" | "/-/ready" if !health_requires_auth => None,
        "/api/v1/write" => Some(Right::Write),
        "/-/reload" | "/-/quit" => Some(Right::Admin),
        p if p.starts_with("/api/v1/admin/") => Some(Right::Admin),
        _ if method == Method::OPTIONS => None,
        _ => Some(Right::Read),
    }
}

/// The axum middleware: 401 with `WWW-Authenticate` for missing or wrong credentials, 403
/// for missing rights, 408 for a body not read within the read timeout, 413 for a large body.
pub async fn layer(State(auth): State<Arc<Auth>>, req: Request, next: Next) -> Response {
    let mut resp = check(&auth, req, next).await;
    for (k, v) in &auth.headers {
        resp.headers_mut().insert(k.clone(), v.clone());
    }
    resp
}

async fn check(auth: &Arc<Auth>, req: Request, next: Next) -> Response {
    let mut resp = check_inner(auth, req, next).await;
    if matches!(resp.status().as_u16(), 401 | 403 | 408 | 413) {
        // The request body may be unread: the connection cannot be reused.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

async fn check_inner(auth: &Arc<Auth>, mut req: Request, next: Next) -> Response {
    let need = required_right(req.method(), req.uri().path(), auth.health_requires_auth);
    if let (true, Some(need)) = (auth.enabled(), need) {
        let who = auth
            .authenticate(req.headers().get(header::AUTHORIZATION))
            .await;
        match who {
            Err(()) => {
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, auth.challenge.clone())],
                    "Unauthorized\n",
                )
                    .into_response()
            }
            Ok((who, rights)) if !rights.has(need) => {
                let msg = format!("Forbidden: {who} lacks the {need:?} right\n").to_lowercase();
                return (StatusCode::FORBIDDEN, msg).into_response();
            }
            Ok((who, _)) => {
                req.extensions_mut().insert(Principal(who));
            }
        }
    }
    let (parts, body) = req.into_parts();
    let read = axum::body::to_bytes(body, auth.max_body_bytes);
    let bytes = match tokio::time::timeout(auth.read_timeout, read).await {
        Err(_) => {
            return (
                StatusCode::REQUEST_TIMEOUT,
                "request body not received within the read timeout (--web.read-timeout)\n",
            )
                .into_response()
        }
        Ok(Err(e)) => {
            return if is_length_limit(&e) {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "request body larger than {} bytes (--web.max-request-bytes)\n",
                        auth.max_body_bytes
                    ),
                )
                    .into_response()
            } else {
                (
                    StatusCode::BAD_REQUEST,
                    format!("reading request body: {e}\n"),
                )
                    .into_response()
            };
        }
        Ok(Ok(b)) => b,
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Whether a body error (or one it wraps) is the length limit.
fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cur = err.source();
    }
    false
}
