//! `roster claim ID --owner WHO`: records an ownership claim (audited). A claim gives an owner to
//! an identity that neither the policy's `[[owners]]` nor its platform names.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use roster_core::RecordId;
use roster_store::audit::NewAuditEvent;

use super::{actor, load_config, open_store};

#[derive(Debug, clap::Args)]
pub struct ClaimArgs {
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// The record's id (16 hex digits).
    pub id: RecordId,
    /// The person or team who owns it.
    #[arg(long)]
    pub owner: String,
    #[arg(long, default_value = "")]
    pub note: String,
}

pub async fn run(args: ClaimArgs) -> anyhow::Result<ExitCode> {
    let owner = args.owner.trim();
    if owner.is_empty() {
        anyhow::bail!("--owner must name a person or team");
    }
    let config = load_config(args.config.as_deref())?;
    let store = open_store(&config).await?;
    let row = store.record(args.id.0).await?;
    let now = Utc::now();
    let by = actor();
    // The claim and its audit event commit together: no event, no claim.
    store
        .claim_ownership_audited(
            args.id.0,
            owner,
            &by,
            &args.note,
            NewAuditEvent {
                actor: by.clone(),
                action: "ownership.claim".into(),
                target: Some(args.id.to_string()),
                detail: serde_json::json!({"owner": owner, "note": args.note, "record": row.name}),
            },
            now,
        )
        .await?;
    match &row.owner {
        Some(current) => println!(
            "claim recorded: `{}` claimed by {owner}; it keeps owner `{current}` ({}) which comes first",
            row.name,
            row.owner_source.as_deref().unwrap_or("unknown source")
        ),
        None => println!("claim recorded: `{}` is now owned by {owner}", row.name),
    }
    Ok(ExitCode::SUCCESS)
}
