//! The web front: Prometheus' `--web.config.file` (TLS, basic auth) plus bearer tokens and
//! read/write/admin rights, one axum layer for every route, and a TLS-capable server.

mod admin;
mod auth;
mod config;
mod serve;
mod tls;

use std::path::PathBuf;
use std::sync::Arc;

pub use admin::admin_router;
pub use auth::{required_right, Auth, Principal};
pub use config::{
    redact_yaml_error, ClientAuth, Right, Rights, TlsSettings, TlsVersion, Token, User, WebConfig,
};
pub use serve::serve;
pub use tls::server_config;

/// A TLS server configuration as [`server_config`] builds it.
pub type TlsConfig = Arc<rustls::ServerConfig>;

/// Errors of the web configuration and TLS set-up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration is invalid; `line` is 0 when unknown.
    #[error("{}:{line}: {msg}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// A certificate, key or CA bundle does not load.
    #[error("TLS: {0}")]
    Tls(String),
}

/// Wraps every route of `router` (and its fallback) in the authentication layer.
pub fn apply(router: axum::Router, auth: Arc<Auth>) -> axum::Router {
    router.layer(axum::middleware::from_fn_with_state(auth, auth::layer))
}
