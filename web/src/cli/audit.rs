//! `roster audit verify|export`: the hash-chained audit trail from the shell.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{CliResult, ConfigArg, load_config, open, principal};

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; name the first broken event. Exit 0 intact, 1 broken.
    Verify(ConfigArg),
    /// Print the events, oldest first, one JSON object per line (for a SIEM or an archive).
    Export(ExportArgs),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON lines: id, at, actor, action, target, detail (JSON), prev_hash, hash.
    Jsonl,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Only events with a larger id (resume an earlier export).
    #[arg(long, default_value_t = 0)]
    pub after: i64,
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: ExportFormat,
}

/// Events read per query while exporting.
const EXPORT_BATCH: u64 = 1000;

pub async fn run(cmd: AuditCommand) -> CliResult {
    let p = principal();
    match cmd {
        AuditCommand::Verify(args) => {
            let roster = open(load_config(args.config.as_deref())?).await?;
            let (intact, broken) = roster.verify_audit(&p).await?;
            match broken {
                None => {
                    println!("audit trail intact: {intact} event(s)");
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
