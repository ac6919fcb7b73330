//! `basic_auth` and `authorization` of an HTTP client config.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Secret;

/// `basic_auth` of an HTTP client config.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct BasicAuth {
    /// User name.
    pub username: String,
    /// Password, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// Password, read from this file at each request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
}

/// `authorization` of an HTTP client config.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Authorization {
    /// Scheme, `Bearer` by default.
    #[serde(default = "bearer", rename = "type")]
    pub kind: String,
    /// Credentials, inline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Secret>,
    /// Credentials, read from this file at each request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_file: Option<PathBuf>,
}

impl Default for Authorization {
    fn default() -> Self {
        Authorization {
            kind: bearer(),
            credentials: None,
            credentials_file: None,
        }
    }
}

fn bearer() -> String {
    "Bearer".into()
}
