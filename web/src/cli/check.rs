//! `roster check`: the policy as a CI gate. Exit 0 when no record is at or above `--fail-on`,
//! 1 when some are, 2 when the check itself could not run (bad config or policy, no database).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, SecondsFormat, Utc};
use roster_core::{InventoryItem, Platform, Severity, Tier};
use serde::Serialize;
use serde_json::json;

use roster_app::inventory_view::InventoryQuery;
use roster_app::scope::Sort;

use super::{CliResult, load_config, open_existing, principal};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CheckFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Fail when any record's tier is this or worse.
    #[arg(long, default_value = "high")]
    pub fail_on: Tier,
    /// Evaluate the policy at this moment instead of now: a date (2027-01-01), a UTC time
    /// (2027-01-01T09:30:00) or an RFC 3339 time.
    #[arg(long, value_parser = super::parse_moment)]
    pub as_of: Option<DateTime<Utc>>,
    /// Only records of this platform.
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Only records of this connector.
    #[arg(long)]
    pub connector: Option<String>,
    /// Output: text, JSON, or SARIF 2.1.0 for code-scanning tools.
    #[arg(long, value_enum, default_value = "text")]
    pub format: CheckFormat,
    /// Also fail (exit 2) when the last completed sync is older than this many hours: a gate on
    /// stale data.
    #[arg(long)]
    pub max_sync_age_hours: Option<u32>,
}

#[derive(Serialize)]
struct CheckReport {
    as_of: DateTime<Utc>,
    fail_on: Tier,
    policy_hash: String,
    evaluated: u64,
    /// Records per tier.
    tiers: BTreeMap<Tier, u64>,
    passed: bool,
    /// Records at or above `fail_on`, with the findings that produced their tier.
    failing: Vec<InventoryItem>,
}

pub async fn run(args: CheckArgs) -> CliResult {
    match check(&args).await {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

async fn check(args: &CheckArgs) -> CliResult {
    let roster = open_existing(load_config(args.config.as_deref())?).await?;
    // A gate on no data would pass: the store must have completed a sync (recently enough).
    let Some(synced) = roster.last_completed_sync().await? else {
        eprintln!(
            "error: the inventory has never been synced: no `roster sync` has completed on \
             this database, so there is nothing to check; run `roster sync` first"
        );
        return Ok(ExitCode::from(2));
    };
    if let Some(hours) = args.max_sync_age_hours
        && Utc::now() - synced > chrono::Duration::hours(i64::from(hours))
    {
        eprintln!(
            "error: the last completed sync finished {}, more than {hours} hour(s) ago \
             (--max-sync-age-hours); run `roster sync` first",
            synced.to_rfc3339_opts(SecondsFormat::Secs, true)
        );
        return Ok(ExitCode::from(2));
    }
    let mut q = InventoryQuery::new(args.as_of.unwrap_or_else(Utc::now));
    q.filter.platform = args.platform;
    q.filter.connector = args.connector.clone();
    let p = principal();

    let mut report = CheckReport {
        as_of: q.as_of,
        fail_on: args.fail_on,
        policy_hash: roster.policy_hash().to_owned(),
        evaluated: 0,
        tiers: Tier::ALL.iter().map(|t| (*t, 0)).collect(),
        passed: true,
        failing: Vec::new(),
    };
    let mut after = None;
    loop {
        let (items, next) = roster.query_page(&p, &q, Sort::Id, after, 2000).await?;
        for item in items {
            report.evaluated += 1;
            *report.tiers.entry(item.tier).or_default() += 1;
            if item.tier >= args.fail_on {
                report.failing.push(item);
            }
        }
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    report.passed = report.failing.is_empty();
    match args.format {
        CheckFormat::Text => print!("{}", text(&report)),
        CheckFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        CheckFormat::Sarif => println!("{}", serde_json::to_string_pretty(&sarif(&report))?),
    }
    Ok(if report.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The findings that count towards a failing record's tier.
fn reasons(item: &InventoryItem) -> impl Iterator<Item = &roster_core::Finding> {
    item.findings
        .iter()
        .filter(|f| f.severity > Severity::Info && f.exception.is_none())
}

fn text(r: &CheckReport) -> String {
    let tiers: Vec<String> = r
        .tiers
        .iter()
        .rev()
        .map(|(t, n)| format!("{n} {t}"))
        .collect();
    let mut out = format!(
        "roster check at {} (policy {}): {} record(s): {}\n",
        r.as_of.to_rfc3339_opts(SecondsFormat::Secs, true),
        r.policy_hash,
        r.evaluated,
        tiers.join(", ")
    );
    for item in &r.failing {
        out.push_str(&format!(
            "{} {} {}/{} {} `{}`\n",
            item.tier.as_str().to_uppercase(),
            item.id,
            item.platform,
            item.scope,
            item.kind,
            item.name
        ));
        for f in reasons(item) {
            out.push_str(&format!(
                "    {} [{}, {}] {}\n",
                f.rule, f.owasp, f.severity, f.message
            ));
        }
    }
    out.push_str(&if r.passed {
        format!("PASS: nothing at or above {}\n", r.fail_on)
    } else {
        format!(
            "FAIL: {} record(s) at or above {}\n",
            r.failing.len(),
            r.fail_on
        )
    });
    out
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// SARIF 2.1.0: one result per finding (above info) on each failing record; the record is a
/// logical location, since an identity has no file.
fn sarif(r: &CheckReport) -> serde_json::Value {
    let mut rules: BTreeMap<&str, (&roster_core::Finding, usize)> = BTreeMap::new();
    for item in &r.failing {
        for f in reasons(item) {
            let next = rules.len();
            rules.entry(f.rule.as_str()).or_insert((f, next));
        }
    }
    let mut ordered: Vec<(&str, &roster_core::Finding)> =
        rules.iter().map(|(id, (f, _))| (*id, *f)).collect();
    ordered.sort_by_key(|(id, _)| *id);
    let index_of = |rule: &str| ordered.iter().position(|(id, _)| *id == rule).unwrap_or(0);
    let results: Vec<serde_json::Value> = r
        .failing
        .iter()
        .flat_map(|item| {
            reasons(item).map(move |f| {
                json!({
                    "ruleId": f.rule,
                    "ruleIndex": index_of(&f.rule),
                    "level": sarif_level(f.severity),
                    "message": { "text": f.message },
                    "locations": [{
                        "logicalLocations": [{
                            "name": item.name,
                            "fullyQualifiedName": format!("{}/{}/{}/{}", item.platform, item.scope, item.kind, item.external_id),
                            "kind": "resource"
                        }]
                    }],
                    "partialFingerprints": { "rosterRecordId/v1": format!("{}:{}", item.id, f.rule) },
                    "properties": { "tier": item.tier, "owasp": f.owasp, "recordId": item.id }
                })
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "Roster",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": ordered.iter().map(|(id, f)| json!({
                    "id": id,
                    "shortDescription": { "text": id },
                    "defaultConfiguration": { "level": sarif_level(f.severity) },
                    "properties": { "owasp": f.owasp, "tags": [f.owasp.as_str()] }
                })).collect::<Vec<_>>()
            }},
            "invocations": [{ "executionSuccessful": true }],
            "properties": { "policyHash": r.policy_hash, "asOf": r.as_of, "failOn": r.fail_on },
            "results": results
        }]
    })
}
