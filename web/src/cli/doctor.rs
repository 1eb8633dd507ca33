//! `roster doctor [--repair]`: stored evaluations against a fresh one, and runs left by dead
//! processes. Exit 0 when all held (or were repaired), 1 when something is wrong.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{CliResult, load_config, open_existing, principal};

#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Rewrite what is wrong (audited), instead of only reporting it.
    #[arg(long)]
    pub repair: bool,
    /// Output: text, or the report as JSON.
    #[arg(long, value_enum, default_value = "text")]
    pub format: super::sync::ReportFormat,
}

pub async fn run(args: DoctorArgs) -> CliResult {
    let config = load_config(args.config.as_deref())?;
    let roster = open_existing(config).await?;
    let report = roster
        .doctor(&principal(), args.repair, chrono::Utc::now())
        .await?;
    match args.format {
        super::sync::ReportFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&report)?)
        }
        super::sync::ReportFormat::Text => {
            println!(
                "stored evaluations: {} records checked, {} wrong, {} due for refresh",
                report.records_checked, report.evaluations_wrong, report.evaluations_due
            );
            for w in &report.examples {
                println!(
                    "  record {}: stored {} [{}], fresh {} [{}]",
                    w.id, w.stored_tier, w.stored_rules, w.fresh_tier, w.fresh_rules
                );
            }
            println!(
                "sync runs left running by a dead process: {}",
                report.dead_runs
            );
            println!(
                "search index: {}",
                if report.search_index_agrees {
                    "agrees with the records"
                } else {
                    "disagrees with the records"
                }
            );
            if report.repaired {
                println!(
                    "repaired: {} evaluations rewritten, {} runs closed as aborted{}",
                    report.evaluations_rewritten,
                    report.dead_runs,
                    if report.search_index_agrees {
                        ""
                    } else {
                        ", search index rebuilt"
                    }
                );
            } else if !report.healthy() {
                println!("run `roster doctor --repair` to fix them");
            }
        }
    }
    Ok(if report.healthy() || report.repaired {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
