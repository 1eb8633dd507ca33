//! The HTTP edge's one error type: the application's [`AppError`] and the few failures only
//! the web face has (no session, a refused sign-in, the rate limit), each mapped once to a
//! status and a plain message (never internals). A browser gets the message as a page; an API
//! caller (`/api/…`) gets `{"error": kind, "message": …}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use roster_app::AppError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("sign in first: /login, or the one-time link printed when Roster started")]
    Unauthenticated,
    #[error("sign-in refused: {0}")]
    SignInRefused(&'static str),
    #[error("too many sign-in attempts; wait a little")]
    TooManyRequests,
    #[error(transparent)]
    App(#[from] AppError),
}

impl WebError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        WebError::App(AppError::Invalid(detail.into()))
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        WebError::App(AppError::NotFound(what.into()))
    }

    pub fn internal(detail: impl ToString) -> Self {
        WebError::App(AppError::Internal(detail.to_string()))
    }

    /// The refusal's reason when the access policy refused: the denial audit records it.
    pub fn forbidden_reason(&self) -> Option<&'static str> {
        match self {
            WebError::App(AppError::Forbidden(reason)) => Some(reason),
            _ => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            WebError::Unauthenticated => "unauthenticated",
            WebError::SignInRefused(_) => "sign_in_refused",
            WebError::TooManyRequests => "too_many_requests",
            WebError::App(e) => match e {
                AppError::NotFound(_) => "not_found",
                AppError::Invalid(_) => "invalid",
                AppError::Forbidden(_) => "forbidden",
                AppError::Conflict(_) => "conflict",
                AppError::Unavailable(_) => "unavailable",
                AppError::Internal(_) => "internal",
            },
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::internal(e)
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::Unauthenticated => StatusCode::UNAUTHORIZED,
            WebError::SignInRefused(_) => StatusCode::FORBIDDEN,
            WebError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            WebError::App(e) => match e {
                AppError::NotFound(_) => StatusCode::NOT_FOUND,
                AppError::Invalid(_) => StatusCode::BAD_REQUEST,
                AppError::Forbidden(_) => StatusCode::FORBIDDEN,
                AppError::Conflict(_) => StatusCode::CONFLICT,
                AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            WebError::App(AppError::Internal(detail)) => {
                tracing::error!(%detail, "request failed")
            }
            WebError::App(AppError::Unavailable(detail)) => {
                tracing::warn!(%detail, "request failed: a dependency is unavailable")
            }
            _ => {}
        }
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .insert_header(("X-Roster-Error", self.kind()))
            .body(self.to_string())
    }
}
