use std::process::ExitCode;

use chrono::Utc;

use super::{ConfigArg, load_config, open_store};
use crate::http::{self, AppState, Sessions};
use crate::policy;

pub async fn run(args: ConfigArg) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    if config.auth.oidc.is_some() {
        anyhow::bail!(
            "[auth.oidc] sign-in is not part of this build yet; remove the section to sign in with \
             the one-time bootstrap link"
        );
    }
    let policy = policy::load(config.policy.file.as_deref())?;
    let store = open_store(&config).await?;
    let sessions = Sessions::default();
    let token = sessions.issue_bootstrap(Utc::now());
    let public_url = config.server.public_url.trim_end_matches('/').to_owned();
    let state = AppState {
        store,
        policy,
        sessions,
        secure_cookies: public_url.starts_with("https://"),
        sample_banner: config.connectors.iter().any(|c| c.kind == "synthetic"),
    };
    http::serve(state, &config.server.bind, |addr| {
        println!("Roster is listening on {addr}");
        println!("One-time admin sign-in link (valid 15 minutes, single use):");
        println!("  {public_url}/login/bootstrap?token={token}");
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
