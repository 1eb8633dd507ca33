//! `roster claim ID --owner WHO`: records an ownership claim (audited). A claim gives an owner to
//! an identity that neither the policy's `[[owners]]` nor its platform names.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use roster_core::RecordId;

use super::{CliError, CliResult, load_config, open, principal};

#[derive(Debug, clap::Args)]
pub struct ClaimArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// The record's id (16 hex digits).
    pub id: RecordId,
    /// The person or team who owns it.
    #[arg(long)]
    pub owner: String,
    /// Why (kept with the claim and in the audit trail).
    #[arg(long, default_value = "")]
    pub note: String,
}

pub async fn run(args: ClaimArgs) -> CliResult {
    let owner = args.owner.trim();
    if owner.is_empty() {
        return Err(CliError::Usage("--owner must name a person or team".into()));
    }
    let roster = open(load_config(args.config.as_deref())?).await?;
    let claimed = roster
        .claim(&principal(), args.id, Some(owner), &args.note, Utc::now())
        .await?;
    match claimed.kept {
        Some((current, source)) => println!(
            "claim recorded: `{}` claimed by {owner}; it keeps owner `{current}` ({}) which comes first",
            claimed.name,
            if source.is_empty() {
                "unknown source"
            } else {
                &source
            }
        ),
        None => println!("claim recorded: `{}` is now owned by {owner}", claimed.name),
    }
    Ok(ExitCode::SUCCESS)
}
