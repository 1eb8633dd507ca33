//! The one error story of the application layer. Every service returns [`AppError`]; each face
//! maps it once: the HTTP edge to a status and a page or JSON body, the CLI to a message and an
//! exit code. A record that does not exist is `NotFound`, never `Internal`.

use roster_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// What was asked for does not exist (or the principal may not know that it does).
    #[error("not found: {0}")]
    NotFound(String),
    /// The request itself is wrong: a bad filter, a missing field, a value out of range.
    #[error("{0}")]
    Invalid(String),
    /// The access policy refused it; the reason is safe to show.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The request no longer fits the state (a decision on a closed campaign, say).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A dependency is down or refused: the database, a connector, a notification channel.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or damaged data. The detail is logged, never shown.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    /// The detail behind `Internal`, for logs; the message otherwise.
    pub fn detail(&self) -> String {
        match self {
            AppError::Internal(d) => d.clone(),
            other => other.to_string(),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => AppError::NotFound(what),
            StoreError::Conflict(what) => AppError::Conflict(what),
            StoreError::Connect { .. } | StoreError::Busy(_) => {
                AppError::Unavailable(e.to_string())
            }
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<crate::config::ConfigError> for AppError {
    fn from(e: crate::config::ConfigError) -> Self {
        AppError::Invalid(e.to_string())
    }
}

impl From<roster_core::campaign::DecisionError> for AppError {
    fn from(e: roster_core::campaign::DecisionError) -> Self {
        AppError::Invalid(e.to_string())
    }
}

impl From<serde_json::Error> for AppError {
    fn from(e: serde_json::Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

pub type AppResult<T> = Result<T, AppError>;
