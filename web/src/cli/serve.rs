use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use roster_app::api_tokens::random_token;
use roster_app::scheduler;
use roster_app::siem_webhook::SiemWebhook;
use roster_connector_sdk::SystemClock;

use super::{CliResult, ConfigArg, actor, load_config, open};
use crate::http::{self, AppState, Oidc};

pub async fn run(args: ConfigArg) -> CliResult {
    let config = load_config(args.config.as_deref())?;
    // Secrets are read (and a bad reference refused) before anything is opened.
    let siem = SiemWebhook::from_config(&config.audit, Arc::new(SystemClock))?;
    let notifier = config.notifications.notifier()?;
    let public_url = config.server.public_url.trim_end_matches('/').to_owned();
    // With a provider, sign-in goes through it and no bootstrap link is issued.
    let oidc = match &config.auth.oidc {
        Some(cfg) => Some(Oidc::discover(cfg, &public_url).await?),
        None => None,
    };
    let bind = config.server.bind.clone();
    let metrics_bind = config.server.metrics_address()?;
    let trusted_proxies = config.server.trusted_networks()?;
    let sample_banner = config.connectors.iter().any(|c| c.kind == "synthetic");
    let metrics = Arc::new(roster_app::metrics::Metrics::new()?);
    let roster = Arc::new(
        open(config)
            .await?
            .with_notifier(notifier.clone())
            .with_metrics(metrics),
    );
    roster
        .record_config_changes(args.config.as_deref(), &actor(), Utc::now())
        .await?;
    // Stored evaluations made under another policy would mislead the tier filter: the pages
    // evaluate those records in full until a sync stores this policy's view.
    roster.mark_stale_policy_due().await?;
    // This server, as holder of the leases that make scheduled work run on one server at a time
    // when several share one database.
    let holder = format!("{}-{}", std::process::id(), &random_token()[..8]);
    if let Some(siem) = siem {
        tracing::info!("copying the audit trail to the SIEM webhook");
        tokio::spawn(roster.siem_delivery(siem, holder.clone()));
    }
    // Scheduled syncs, campaign launches and reminders.
    let _scheduler = scheduler::start(scheduler::JobContext {
        roster: roster.clone(),
        holder,
        public_url: public_url.clone(),
        reminders: notifier.map(|n| Arc::new(n) as Arc<dyn scheduler::ReminderChannel>),
    })
    .await?;
    // Without a provider, the admin's link is printed only until someone has signed in: a
    // log read later must not hand out admin. Afterwards `roster admin sign-in-link` issues one.
    let token = match (&oidc, roster.anyone_signed_in().await?) {
        (None, false) => Some(
            roster
                .issue_sign_in_link(
                    &roster_app::Principal::cli(actor()),
                    &roster_app::Principal::bootstrap(),
                    Utc::now(),
                )
                .await?,
        ),
        _ => None,
    };
    let has_oidc = oidc.is_some();
    let state = AppState {
        roster,
        secure_cookies: public_url.starts_with("https://"),
        sample_banner,
        oidc,
        login_limiter: Default::default(),
        refusal_throttle: crate::http::limit::refusal_throttle(),
        exporting: Default::default(),
        exports: std::sync::Arc::new(tokio::sync::Semaphore::new(
            crate::http::pages::CONCURRENT_EXPORTS,
        )),
        trusted_proxies,
    };
    http::serve(state, &bind, metrics_bind, |addr, metrics_addr| {
        println!("Roster is listening on {addr}");
        if let Some(m) = metrics_addr {
            println!("Metrics without a token at http://{m}/metrics");
        }
        match token {
            Some(token) => {
                println!("One-time admin sign-in link (valid 15 minutes, single use):");
                println!("  {public_url}/login/bootstrap?token={token}");
            }
            None if has_oidc => println!("Sign in at {public_url}/login"),
            None => println!(
                "No identity provider: for an admin sign-in link run `roster admin sign-in-link`"
            ),
        }
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
