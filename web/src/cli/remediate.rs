//! `roster remediate ID --action A [--execute]`: one remediation step through the record's
//! connector. A dry run (the default) reads the live state and prints the calls a real run
//! would make. Every run, dry or not, refused or not, is an audit event.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use roster_app::remediate::RemediationAsk;
use roster_core::RecordId;

use super::{CliResult, load_config, open, principal};

#[derive(Debug, clap::Args)]
pub struct RemediateArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// The record's id (16 hex digits, as `roster identities` prints it).
    pub id: RecordId,
    /// What to do, e.g. `deactivate` then, after the grace period, `delete`.
    #[arg(long)]
    pub action: String,
    /// Change the platform. Without it, a dry run.
    #[arg(long)]
    pub execute: bool,
    /// Why, for the audit trail.
    #[arg(long, default_value = "")]
    pub reason: String,
}

/// Exit codes: 0 done (or a dry run that could be done), 1 refused or failed.
pub async fn run(args: RemediateArgs) -> CliResult {
    let roster = open(load_config(args.config.as_deref())?).await?;
    let ask = RemediationAsk {
        id: args.id,
        action: &args.action,
        execute: args.execute,
        reason: &args.reason,
    };
    match roster.remediate(&principal(), &ask, Utc::now()).await? {
        Ok(o) => {
            println!(
                "{}{}",
                if args.execute { "" } else { "DRY RUN: " },
                o.summary
            );
            for c in &o.calls {
                println!("  {} {c}", if o.executed { "called" } else { "would call" });
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
