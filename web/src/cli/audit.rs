//! `roster audit verify|export`: the hash-chained audit trail from the shell.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use roster_app::audit::Checkpoint;

use super::{CliError, CliResult, ConfigArg, load_config, open, principal};

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; name the first broken event. Exit 0 intact, 1 broken.
    Verify(VerifyArgs),
    /// Print the chain's newest event as a checkpoint (JSON) to keep outside the database;
    /// `verify --checkpoint FILE` then also detects a trail shortened since.
    Checkpoint(ConfigArg),
    /// Print the events, oldest first, one JSON object per line (for a SIEM or an archive).
    Export(ExportArgs),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON lines: id, at, actor, action, target, detail (JSON), prev_hash, hash.
    Jsonl,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// A checkpoint printed by `roster audit checkpoint`: the chain must still reach it.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Only events with a larger id (resume an earlier export).
    #[arg(long, default_value_t = 0)]
    pub after: i64,
    /// Output: JSON lines, one event per line.
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: ExportFormat,
}

/// Events read per query while exporting.
const EXPORT_BATCH: u64 = 1000;

pub async fn run(cmd: AuditCommand) -> CliResult {
    let p = principal();
    match cmd {
        AuditCommand::Verify(args) => {
            let config = load_config(args.config.as_deref())?;
            let checkpoint = match &args.checkpoint {
                Some(file) => {
                    let text = std::fs::read_to_string(file).map_err(|e| {
                        CliError::Usage(format!("cannot read {}: {e}", file.display()))
                    })?;
                    Some(serde_json::from_str::<Checkpoint>(&text).map_err(|e| {
                        CliError::Usage(format!("{}: not a checkpoint: {e}", file.display()))
                    })?)
                }
                None => None,
            };
            // The key is read only to check a checkpoint: a plain verify needs none.
            let pinned_key =
                checkpoint.is_some() && config.audit.checkpoint_verifying_key()?.is_some();
            let roster = open(config).await?;
            // One walk of the chain gives the verdict and how many events are keyed.
            let verified = match &checkpoint {
                Some(c) => roster.verify_audit_against(&p, c).await?,
                None => roster.verify_audit_chain(&p).await?,
            };
            let (intact, unkeyed) = (verified.events, verified.unkeyed);
            match verified.broken {
                None => {
                    let how = match (roster.audit_chain_keyed(), unkeyed) {
                        (false, _) => " (hash-chained; set audit.chain_key_env or \
                                       audit.chain_key_file to key new events)"
                            .to_owned(),
                        (true, 0) => " (keyed)".to_owned(),
                        (true, n) => format!(
                            " (keyed; the first {n} were written before the chain key was set \
                             and are hash-chained only)"
                        ),
                    };
                    match &checkpoint {
                        Some(c) => println!(
                            "audit trail intact: {intact} event(s){how}; it still reaches \
                             checkpoint event {}{}",
                            c.id,
                            match (pinned_key, c.signature.is_some()) {
                                (true, _) => " (signature verified)",
                                (false, true) =>
                                    " (signed, but not verified: set \
                                                  audit.checkpoint_public_key)",
                                (false, false) => " (unsigned)",
                            }
                        ),
                        None => println!("audit trail intact: {intact} event(s){how}"),
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Some(b) => {
                    println!(
                        "audit trail BROKEN at event {}: {} ({intact} event(s) before it verify)",
                        b.id, b.reason
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::Checkpoint(args) => {
            let roster = open(load_config(args.config.as_deref())?).await?;
            match roster.audit_checkpoint(&p, chrono::Utc::now()).await? {
                Some(c) => {
                    println!("{}", serde_json::to_string(&c)?);
                    Ok(ExitCode::SUCCESS)
                }
                None => Err(CliError::Usage(
                    "the audit trail is empty: there is nothing to checkpoint".into(),
                )),
            }
        }
        AuditCommand::Export(args) => {
            let roster = open(load_config(args.config.as_deref())?).await?;
            let ExportFormat::Jsonl = args.format;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut after = args.after;
            loop {
                let batch = roster.audit_events(&p, after, EXPORT_BATCH).await?;
                let Some(last) = batch.last() else { break };
                after = last.id;
                for ev in &batch {
                    serde_json::to_writer(&mut out, &roster_app::audit::export_json(ev))?;
                    out.write_all(b"\n")?;
                }
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
