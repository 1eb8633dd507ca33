//! `roster campaign create|list|show|close|remediate|export`: campaigns from the shell. Whoever
//! runs these has the configuration and the database, so acts as IAM (`cli:<login>`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use roster_core::campaign::{CampaignRules, CloseOut};

use roster_app::campaigns::{self, LaunchRequest};

use super::{CliError, CliResult, load_config, open, principal};

#[derive(Debug, clap::Subcommand)]
pub enum CampaignCommand {
    /// Launch a campaign now: from a `[[campaigns]]` definition (--from) or from flags.
    Create(CreateArgs),
    /// Campaigns, newest first.
    List(ListArgs),
    /// One campaign: progress and who still has items to review.
    Show(ShowArgs),
    /// Sign off and close: unreviewed items get the close-out rule, revocations become tasks.
    Close(CloseArgs),
    /// Carry out a closed campaign's revocations: a dry run unless --execute.
    Remediate(RemediateArgs),
    /// The evidence: csv, json, html (printable report), or tickets (what is left to do by hand).
    Export(ExportArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// A `[[campaigns]]` definition in the configuration to launch now.
    #[arg(long, conflicts_with_all = ["name", "scope", "fallback_reviewer"])]
    pub from: Option<String>,
    /// The campaign's name (each launch of a definition is named after it and the date).
    #[arg(long)]
    pub name: Option<String>,
    /// An inventory query string, e.g. `platform=aws&tier=high` (default: everything).
    #[arg(long, default_value = "")]
    pub scope: String,
    /// Days the reviewers have, 1 to 366.
    #[arg(long, default_value_t = 14)]
    pub due_days: u32,
    /// Reviews what no owner or team can.
    #[arg(long)]
    pub fallback_reviewer: Option<String>,
    /// `escalate`, `revoke` or `leave_open`.
    #[arg(long, default_value = "escalate")]
    pub close_out: CloseOut,
    /// Keep decisions at or above this tier need a justification (`none`: never).
    #[arg(long, default_value = "high")]
    pub keep_justification_from: String,
    /// `TEAM=REVIEWER`, repeatable.
    #[arg(long = "team-reviewer")]
    pub team_reviewers: Vec<String>,
    /// Output: text or JSON.
    #[arg(long, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Csv,
    Json,
    Html,
    Tickets,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Output: text or JSON.
    #[arg(long, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// The campaign's id (`roster campaign list`).
    pub id: i64,
    /// Output: text or JSON.
    #[arg(long, default_value = "text")]
    pub format: Format,
}

#[derive(Debug, clap::Args)]
pub struct IdArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// The campaign's id (`roster campaign list`).
    pub id: i64,
}

#[derive(Debug, clap::Args)]
pub struct CloseArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// The campaign's id (`roster campaign list`).
    pub id: i64,
    /// With items still pending, how many you close unreviewed (`roster campaign show` says):
    /// the close is refused without it, or if the count has changed.
    #[arg(long, value_name = "N")]
    pub confirm_unreviewed: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct RemediateArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// The campaign's id (`roster campaign list`).
    pub id: i64,
    /// Change the platforms. Without it, a dry run.
    #[arg(long)]
    pub execute: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// The campaign's id (`roster campaign list`).
    pub id: i64,
    /// The evidence's format.
    #[arg(long, default_value = "csv")]
    pub format: ExportFormat,
}

fn rules_from_flags(args: &CreateArgs) -> Result<CampaignRules, CliError> {
    let Some(fallback) = args.fallback_reviewer.as_deref() else {
        return Err(CliError::Usage(
            "--fallback-reviewer is required (or launch a definition with --from)".into(),
        ));
    };
    let mut team_reviewers = HashMap::new();
    for t in &args.team_reviewers {
        let Some((team, reviewer)) = t.split_once('=') else {
            return Err(CliError::Usage(format!(
                "--team-reviewer `{t}`: expected TEAM=REVIEWER"
            )));
        };
        team_reviewers.insert(team.trim().to_owned(), reviewer.trim().to_owned());
    }
    let keep_justification_from =
        roster_core::campaign::parse_keep_justification_from(&args.keep_justification_from)
            .map_err(|e| CliError::Usage(format!("--keep-justification-from: {e}")))?;
    Ok(CampaignRules {
        fallback_reviewer: fallback.to_owned(),
        team_reviewers,
        close_out: args.close_out,
        keep_justification_from,
        reminder_days: vec![7, 3, 1],
    })
}

pub async fn run(cmd: CampaignCommand) -> CliResult {
    let p = principal();
    match cmd {
        CampaignCommand::Create(args) => create(args).await,
        CampaignCommand::List(args) => list(args).await,
        CampaignCommand::Show(args) => show(args).await,
        CampaignCommand::Close(args) => {
            let roster = open(load_config(args.config.as_deref())?).await?;
            let c = roster
                .sign_off_campaign(&p, args.id, args.confirm_unreviewed, Utc::now())
                .await?;
            let v = roster.campaign_view(&p, c.id, None, None, None, 1).await?;
            let (counts, tasks) = (v.counts, v.tasks);
            println!(
                "campaign {} `{}` signed off and closed: {} decided, {} unreviewed, {} remediation task(s); audit hash {}",
                c.id,
                c.name,
                counts.decided,
                counts.unreviewed,
                tasks.len(),
                c.audit_hash_at_close.as_deref().unwrap_or("-")
            );
            Ok(ExitCode::SUCCESS)
        }
        CampaignCommand::Remediate(args) => {
            let roster = open(load_config(args.config.as_deref())?).await?;
            let results = roster
                .carry_out_campaign(&p, args.id, args.execute, Utc::now())
                .await?;
            let mut failed = false;
            for r in &results {
                failed |= r.status == roster_core::campaign::TaskStatus::Failed;
                println!("task {} {} {}: {}", r.task, r.record, r.status, r.detail);
            }
            println!(
                "{}{} task(s)",
                if args.execute { "" } else { "DRY RUN: " },
                results.len()
            );
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        CampaignCommand::Export(args) => {
            let roster = open(load_config(args.config.as_deref())?).await?;
            let e = roster.campaign_evidence(&p, args.id).await?;
            let out = match args.format {
                ExportFormat::Csv => campaigns::evidence_csv(&e)?,
                ExportFormat::Tickets => campaigns::tickets_csv(&e)?,
                ExportFormat::Json => serde_json::to_string_pretty(&e)?,
                ExportFormat::Html => crate::http::campaign_report_html(&e)
                    .map_err(|e| CliError::Output(e.to_string()))?,
            };
            print!("{out}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn create(args: CreateArgs) -> CliResult {
    let config = load_config(args.config.as_deref())?;
    let now = Utc::now();
    // The flags are checked before anything is opened.
    let flags = match &args.from {
        Some(_) => None,
        None => Some(LaunchRequest {
            name: args
                .name
                .clone()
                .ok_or_else(|| CliError::Usage("--name is required (or use --from)".into()))?,
            definition: None,
            scope: args.scope.clone(),
            due_days: args.due_days,
            rules: rules_from_flags(&args)?,
        }),
    };
    if let Some(name) = &args.from
        && !config.campaigns.iter().any(|c| &c.name == name)
    {
        return Err(CliError::Usage(format!(
            "no [[campaigns]] definition named `{name}` in the configuration"
        )));
    }
    let roster = open(config).await?;
    let req = match (flags, &args.from) {
        (Some(req), _) => req,
        (None, Some(name)) => roster.definition_request(name, now)?,
        (None, None) => return Err(CliError::Usage("--name or --from".into())),
    };
    let c = roster.launch_campaign(&principal(), req, now).await?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({"id": c.id, "name": c.name, "items": c.item_count,
                               "due_at": c.due_at, "scope": c.scope})
        ),
        Format::Text => println!(
            "launched campaign {} `{}`: {} item(s), due {}",
            c.id,
            c.name,
            c.item_count,
            c.due_at.format("%Y-%m-%d")
        ),
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(args: ListArgs) -> CliResult {
    let roster = open(load_config(args.config.as_deref())?).await?;
    let rows = roster.campaigns(&principal(), 500).await?;
    match args.format {
        Format::Json => {
            let v: Vec<_> = rows
                .iter()
                .map(|(c, n)| {
                    serde_json::json!({"id": c.id, "name": c.name, "status": c.status,
                        "scope": c.scope, "launched_at": c.launched_at, "due_at": c.due_at,
                        "items": c.item_count, "pending": n.pending, "decided": n.decided,
                        "unreviewed": n.unreviewed})
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Text => {
            println!(
                "{:>5}  {:<32} {:<7} {:>7} {:>8} {:>8}  due",
                "id", "name", "status", "items", "pending", "decided"
            );
            for (c, n) in rows {
                println!(
                    "{:>5}  {:<32} {:<7} {:>7} {:>8} {:>8}  {}",
                    c.id,
                    c.name,
                    c.status,
                    c.item_count,
                    n.pending,
                    n.decided,
                    c.due_at.format("%Y-%m-%d")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn show(args: ShowArgs) -> CliResult {
    let roster = open(load_config(args.config.as_deref())?).await?;
    let v = roster
        .campaign_view(&principal(), args.id, None, None, None, 1)
        .await?;
    let (c, counts, reviewers) = (v.campaign, v.counts, v.reviewers);
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "id": c.id, "name": c.name, "status": c.status, "scope": c.scope,
                "launched_by": c.launched_by, "launched_at": c.launched_at, "due_at": c.due_at,
                "items": c.item_count, "counts": counts,
                "pending_by_reviewer": reviewers.iter().map(|(r, n)| serde_json::json!({"reviewer": r, "pending": n})).collect::<Vec<_>>(),
                "signed_off_by": c.signed_off_by, "closed_at": c.closed_at,
                "audit_hash_at_close": c.audit_hash_at_close,
            }))?
        ),
        Format::Text => {
            println!("campaign {} `{}` ({})", c.id, c.name, c.status);
            println!(
                "  scope: {}",
                if c.scope.is_empty() {
                    "everything"
                } else {
                    &c.scope
                }
            );
            println!(
                "  launched {} by {}, due {}",
                c.launched_at.format("%Y-%m-%d %H:%M"),
                c.launched_by,
                c.due_at.format("%Y-%m-%d")
            );
            println!(
                "  {} item(s): {} pending, {} decided, {} unreviewed",
                c.item_count, counts.pending, counts.decided, counts.unreviewed
            );
            for (r, n) in reviewers {
                println!("  waiting on {r}: {n}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
