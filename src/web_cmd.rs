//! Web front flags of `vitals store`: `--web.config.file`, `--web.enable-admin-api`,
//! `--web.read-timeout`, and serving the router behind the authentication layer.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

/// Web front flags (Prometheus' names).
#[derive(clap::Args, Debug, Clone)]
pub struct WebFlags {
    /// Web configuration file (TLS, basic auth, bearer tokens and rights), Prometheus' format.
    #[arg(long = "web.config.file")]
    pub web_config_file: Option<PathBuf>,
    /// Enable the TSDB admin endpoints (/api/v1/admin/...).
    #[arg(long = "web.enable-admin-api")]
    pub enable_admin_api: bool,
    /// Longest time to receive a request's headers and body (and a TLS handshake).
    #[arg(long = "web.read-timeout", default_value = "5m")]
    pub read_timeout: String,
}

impl WebFlags {
    /// `(name, value)` pairs for `/api/v1/status/flags`.
    pub fn status_flags(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "web.config.file",
                self.web_config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            ),
            ("web.enable-admin-api", self.enable_admin_api.to_string()),
            ("web.read-timeout", self.read_timeout.clone()),
        ]
    }
}

/// The loaded web front: configuration, TLS, authentication.
pub struct Front {
    tls: Option<web::TlsConfig>,
    auth: Arc<web::Auth>,
    read_timeout: Duration,
}

impl Front {
    /// Loads `--web.config.file`, warns about settings not applied and about a non-loopback
    /// `listen` address without authentication.
    pub fn load(flags: &WebFlags, listen: SocketAddr, max_body_bytes: usize) -> Result<Front> {
        let read_timeout = Duration::from_millis(
            crate::parse_duration_ms(&flags.read_timeout)
                .context("--web.read-timeout")?
                .max(1) as u64,
        );
        let cfg = match &flags.web_config_file {
            Some(p) => Some(web::WebConfig::load(p).context("--web.config.file")?),
            None => None,
        };
        for w in cfg.iter().flat_map(|c| &c.warnings) {
            tracing::warn!(file = %cfg.as_ref().map(|c| c.path.display().to_string()).unwrap_or_default(), "web config: {w}");
        }
        let tls = match cfg.as_ref().and_then(|c| c.tls.as_ref()) {
            Some(t) => Some(web::server_config(t).context("--web.config.file")?),
            None => None,
        };
        let has_auth = cfg.as_ref().is_some_and(|c| c.has_auth());
        if !listen.ip().is_loopback() && !has_auth {
            tracing::warn!(address = %listen, "listening on a non-loopback address without authentication (set basic_auth_users or vitals.bearer_tokens in --web.config.file)");
        }
        let auth = web::Auth::new(cfg.as_ref(), read_timeout, max_body_bytes)
            .context("--web.config.file")?;
        Ok(Front {
            tls,
            auth: Arc::new(auth),
            read_timeout,
        })
    }

    /// Whether the server speaks TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves `router` (plus the admin endpoints) behind the authentication layer.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        router: axum::Router,
        enable_admin_api: bool,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let router = web::apply(router.merge(web::admin_router(enable_admin_api)), self.auth);
        web::serve(listener, router, self.tls, self.read_timeout, shutdown).await?;
        Ok(())
    }
}
