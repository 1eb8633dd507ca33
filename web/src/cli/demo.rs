use std::process::ExitCode;
use std::sync::Arc;

use chrono::{Timelike, Utc};
use roster_app::config::Config;
use roster_app::{Principal, Roster};
use roster_connector_synthetic::{SyntheticConfig, SyntheticConnector};
use roster_sync::SyncSource;

use super::CliResult;
use super::progress::TerminalProgress;
use crate::http::{self, AppState, Sessions};

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Records in the sample estate (identities plus credentials).
    #[arg(long, default_value_t = 5000)]
    pub size: u64,
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

pub async fn run(args: DemoArgs) -> CliResult {
    let dir = tempfile::Builder::new().prefix("roster-demo-").tempdir()?;
    let mut config = Config::default();
    config.database.url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster-demo.db").display()
    );
    let roster = Arc::new(Roster::from_config(config).await?);

    // Ages are measured from the start of today, so the sample looks current.
    let now = Utc::now();
    let anchor = now
        .with_hour(0)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let connector = SyntheticConnector::new(SyntheticConfig {
        count: args.size,
        seed: args.seed,
        anchor,
        page_size: 1000,
    })?;
    let sources = vec![SyncSource {
        name: "sample".into(),
        connector: Box::new(connector),
    }];
    println!(
        "SAMPLE DATA: generating a synthetic estate of {} records in {}",
        args.size,
        dir.path().display()
    );
    let progress = TerminalProgress::new(true);
    let report = roster.sync_once(sources, false, "demo", &progress).await;
    progress.finish();
    let report = report?;
    print!("{}", report.to_text());

    // A sample access review over the critical identities, so the campaign pages have content.
    let demo = Principal::cli("demo");
    let campaign = roster
        .launch_campaign(
            &demo,
            roster_app::campaigns::LaunchRequest {
                name: "Sample review: critical identities".into(),
                definition: None,
                scope: "tier=critical".into(),
                due_days: 14,
                rules: roster_core::campaign::CampaignRules::new("iam-team@example.com"),
            },
            Utc::now(),
        )
        .await?;
    println!(
        "SAMPLE DATA: launched campaign `{}` over {} critical identities",
        campaign.name, campaign.item_count
    );
    let sessions = Sessions::default();
    let token = sessions.issue_bootstrap(Utc::now());
    let state = AppState {
        roster,
        sessions,
        secure_cookies: false,
        sample_banner: true,
        oidc: None,
        login_limiter: Default::default(),
    };
    http::serve(state, &args.bind, |addr| {
        println!("Roster demo (sample data) is listening on http://{addr}");
        println!("One-time admin sign-in link (valid 15 minutes, single use):");
        println!("  http://{addr}/login/bootstrap?token={token}");
    })
    .await?;
    drop(dir);
    Ok(ExitCode::SUCCESS)
}
