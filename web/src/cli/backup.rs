//! `roster backup --to FILE` and `roster restore FILE`: a consistent copy of the SQLite store,
//! taken while it is in use, checked (audit chain, records) before it is called good; and a
//! checked copy put back in place. PostgreSQL is backed up with its own tools (`pg_dump`).
//! `roster prune`: history past the retention settings deleted.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use roster_app::config::Config;

use super::{CliError, CliResult, load_config, open, principal};

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the copy goes; it must not exist.
    #[arg(long)]
    pub to: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// A copy made by `roster backup`.
    pub file: PathBuf,
    /// Replace the configured database when it exists (stop every server and sync first).
    #[arg(long)]
    pub force: bool,
}

/// What a copy holds, once its audit chain has verified.
async fn check_copy(path: &Path, config: &Config) -> Result<(u64, u64), CliError> {
    let mut copy = config.clone();
    // Read-write but never created (`rw`, not `rwc`): opening sets WAL mode on the copy.
    copy.database.url = format!("sqlite://{}?mode=rw", path.display());
    let roster = open(copy).await?;
    let (events, broken) = roster.verify_audit(&principal()).await?;
    if let Some(b) = broken {
        return Err(CliError::Usage(format!(
            "{}: the audit trail in the copy is broken at event {}: {}",
            path.display(),
            b.id,
            b.reason
        )));
    }
    Ok((roster.record_count().await?, events))
}

pub async fn backup(args: BackupArgs) -> CliResult {
    let config = load_config(args.config.as_deref())?;
    let roster = open(config.clone()).await?;
    roster.backup_to(&principal(), &args.to).await?;
    let (records, events) = check_copy(&args.to, &config).await?;
    println!(
        "backed up {records} records and {events} audit events (chain intact) to {}",
        args.to.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn restore(args: RestoreArgs) -> CliResult {
    let config = load_config(args.config.as_deref())?;
    let Some(target) = super::sqlite_file(&config.database.url) else {
        return Err(CliError::Usage(
            "restore puts back an SQLite copy; restore PostgreSQL with `pg_restore`".into(),
        ));
    };
    // The copy is checked before anything is touched.
    let (records, events) = check_copy(&args.file, &config).await?;
    if target.exists() && !args.force {
        return Err(CliError::Usage(format!(
            "{} exists: stop every `roster serve` and sync, then run again with --force",
            target.display()
        )));
    }
    // Copied beside the target, then renamed over it: never half a database in place.
    let tmp = target.with_extension("restoring");
    std::fs::copy(&args.file, &tmp)?;
    for side in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{side}", target.display()));
    }
    std::fs::rename(&tmp, &target)?;
    let roster = open(config).await?;
    roster
        .record_event(
            super::actor(),
            "store.restored",
            None,
            serde_json::json!({"from": args.file.display().to_string(), "records": records,
                               "events_in_copy": events}),
            chrono::Utc::now(),
        )
        .await?;
    println!(
        "restored {records} records and {events} audit events from {} into {}",
        args.file.display(),
        target.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
}

pub async fn prune(args: PruneArgs) -> CliResult {
    let config = load_config(args.config.as_deref())?;
    let roster = open(config).await?;
    let p = roster.prune(&principal(), chrono::Utc::now()).await?;
    let kept = |before: Option<chrono::DateTime<chrono::Utc>>| {
        before.map_or_else(
            || "all kept".to_owned(),
            |b| format!("before {}", b.date_naive()),
        )
    };
    println!(
        "pruned {} record history rows ({}) and {} sync run reports ({})",
        p.record_history_rows,
        kept(p.record_history_before),
        p.sync_run_reports,
        kept(p.sync_run_detail_before)
    );
    Ok(ExitCode::SUCCESS)
}
