//! The command line (DESIGN.md §4). Each command lives in its own file.

mod admin;
mod audit;
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
