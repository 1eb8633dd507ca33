//! The store's one error type.

use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL `{0}`: use sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// A stored value does not parse back (a row written by a newer version, or damage).
    #[error("record {id}: stored {field} is invalid: {detail}")]
    Corrupt {
        id: String,
        field: &'static str,
        detail: String,
    },
    #[error("not found: {0}")]
    NotFound(String),
    /// The change no longer applies (e.g. a decision on a campaign closed meanwhile).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Other writers held the database for longer than a writer waits.
    #[error("database busy: {0}")]
    Busy(String),
}
