use std::process::ExitCode;
use std::sync::Arc;

use chrono::Utc;
use roster_connector_sdk::SystemClock;

use super::{ConfigArg, load_config, open_store, record_config_changes};
use crate::http::{self, AppState, Oidc, Sessions};
use crate::siem_webhook::SiemWebhook;
use crate::{policy, scheduler};

pub async fn run(args: ConfigArg) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    let loaded = policy::load_with_hash(config.policy.file.as_deref())?;
    let policy = loaded.policy.clone();
    // Secrets are read (and a bad reference refused) before anything is opened.
    let siem = SiemWebhook::from_config(&config.audit, Arc::new(SystemClock))?;
    let notifier = config.notifications.notifier()?;
    let public_url = config.server.public_url.trim_end_matches('/').to_owned();
    // With a provider, sign-in goes through it and no bootstrap link is issued.
    let oidc = match &config.auth.oidc {
        Some(cfg) => Some(Oidc::discover(cfg, &public_url).await?),
        None => None,
    };
    let store = open_store(&config).await?;
    record_config_changes(
        &store,
        args.config.as_deref(),
        config.policy.file.as_deref(),
        &loaded.hash,
        Utc::now(),
    )
    .await?;
    // Stored evaluations made under another policy would mislead the tier filter: the pages
    // evaluate those records in full until a sync stores this policy's view.
    store
        .mark_evaluations_due_unless_policy(&loaded.hash)
        .await?;
    // This server, as holder of the leases that make scheduled work run on one server at a time
    // when several share one database.
    let holder = format!(
        "{}-{}",
        std::process::id(),
        &crate::http::random_token()[..8]
    );
    if let Some(siem) = siem {
        tracing::info!("copying the audit trail to the SIEM webhook");
        tokio::spawn(siem.run(store.clone(), holder.clone()));
    }
    // Scheduled syncs, campaign launches and reminders.
    let _scheduler = scheduler::start(scheduler::JobContext {
        store: store.clone(),
        config: config.clone(),
        policy: loaded.policy,
        policy_hash: loaded.hash,
        holder,
        public_url: public_url.clone(),
        reminders: notifier
            .clone()
            .map(|n| Arc::new(n) as Arc<dyn scheduler::ReminderChannel>),
    })
    .await?;
    let sessions = Sessions::default();
    let token = oidc.is_none().then(|| sessions.issue_bootstrap(Utc::now()));
    let state = AppState {
        store,
        policy,
        sessions,
        secure_cookies: public_url.starts_with("https://"),
        sample_banner: config.connectors.iter().any(|c| c.kind == "synthetic"),
        oidc,
        login_limiter: Default::default(),
        contexts: Default::default(),
        notifier,
        campaign_definitions: config.campaigns.clone(),
        connectors: config.connectors.clone(),
    };
    http::serve(state, &config.server.bind, |addr| {
        println!("Roster is listening on {addr}");
        match token {
            Some(token) => {
                println!("One-time admin sign-in link (valid 15 minutes, single use):");
                println!("  {public_url}/login/bootstrap?token={token}");
            }
            None => println!("Sign in at {public_url}/login"),
        }
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}
