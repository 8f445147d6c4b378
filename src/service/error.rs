//! API errors: every failure becomes a status and `{"error": message}`,
//! mapped here in one place.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::job::JobError;
use super::roots::PathRefused;
use super::store::StoreError;
use crate::io::IoError;

/// An API error: a status and a message, answered as `{"error": ...}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!("{message}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::internal(e)
    }
}

impl From<IoError> for ApiError {
    fn from(e: IoError) -> Self {
        Self::internal(e)
    }
}

impl From<PathRefused> for ApiError {
    fn from(e: PathRefused) -> Self {
        match e {
            PathRefused::Missing(_) => Self::bad_request(e.to_string()),
            PathRefused::Outside(_) | PathRefused::NoRoots => {
                Self::new(StatusCode::FORBIDDEN, e.to_string())
            }
        }
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        Self::bad_request(e.to_string())
    }
}
