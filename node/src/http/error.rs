//! The API's errors: JSON `{ "code", "field", "message" }` with the HTTP status that fits. Errors of
//! the services below (a `tonic::Status`, whose message starts with the field at fault, as every
//! refusal in gridfed does) are mapped here and nowhere else.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tonic::Code;

/// An error answer of the API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    /// Machine-readable: `invalid_argument`, `not_found`, `unauthenticated`, `permission_denied`,
    /// `failed_precondition`, `aborted` (version conflict), `unavailable`, `resource_exhausted`, ...
    pub code: String,
    /// The request field at fault, when there is one.
    pub field: Option<String>,
    /// What went wrong, for people.
    pub message: String,
    #[serde(skip)]
    #[schema(ignore)]
    pub status: StatusCode,
}

impl ApiError {
    /// An error with `status`, `code`, naming `field`.
    pub fn new(status: StatusCode, code: &str, field: Option<&str>, message: impl Into<String>) -> ApiError {
        ApiError { code: code.into(), field: field.map(str::to_string), message: message.into(), status }
    }

    /// 400 naming `field`.
    pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_argument", Some(field), message)
    }

    /// 401: no usable credentials.
    pub fn unauthenticated(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", None, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", None, message)
    }

    /// 503.
    pub fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", None, message)
    }
}

/// The field a message names: gridfed messages start with `field: ` (`case_id: no case ...`).
fn field_of(message: &str) -> Option<String> {
    let (head, _) = message.split_once(": ")?;
    let ok = !head.is_empty()
        && head.len() <= 64
        && head.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && head.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_.[]".contains(c));
    ok.then(|| head.to_string())
}

impl From<tonic::Status> for ApiError {
    fn from(s: tonic::Status) -> ApiError {
        let (status, code) = match s.code() {
            Code::InvalidArgument | Code::OutOfRange => (StatusCode::BAD_REQUEST, "invalid_argument"),
            Code::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Code::AlreadyExists => (StatusCode::CONFLICT, "already_exists"),
            Code::PermissionDenied => (StatusCode::FORBIDDEN, "permission_denied"),
            Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            Code::FailedPrecondition => (StatusCode::CONFLICT, "failed_precondition"),
            Code::Aborted => (StatusCode::CONFLICT, "aborted"),
            Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "resource_exhausted"),
            Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "deadline_exceeded"),
            Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "unimplemented"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = s.message().to_string();
        ApiError { code: code.into(), field: field_of(&message), message, status }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(&self)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_names_its_field_and_maps_to_http() {
        let e = ApiError::from(tonic::Status::invalid_argument("page_size: 900 is above the maximum 500"));
        assert_eq!(
            (e.status, e.code.as_str(), e.field.as_deref()),
            (StatusCode::BAD_REQUEST, "invalid_argument", Some("page_size"))
        );
        let e = ApiError::from(tonic::Status::permission_denied(
            "token ab12 (viewer of 370102): a viewer may read but not act",
        ));
        assert_eq!((e.status, e.field), (StatusCode::FORBIDDEN, None));
        let e = ApiError::from(tonic::Status::failed_precondition("case 1 is owned by node 2"));
        assert_eq!(e.status, StatusCode::CONFLICT);
    }
}
