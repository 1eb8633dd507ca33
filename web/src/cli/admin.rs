//! `roster admin sign-in-link`: a one-time admin sign-in link on demand, for a server without
//! an identity provider (it prints one at start only until someone has signed in); `roster
//! admin sign-out WHO`: every session of a person ended now. Whoever runs them has the
//! configuration and the database; both are audited (a link never with its token).

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use roster_app::Principal;

use super::{CliResult, load_config, open, principal};

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Print a one-time admin sign-in link (valid 15 minutes, single use), audited.
    SignInLink {
        /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
        #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
        config: Option<PathBuf>,
    },
    /// End every web session of WHO now (someone who left, or whose role was taken away at
    /// the identity provider), audited. Their next sign-in gets their current role.
    SignOut {
        /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
        #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
        config: Option<PathBuf>,
        /// The person as Roster names them: their verified email, or their IdP subject.
        who: String,
    },
}

pub async fn run(cmd: AdminCommand) -> CliResult {
    match cmd {
        AdminCommand::SignInLink { config } => {
            let config = load_config(config.as_deref())?;
            let public_url = config.server.public_url.trim_end_matches('/').to_owned();
            let roster = open(config).await?;
            let token = roster
                .issue_sign_in_link(&principal(), &Principal::bootstrap(), Utc::now())
                .await?;
            println!("One-time admin sign-in link (valid 15 minutes, single use):");
            println!("  {public_url}/login/bootstrap?token={token}");
        }
        AdminCommand::SignOut { config, who } => {
            let roster = open(load_config(config.as_deref())?).await?;
            let ended = roster
                .sign_out_person(&principal(), &who, Utc::now())
                .await?;
            println!("{ended} session(s) of {who} ended");
        }
    }
    Ok(ExitCode::SUCCESS)
}
