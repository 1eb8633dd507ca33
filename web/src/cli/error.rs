//! The command line's one error type, mapped once in [`super::run`] to a message on stderr and
//! exit code 1 (the commands with their own codes, `sync` and `check`, return those as values).

use roster_app::AppError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    App(#[from] AppError),
    /// The command line itself is wrong: a missing flag, a bad value.
    #[error("{0}")]
    Usage(String),
    /// Reading an input file or writing the output.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("cannot write the output: {0}")]
    Output(String),
    #[error(transparent)]
    Config(#[from] roster_app::config::ConfigError),
    #[error(transparent)]
    Policy(#[from] roster_app::policy::PolicyError),
    #[error(transparent)]
    Server(#[from] crate::http::oidc::OidcSetupError),
    #[error(transparent)]
    Scheduler(#[from] roster_app::scheduler::SchedulerError),
    #[error(transparent)]
    Metrics(#[from] roster_app::metrics::MetricsError),
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        match e.io_error_kind() {
            Some(kind) => CliError::Io(std::io::Error::new(kind, e)),
            None => CliError::Output(e.to_string()),
        }
    }
}

impl From<csv::Error> for CliError {
    fn from(e: csv::Error) -> Self {
        match e.into_kind() {
            csv::ErrorKind::Io(io) => CliError::Io(io),
            other => CliError::Output(format!("{other:?}")),
        }
    }
}

impl From<roster_connector_sdk::ConnectorError> for CliError {
    fn from(e: roster_connector_sdk::ConnectorError) -> Self {
        CliError::App(AppError::Invalid(e.to_string()))
    }
}

impl From<roster_sync::SyncError> for CliError {
    fn from(e: roster_sync::SyncError) -> Self {
        CliError::App(e.into())
    }
}

impl CliError {
    /// `roster identities | head` closes the pipe early: that is not an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Io(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

pub type CliResult = Result<std::process::ExitCode, CliError>;
