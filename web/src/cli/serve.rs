use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use roster_app::api_tokens::random_token;
use roster_app::scheduler;
use roster_app::siem_webhook::SiemWebhook;
use roster_connector_sdk::SystemClock;

use super::{CliResult, ConfigArg, actor, load_config, open};
use crate::http::{self, AppState, Listen, Oidc};

pub async fn run(args: ConfigArg) -> CliResult {
    // Before anything else, so that a SIGTERM from here on stops the server gracefully.
    let mut stop = StopSignal::new()?;
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
    let grace = Duration::from_secs(u64::from(config.server.shutdown_grace_seconds));
    let metrics_bind = config.server.metrics_address()?;
    let trusted_proxies = config.server.trusted_networks()?;
    let sample_banner = config.connectors.iter().any(|c| c.kind == "synthetic");
    let metrics = Arc::new(roster_app::metrics::Metrics::new()?);
    // Listening before the database is opened: migrations can take minutes, and meanwhile
    // /healthz says the process is alive and /readyz says it is not ready.
    let socket = std::net::TcpListener::bind(&config.server.bind)?;
    let metrics_socket = metrics_bind.map(http::bind_metrics).transpose()?;
    let starting = http::starting_server(&socket)?;
    let starting_handle = starting.handle();
    tokio::spawn(starting);
    let opened = tokio::select! {
        r = open(config) => r,
        () = stop.recv() => {
            tracing::info!("stopped while opening the database");
            starting_handle.stop(false).await;
            return Ok(ExitCode::SUCCESS);
        }
    };
    let roster = Arc::new(
        opened?
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
    let siem_task = siem.map(|siem| {
        tracing::info!("copying the audit trail to the SIEM webhook");
        tokio::spawn(roster.siem_delivery(siem, holder.clone()))
    });
    // Scheduled syncs, campaign launches and reminders.
    let scheduler = scheduler::start(scheduler::JobContext {
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
    let ready = Arc::new(AtomicBool::new(false));
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
        ready: ready.clone(),
    };
    starting_handle.stop(true).await;
    let (server, addrs, metrics_addr) =
        http::server(state, Listen::Socket(socket), Some(grace), metrics_socket)?;
    let handle = server.handle();
    let mut serving = tokio::spawn(server);
    ready.store(true, Ordering::Release);
    if let Some(addr) = addrs.first() {
        println!("Roster is listening on {addr}");
    }
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
    let ended = tokio::select! {
        () = stop.recv() => None,
        r = &mut serving => Some(r),
    };
    if let Some(ended) = ended {
        // The server stopped on its own: nothing to drain; give the leases back all the same.
        tracing::error!("the HTTP server stopped: {ended:?}");
    }
    // A graceful stop: not ready (load balancers stop sending), no new connections, requests
    // in flight and scheduled jobs under way get `grace` to finish (side by side), then this
    // server's leases go back, so another replica takes over its work at once.
    tracing::info!(grace_seconds = grace.as_secs(), "stopping");
    ready.store(false, Ordering::Release);
    if let Some(task) = siem_task {
        task.abort();
        let _ = task.await;
    }
    tokio::join!(handle.stop(true), scheduler.stop(grace));
    if !serving.is_finished() {
        let _ = serving.await;
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM (what `kill`, systemd and Kubernetes send) or SIGINT (Ctrl-C), registered at once so
/// that neither kills the process before the handler runs.
struct StopSignal {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignal {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
