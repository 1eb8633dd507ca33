use std::process::ExitCode;
use std::sync::Arc;

use chrono::{Timelike, Utc};
use roster_app::config::Config;
use roster_app::{Principal, Role, Roster};
use roster_connector_synthetic::{SyntheticConfig, SyntheticConnector};
use roster_sync::SyncSource;

use super::CliResult;
use super::progress::TerminalProgress;
use crate::http::{self, AppState};

/// Reviews what no owner can in the sample campaign.
const FALLBACK: &str = "iam-team@example.com";

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Records in the sample estate (identities plus credentials).
    #[arg(long, default_value_t = 5000)]
    pub size: u64,
    /// Address to serve on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Seed of the generated estate: the same seed, the same estate.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

pub async fn run(args: DemoArgs) -> CliResult {
    let dir = tempfile::Builder::new().prefix("roster-demo-").tempdir()?;
    // The sample connector is configured like any other, so the campaign's remediation dry run
    // finds it.
    let config = Config::from_toml_str(&format!(
        "[database]\nurl = \"sqlite://{}?mode=rwc\"\n\n[[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = {}\nseed = {}\n",
        dir.path().join("roster-demo.db").display(),
        args.size,
        args.seed
    ))?;
    let metrics = Arc::new(roster_app::metrics::Metrics::new()?);
    let roster = Arc::new(Roster::from_config(config).await?.with_metrics(metrics));

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
    // The sample's people, some of whom left: their identities show as orphaned.
    let people: Vec<_> = roster_connector_synthetic::sample_directory()
        .into_iter()
        .map(|(email, active)| roster_app::people::DirectoryEntry {
            key: email.clone(),
            email: Some(email),
            display_name: None,
            kind: "person".into(),
            active,
        })
        .collect();
    roster
        .import_people(
            &Principal::cli("demo"),
            "sample directory",
            "sample",
            &people,
            roster_app::people::DepartureGuard::default(),
            now,
        )
        .await?;
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
                rules: roster_core::campaign::CampaignRules::new(FALLBACK),
            },
            Utc::now(),
        )
        .await?;
    println!(
        "SAMPLE DATA: launched campaign `{}` over {} critical identities",
        campaign.name, campaign.item_count
    );
    // Sign-in links for the three views: IAM, the owner with the most items to review, an
    // auditor. Each is single use.
    let reviewers = roster
        .campaign_view(&demo, campaign.id, None, None, None, 1)
        .await?
        .reviewers;
    let owner = reviewers
        .into_iter()
        .filter(|(who, _)| who.contains('@') && *who != FALLBACK)
        .max_by_key(|(_, n)| *n);
    let now = Utc::now();
    let mut links = vec![(
        "IAM admin (launches and closes campaigns)".to_owned(),
        roster
            .issue_sign_in_link(&demo, &Principal::bootstrap(), now)
            .await?,
    )];
    if let Some((who, n)) = owner {
        links.push((
            format!("owner {who} ({n} item(s) to review)"),
            roster
                .issue_sign_in_link(&demo, &Principal::demo(Role::Owner, &who), now)
                .await?,
        ));
    }
    links.push((
        "auditor (reads everything, changes nothing)".to_owned(),
        roster
            .issue_sign_in_link(
                &demo,
                &Principal::demo(Role::Auditor, "auditor@example.com"),
                now,
            )
            .await?,
    ));
    let state = AppState {
        roster,
        secure_cookies: false,
        sample_banner: true,
        oidc: None,
        login_limiter: Default::default(),
        refusal_throttle: crate::http::limit::refusal_throttle(),
        exporting: Default::default(),
        exports: std::sync::Arc::new(tokio::sync::Semaphore::new(
            crate::http::pages::CONCURRENT_EXPORTS,
        )),
        trusted_proxies: Vec::new(),
        ready: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
    };
    http::serve(state, &args.bind, None, |addr, _| {
        println!();
        println!("Roster demo (sample data) is listening on http://{addr}");
        println!("Sign in with one of these links (each works once, for 15 minutes):");
        for (label, token) in &links {
            println!("  {label}:");
            println!("    http://{addr}/login/bootstrap?token={token}");
        }
    })
    .await?;
    drop(dir);
    Ok(ExitCode::SUCCESS)
}
