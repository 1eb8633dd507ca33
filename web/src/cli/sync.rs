use std::path::PathBuf;
use std::process::ExitCode;

use roster_app::AppError;
use roster_app::sync::RunStatus;

use super::progress::TerminalProgress;
use super::{CliError, CliResult, actor, load_config, open};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Run only these connectors (by name); repeatable.
    #[arg(long = "connector")]
    pub connectors: Vec<String>,
    /// Output: text (progress on stderr, a summary on stdout) or the run report as JSON.
    #[arg(long, value_enum, default_value = "text")]
    pub format: ReportFormat,
    /// When another process is syncing one of these connectors, wait for it to finish instead
    /// of exiting 3.
    #[arg(long)]
    pub wait: bool,
}

/// Exit codes: 0 every listing complete, 2 partial (some listings not seen; nothing swept
/// there), 3 another process is syncing one of the connectors, 1 error (nothing could be read,
/// or the store failed).
pub async fn run(args: SyncArgs) -> CliResult {
    let config = load_config(args.config.as_deref())?;
    // Every connector is built (and a bad one refused) before anything is opened.
    let sources = roster_app::registry::build_all(&config.connectors, &args.connectors)?;
    if sources.is_empty() {
        return Err(CliError::Usage(
            "no connectors configured: add a [[connectors]] section to the configuration".into(),
        ));
    }
    let connector_configs = config.connectors.clone();
    let roster = open(config).await?;
    roster
        .record_config_changes(args.config.as_deref(), &actor(), chrono::Utc::now())
        .await?;
    let full = args.connectors.is_empty();
    let mut sources = Some(sources);
    let mut waiting = false;
    let report = loop {
        let progress = TerminalProgress::new(matches!(args.format, ReportFormat::Text));
        let attempt = roster
            .sync_once(
                sources.take().unwrap_or_default(),
                full,
                &actor(),
                &progress,
            )
            .await;
        progress.finish();
        match attempt {
            // `sync_once` is refused before it reads anything: the sources are rebuilt.
            Err(AppError::Conflict(busy)) if args.wait => {
                if !waiting {
                    eprintln!("{busy}; waiting for it to finish");
                    waiting = true;
                }
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                sources = Some(roster_app::registry::build_all(
                    &connector_configs,
                    &args.connectors,
                )?);
            }
            Err(AppError::Conflict(busy)) => {
                eprintln!("error: {busy}");
                return Ok(ExitCode::from(3));
            }
            other => break other?,
        }
    };
    match args.format {
        ReportFormat::Text => print!("{}", report.to_text()),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(match report.status {
        RunStatus::Ok => ExitCode::SUCCESS,
        RunStatus::Partial => ExitCode::from(2),
        _ => ExitCode::from(1),
    })
}
