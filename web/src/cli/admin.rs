//! `roster admin sign-in-link`: a one-time admin sign-in link on demand, for a server without
//! an identity provider (it prints one at start only until someone has signed in). Whoever runs
//! it has the configuration and the database; the link is audited, never its token.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use roster_app::Principal;

use super::{CliResult, load_config, open, principal};

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Print a one-time admin sign-in link (valid 15 minutes, single use), audited.
    SignInLink {
        #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
        config: Option<PathBuf>,
    },
}

pub async fn run(cmd: AdminCommand) -> CliResult {
    let AdminCommand::SignInLink { config } = cmd;
    let config = load_config(config.as_deref())?;
    let public_url = config.server.public_url.trim_end_matches('/').to_owned();
    let roster = open(config).await?;
    let token = roster
        .issue_sign_in_link(&principal(), &Principal::bootstrap(), Utc::now())
        .await?;
    println!("One-time admin sign-in link (valid 15 minutes, single use):");
    println!("  {public_url}/login/bootstrap?token={token}");
    Ok(ExitCode::SUCCESS)
}
