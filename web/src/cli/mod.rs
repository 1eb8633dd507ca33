//! The command line (DESIGN.md §4). Each command lives in its own file.

mod admin;
mod audit;
mod backup;
mod campaign;
mod check;
mod claim;
mod demo;
mod doctor;
mod error;
mod identities;
mod migrate;
mod notify;
mod people;
mod progress;
mod remediate;
mod serve;
mod sync;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use roster_app::config::Config;
use roster_app::{Principal, Roster};

pub use error::{CliError, CliResult};

#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "Inventory and governance of non-human identities"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a clearly labelled sample estate on an embedded SQLite in a temp dir.
    Demo(demo::DemoArgs),
    /// Run the web UI and JSON API.
    Serve(ConfigArg),
    /// Apply database migrations.
    Migrate(ConfigArg),
    /// Run connectors once and print the run report.
    Sync(sync::SyncArgs),
    /// Print the inventory.
    Identities(identities::IdentitiesArgs),
    /// Evaluate the policy as a CI gate: exit 1 when anything is at or above --fail-on.
    Check(check::CheckArgs),
    /// Remediate one credential through its connector: a dry run unless --execute.
    Remediate(remediate::RemediateArgs),
    /// Claim ownership of an identity (used when neither the policy nor the platform names one).
    Claim(claim::ClaimArgs),
    /// The people directory owners are checked against.
    #[command(subcommand)]
    People(people::PeopleCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Notification channels (email, webhook).
    #[command(subcommand)]
    Notify(notify::NotifyCommand),
    /// Access-certification campaigns.
    #[command(subcommand)]
    Campaign(campaign::CampaignCommand),
    /// A consistent copy of the SQLite store, checked, while it is in use.
    Backup(backup::BackupArgs),
    /// Put a checked `roster backup` copy back in place of the SQLite store.
    Restore(backup::RestoreArgs),
    /// Delete record history and sync-run reports older than `[retention]` keeps (never the
    /// audit trail); `roster serve` does it daily.
    Prune(backup::PruneArgs),
    /// Administration: a one-time admin sign-in link.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Check stored evaluations against a fresh one (and runs left by dead processes);
    /// --repair fixes them.
    Doctor(doctor::DoctorArgs),
}

impl Command {
    pub fn default_log_level(&self) -> &'static str {
        match self {
            Command::Serve(_) => "info",
            // The demo's own output ends with its sign-in links; the server's chatter would
            // bury them.
            _ => "warn",
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
}

pub async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Command::Demo(args) => demo::run(args).await,
        Command::Serve(args) => serve::run(args).await,
        Command::Migrate(args) => migrate::run(args).await,
        Command::Sync(args) => sync::run(args).await,
        Command::Identities(args) => identities::run(args).await,
        Command::Check(args) => check::run(args).await,
        Command::Remediate(args) => remediate::run(args).await,
        Command::Audit(cmd) => audit::run(cmd).await,
        Command::People(cmd) => people::run(cmd).await,
        Command::Claim(args) => claim::run(args).await,
        Command::Notify(cmd) => notify::run(cmd).await,
        Command::Campaign(cmd) => campaign::run(cmd).await,
        Command::Doctor(args) => doctor::run(args).await,
        Command::Admin(cmd) => admin::run(cmd).await,
        Command::Backup(args) => backup::backup(args).await,
        Command::Restore(args) => backup::restore(args).await,
        Command::Prune(args) => backup::prune(args).await,
    };
    match result {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Who runs a CLI command, for the audit trail: `cli:<login>` from the environment.
pub fn actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// Whoever runs the CLI has the configuration and the database, so acts as IAM.
pub fn principal() -> Principal {
    Principal::cli(actor())
}

/// Loads the configuration; nothing is opened or written before it is valid.
pub fn load_config(path: Option<&Path>) -> Result<Config, CliError> {
    Ok(Config::load(path)?)
}

/// The application over the configured database (migrated) and policy file.
pub async fn open(config: Config) -> Result<Roster, CliError> {
    Ok(Roster::from_config(config).await?)
}

/// [`open`] for commands that only read (`identities`, `check`, `doctor`): an SQLite file that
/// does not exist is an error naming it, not a new empty database that reads as "0 records".
pub async fn open_existing(config: Config) -> Result<Roster, CliError> {
    if let Some(path) = sqlite_file(&config.database.url)
        && !path.exists()
    {
        return Err(CliError::Usage(format!(
            "no database at {}: run `roster sync` (or `roster migrate`) first, or point \
             --config / ROSTER_DATABASE__URL at the right one",
            path.display()
        )));
    }
    open(config).await
}

/// The file an `sqlite:` URL names; `None` for an in-memory database or another backend.
fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest.trim_start_matches("//").split('?').next()?;
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

pub use roster_app::moment::parse_moment;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Every command and every flag of every command says what it is for in `--help`.
    #[test]
    fn every_command_and_flag_has_help() {
        use clap::CommandFactory;
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let builtin = matches!(arg.get_id().as_str(), "help" | "version");
                if !builtin && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} --{}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands() {
                let here = format!("{path} {}", sub.get_name());
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(here.clone());
                }
                walk(sub, &here, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "roster", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:?}");
    }

    #[test]
    fn a_moment_is_a_date_a_utc_time_or_rfc_3339() {
        let at = |h| chrono::Utc.with_ymd_and_hms(2027, 1, 1, h, 0, 0).unwrap();
        assert_eq!(parse_moment("2027-01-01"), Ok(at(0)));
        assert_eq!(parse_moment("2027-01-01T09:00:00"), Ok(at(9)));
        assert_eq!(parse_moment("2027-01-01T11:00:00+02:00"), Ok(at(9)));
        let err = parse_moment("next tuesday").unwrap_err();
        assert!(err.contains("2027-01-01T09:30:00Z"), "{err}");
        assert!(parse_moment("2027-02-30").is_err());
    }

    #[test]
    fn the_file_an_sqlite_url_names() {
        assert_eq!(
            sqlite_file("sqlite://roster.db?mode=rwc"),
            Some(PathBuf::from("roster.db"))
        );
        assert_eq!(
            sqlite_file("sqlite:/var/lib/r.db"),
            Some(PathBuf::from("/var/lib/r.db"))
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://db/roster"), None);
    }
}
