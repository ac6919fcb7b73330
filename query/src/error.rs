//! API errors and their Prometheus JSON / plain-text shapes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed (400, `bad_data`).
    #[error("{0}")]
    BadData(String),
    /// The request is too large (413).
    #[error("{0}")]
    TooLarge(String),
    /// The query could not be executed (422, `execution`).
    #[error("{0}")]
    Execution(String),
    /// The query ran past its time limit (503, `timeout`).
    #[error("{0}")]
    Timeout(String),
    /// Something broke on our side (500, `internal`).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// HTTP status of the error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadData(_) => StatusCode::BAD_REQUEST,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Execution(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Prometheus `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            ApiError::BadData(_) | ApiError::TooLarge(_) => "bad_data",
            ApiError::Execution(_) => "execution",
            ApiError::Timeout(_) => "timeout",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The plain-text answer remote-write clients expect.
    pub fn into_plain(self) -> Response {
        (self.status(), format!("{self}\n")).into_response()
    }
}

impl From<tsdb::Error> for ApiError {
    fn from(e: tsdb::Error) -> Self {
        match e {
            tsdb::Error::BadMatcher(m) | tsdb::Error::InvalidArgument(m) => ApiError::BadData(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"status": "error", "errorType": self.error_type(), "error": self.to_string()});
        (self.status(), axum::Json(body)).into_response()
    }
}
