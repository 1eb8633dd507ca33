//! The campaign service: launch (evaluate the scope, assign reviewers, snapshot), decide (check
//! against the rules, record with its audit event), sign off and close, carry out revocations
//! through the connectors, and the evidence. Handlers and CLI commands call these; time is an
//! argument.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use roster_core::InventoryItem;
use roster_core::campaign::{
    self, CampaignRules, CampaignStatus, CloseOut, Decider, DecisionInput, DecisionKind, ItemState,
    ItemUnderReview, ReviewSubject, ReviewerBasis, TaskStatus,
};
use roster_core::{Kind, RiskPolicy};
use roster_store::audit::NewAuditEvent;
use roster_store::campaigns::{CloseOutcome, NewCampaign, NewDecision, NewItem};

use roster_store::Store;
pub use roster_store::campaigns::{
    Campaign, CampaignDecision, CampaignItem, ItemCounts, RemediationTask, ReviewerProgress,
};
use serde::Serialize;
use serde_json::json;

use crate::Roster;
use crate::access::Principal;
use crate::csv_cell::CsvWriter;
use crate::error::AppError;
use crate::inventory_view::InventoryReader;
use crate::registry::Connectors;
use crate::scope::Scope;

fn closed() -> AppError {
    AppError::Conflict("the campaign is closed".into())
}

/// What to launch.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    pub name: String,
    /// The `[[campaigns]]` definition, for scheduled launches.
    pub definition: Option<String>,
    /// An inventory query string (`platform=aws&tier=high`): the same filters as the
    /// inventory page.
    pub scope: String,
    pub due_days: u32,
    pub rules: CampaignRules,
}

/// Items evaluated per page while launching.
const LAUNCH_PAGE: usize = 2000;

/// Parses a scope the way the inventory page parses its URL; a bad scope is refused before
/// anything is written.
pub fn parse_scope(scope: &str) -> Result<Scope, AppError> {
    let parsed = Scope::from_query_string(scope)?;
    if parsed.after.is_some() || parsed.limit.is_some() {
        return Err(AppError::Invalid(
            "a scope cannot carry a page cursor or size (`after`, `limit`)".into(),
        ));
    }
    Ok(parsed)
}

fn check_request(req: &LaunchRequest) -> Result<Scope, AppError> {
    if req.name.trim().is_empty() {
        return Err(AppError::Invalid("a campaign needs a name".into()));
    }
    if req.rules.fallback_reviewer.trim().is_empty() {
        return Err(AppError::Invalid(
            "a campaign needs a fallback reviewer".into(),
        ));
    }
    if !(1..=366).contains(&req.due_days) {
        return Err(AppError::Invalid("the due period is 1 to 366 days".into()));
    }
    parse_scope(&req.scope)
}

fn nothing_in_scope(params: &Scope) -> AppError {
    AppError::Invalid(format!(
        "the scope `{}` matches no identity or credential: no campaign launched",
        params.query_string()
    ))
}

/// A launch's scope, evaluated at its moment, a page at a time, each item with its reviewer.
struct ScopeWalk<'a> {
    reader: InventoryReader<'a>,
    query: crate::inventory_view::InventoryQuery,
    directory: roster_core::directory::Directory,
    rules: &'a CampaignRules,
    after: Option<i64>,
    done: bool,
}

impl<'a> ScopeWalk<'a> {
    async fn new(
        store: &'a Store,
        policy: &'a RiskPolicy,
        params: &Scope,
        rules: &'a CampaignRules,
        now: DateTime<Utc>,
    ) -> Result<Self, AppError> {
        Ok(Self {
            reader: InventoryReader::new(store, policy).await?,
            query: params.query_at(now),
            directory: store.directory().await?,
            rules,
            after: None,
            done: false,
        })
    }

    async fn next_page(
        &mut self,
    ) -> Result<Option<Vec<(InventoryItem, String, ReviewerBasis)>>, AppError> {
        if self.done {
            return Ok(None);
        }
        let (items, next) = self
            .reader
            .page(&self.query, self.after, LAUNCH_PAGE)
            .await?;
        self.after = next;
        self.done = next.is_none();
        Ok(Some(
            items
                .into_iter()
                .map(|item| {
                    let (reviewer, basis) = campaign::assign_reviewer(
                        self.rules,
                        &self.directory,
                        ReviewSubject {
                            owner: item.owner.as_deref(),
                            names: [&item.name, &item.external_id],
                        },
                    );
                    let reviewer = reviewer.trim().to_lowercase();
                    (item, reviewer, basis)
                })
                .collect(),
        ))
    }
}

/// What a launch would write, before anything is: for the person launching to check.
#[derive(Debug, Clone, Serialize)]
pub struct LaunchPreview {
    pub scope: String,
    pub items: u64,
    /// Items by tier, riskiest first.
    pub by_tier: Vec<(String, u64)>,
    /// Reviewers with how many items each, most first.
    pub reviewers: Vec<(String, u64)>,
    /// Items that go to the fallback reviewer (no owner, a departed owner, the identity itself).
    pub to_fallback: u64,
    /// Reviewers no reminder can reach: a login or team name, not an email address.
    pub without_email: Vec<String>,
}

/// Evaluates a launch's scope at `now` without writing anything.
pub async fn preview_launch(
    store: &Store,
    policy: &RiskPolicy,
    req: &LaunchRequest,
    now: DateTime<Utc>,
) -> Result<LaunchPreview, AppError> {
    let params = check_request(req)?;
    let mut walk = ScopeWalk::new(store, policy, &params, &req.rules, now).await?;
    let mut tiers: HashMap<roster_core::Tier, u64> = HashMap::new();
    let mut reviewers: HashMap<String, u64> = HashMap::new();
    let (mut items, mut to_fallback) = (0u64, 0u64);
    while let Some(page) = walk.next_page().await? {
        for (item, reviewer, basis) in page {
            items += 1;
            *tiers.entry(item.tier).or_default() += 1;
            *reviewers.entry(reviewer).or_default() += 1;
            to_fallback += u64::from(basis == ReviewerBasis::Fallback);
        }
    }
    if items == 0 {
        return Err(nothing_in_scope(&params));
    }
    let mut by_tier: Vec<_> = tiers.into_iter().collect();
    by_tier.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
    let mut reviewers: Vec<(String, u64)> = reviewers.into_iter().collect();
    reviewers.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(LaunchPreview {
        scope: params.query_string(),
        items,
        by_tier: by_tier
            .into_iter()
            .map(|(t, n)| (t.as_str().to_owned(), n))
            .collect(),
        without_email: reviewers
            .iter()
            .filter(|(r, _)| !r.contains('@'))
            .map(|(r, _)| r.clone())
            .collect(),
        reviewers,
        to_fallback,
    })
}

/// Launches a campaign: every identity and credential in scope, evaluated at `now`, becomes an
/// item with its reviewer and a snapshot. One transaction.
pub async fn launch(
    store: &Store,
    policy: &RiskPolicy,
    req: LaunchRequest,
    launched_by: &str,
    now: DateTime<Utc>,
) -> Result<Campaign, AppError> {
    let params = check_request(&req)?;
    let mut walk = ScopeWalk::new(store, policy, &params, &req.rules, now).await?;
    let mut launch = store
        .begin_launch(NewCampaign {
            name: req.name.trim().to_owned(),
            definition: req.definition.clone(),
            scope: params.query_string(),
            rules: req.rules.clone(),
            launched_by: launched_by.to_owned(),
            launched_at: now,
            due_at: now + Duration::days(i64::from(req.due_days)),
        })
        .await?;
    let mut count = 0u64;
    while let Some(page) = walk.next_page().await? {
        let mut rows = Vec::with_capacity(page.len());
        for (item, reviewer, basis) in page {
            rows.push(NewItem {
                record_id: item.id.0,
                platform: item.platform.as_str().to_owned(),
                kind: item.kind.as_str().to_owned(),
                name: item.name.clone(),
                tier: item.tier.as_str().to_owned(),
                reviewer,
                reviewer_basis: basis.as_str().to_owned(),
                snapshot: serde_json::to_string(&item)
                    .map_err(|e| AppError::Internal(e.to_string()))?,
            });
        }
        count += rows.len() as u64;
        launch.add_items(rows).await?;
    }
    if count == 0 {
        // Dropping the launch rolls it back: nothing was written.
        return Err(nothing_in_scope(&params));
    }
    let audit = NewAuditEvent {
        actor: launched_by.to_owned(),
        action: "campaign.launched".into(),
        target: None,
        detail: json!({"name": req.name.trim(), "scope": params.query_string(), "items": count,
                       "due_days": req.due_days, "definition": req.definition,
                       "rules": req.rules}),
    };
    Ok(launch.finish(audit, now).await?)
}

pub fn snapshot_of(item: &CampaignItem) -> Result<InventoryItem, AppError> {
    serde_json::from_str(&item.snapshot)
        .map_err(|e| AppError::Internal(format!("item {}: {e}", item.id)))
}

/// Personal credentials are used by their owner: deciding on one's own is flagged.
fn used_by(item: &InventoryItem) -> Option<&str> {
    matches!(item.kind, Kind::PersonalAccessToken).then_some(item.owner.as_deref())?
}

/// Whether the latest concluding decision among `decisions` (oldest first) was an admin's made
/// for the item's reviewer.
pub fn standing_decision_was_an_admins(decisions: &[CampaignDecision]) -> bool {
    decisions
        .iter()
        .rev()
        .find(|d| !d.decision.hands_over())
        .is_some_and(|d| {
            serde_json::from_str::<Vec<campaign::DecisionWarning>>(&d.warnings)
                .unwrap_or_default()
                .iter()
                .any(|w| matches!(w, campaign::DecisionWarning::DecidedForReviewer { .. }))
        })
}

/// One item's decision to record: what was decided, and the suggestion rule it accepts.
pub struct ItemDecision {
    pub item: i64,
    pub input: DecisionInput,
    pub suggestion_rule: Option<String>,
}

/// Checks and records one decision on each of `item_ids` (one transaction: all or none).
pub async fn decide(
    store: &Store,
    decider: Decider<'_>,
    item_ids: &[i64],
    input: &DecisionInput,
    now: DateTime<Utc>,
) -> Result<Vec<CampaignDecision>, AppError> {
    let each = item_ids
        .iter()
        .map(|&item| ItemDecision {
            item,
            input: input.clone(),
            suggestion_rule: None,
        })
        .collect();
    decide_each(store, decider, each, now).await
}

/// Checks and records each item's own decision (one transaction: all or none).
pub async fn decide_each(
    store: &Store,
    decider: Decider<'_>,
    each: Vec<ItemDecision>,
    now: DateTime<Utc>,
) -> Result<Vec<CampaignDecision>, AppError> {
    let mut decisions = Vec::with_capacity(each.len());
    // Only a hand-over asks the directory (who may take the item).
    let directory = if each.iter().any(|d| d.input.kind.hands_over()) {
        store.directory().await?
    } else {
        roster_core::directory::Directory::default()
    };
    // A bulk decision usually spans one campaign: read (and parse) each campaign once.
    let mut campaigns: std::collections::HashMap<i64, (Campaign, CampaignRules)> =
        std::collections::HashMap::new();
    for ItemDecision {
        item: id,
        input,
        suggestion_rule,
    } in each
    {
        let input = &input;
        let item = store.campaign_item(id).await?;
        if !campaigns.contains_key(&item.campaign_id) {
            let c = store.campaign(item.campaign_id).await?;
            let rules = c.rules.clone();
            campaigns.insert(c.id, (c, rules));
        }
        let (c, rules) = campaigns
            .get(&item.campaign_id)
            .ok_or_else(|| AppError::Internal(format!("campaign {}", item.campaign_id)))?;
        let snap = snapshot_of(&item)?;
        let earlier = store.item_decisions(id).await?;
        let decided_by_admin =
            item.state == ItemState::Decided && standing_decision_was_an_admins(&earlier);
        let warnings = campaign::check_decision(
            c.status,
            rules,
            &directory,
            ItemUnderReview {
                tier: snap.tier,
                reviewer: &item.reviewer,
                names: [&snap.name, &snap.external_id],
                used_by: used_by(&snap),
                decided_by_admin,
            },
            decider,
            input,
            now.date_naive(),
        )?;
        let handed_to = input
            .kind
            .hands_over()
            .then(|| input.to.as_deref().map(str::trim).map(str::to_owned))
            .flatten();
        decisions.push(NewDecision {
            item_id: id,
            decision: input.kind,
            justification: input.justification.trim().to_owned(),
            expires_on: (input.kind == DecisionKind::SetExpiry)
                .then_some(input.expires_on)
                .flatten(),
            handed_to: handed_to.clone(),
            concludes: !input.kind.hands_over(),
            actor: decider.who().to_owned(),
            warnings: serde_json::to_string(&warnings)
                .map_err(|e| AppError::Internal(e.to_string()))?,
            audit: NewAuditEvent {
                actor: decider.who().to_owned(),
                action: "campaign.decision".into(),
                target: Some(snap.id.to_string()),
                detail: json!({"campaign": c.id, "item": id, "decision": input.kind,
                               "justification": input.justification.trim(),
                               "expires_on": input.expires_on, "to": handed_to,
                               "warnings": warnings, "suggestion_rule": suggestion_rule}),
            },
            suggestion_rule,
            expect_reviewer: item.reviewer.clone(),
            expect_last_decision: earlier.last().map(|d| d.id),
        });
    }
    // A conflict says what changed: the campaign closed, or the item moved on meanwhile.
    Ok(store.record_decisions(decisions, now).await?)
}

/// What closing does to the items nobody decided, in words.
pub fn close_out_words(rules: &CampaignRules) -> String {
    match rules.close_out {
        CloseOut::Escalate => format!(
            "recorded unreviewed and escalated to the fallback reviewer {}",
            rules.fallback_reviewer
        ),
        CloseOut::Revoke => "revoked (the close-out rule)".into(),
        CloseOut::LeaveOpen => "recorded unreviewed".into(),
    }
}

/// IAM signs off: the campaign closes, unreviewed items get the close-out rule, decisions that
/// need action become remediation tasks. With items still pending, `confirmed_unreviewed` must
/// say how many (the person closing saw that number); a different count is refused.
pub async fn sign_off(
    store: &Store,
    campaign_id: i64,
    who: &str,
    confirmed_unreviewed: Option<u64>,
    now: DateTime<Utc>,
) -> Result<Campaign, AppError> {
    let c = store.campaign(campaign_id).await?;
    if c.status == CampaignStatus::Closed {
        return Err(closed());
    }
    let rules = c.rules.clone();
    let counts = store.item_counts(campaign_id).await?;
    if counts.pending > 0 && confirmed_unreviewed != Some(counts.pending) {
        return Err(AppError::Conflict(format!(
            "{} item(s) are still pending: confirm closing with {} unreviewed (they will be {})",
            counts.pending,
            counts.pending,
            close_out_words(&rules)
        )));
    }
    let close_out = campaign::close_out_decision(&rules);
    let needs_action: Vec<DecisionKind> = DecisionKind::ALL
        .iter()
        .copied()
        .filter(|k| k.needs_action())
        .collect();
    let outcome = CloseOutcome {
        signed_off_by: who.to_owned(),
        close_out_decision: close_out,
        escalate_to: (rules.close_out == CloseOut::Escalate)
            .then(|| rules.fallback_reviewer.clone()),
        confirmed_unreviewed: counts.pending,
        audit: NewAuditEvent {
            actor: who.to_owned(),
            action: "campaign.closed".into(),
            target: None,
            detail: json!({"campaign": c.id, "name": c.name, "decided": counts.decided,
                           "unreviewed_at_close": counts.pending,
                           "confirmed_unreviewed": confirmed_unreviewed,
                           "close_out": rules.close_out}),
        },
    };
    Ok(store
        .close_campaign(campaign_id, outcome, &needs_action, now)
        .await?)
}

/// One remediation task's outcome.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TaskResult {
    pub task: i64,
    pub record: String,
    pub status: TaskStatus,
    pub detail: String,
}

/// Carries out a closed campaign's revocations through the connectors: a dry run first
/// (`execute = false` marks tasks `planned` with the calls a run would make), then the run.
/// What no connector can do (rotate, reduce scope, set expiry; connectors without remediation
/// or with it disabled) becomes a `ticket` for the CSV export.
pub async fn carry_out(
    store: &Store,
    connectors: &Connectors,
    campaign_id: i64,
    execute: bool,
    who: &str,
    now: DateTime<Utc>,
) -> Result<Vec<TaskResult>, AppError> {
    let c = store.campaign(campaign_id).await?;
    if c.status != CampaignStatus::Closed {
        return Err(AppError::Invalid("remediation runs after sign-off".into()));
    }
    let mut out = Vec::new();
    for task in store.remediation_tasks(campaign_id).await? {
        if task.status.is_settled() {
            continue;
        }
        let record_id = roster_core::RecordId(task.record_id).to_string();
        let (status, detail, step) =
            match remediate_one(store, connectors, &task, execute, now).await {
                Ok(Step::Ran {
                    action,
                    executed,
                    summary,
                    calls,
                }) => (
                    if executed {
                        TaskStatus::Done
                    } else {
                        TaskStatus::Planned
                    },
                    format!("{summary}; {}", calls.join("; ")),
                    Some(action),
                ),
                Ok(Step::Ticket(why)) => (TaskStatus::Ticket, why, None),
                Err(why) => (TaskStatus::Failed, why, None),
            };
        store
            .update_remediation_task(
                task.id,
                status,
                &detail,
                NewAuditEvent {
                    actor: who.to_owned(),
                    action: match &step {
                        Some(a) => format!("remediation.{a}"),
                        None => "remediation.task".to_owned(),
                    },
                    target: Some(record_id.clone()),
                    detail: json!({"campaign": campaign_id, "task": task.id,
                                   "decision": task.action, "dry_run": !execute,
                                   "executed": status == TaskStatus::Done, "status": status,
                                   "detail": detail}),
                },
                now,
            )
            .await?;
        out.push(TaskResult {
            task: task.id,
            record: record_id,
            status,
            detail,
        });
    }
    Ok(out)
}

enum Step {
    Ran {
        action: String,
        executed: bool,
        summary: String,
        calls: Vec<String>,
    },
    Ticket(String),
}

async fn remediate_one(
    store: &Store,
    connectors: &Connectors,
    task: &roster_store::campaigns::RemediationTask,
    execute: bool,
    now: DateTime<Utc>,
) -> Result<Step, String> {
    if task.action != DecisionKind::Revoke {
        return Ok(Step::Ticket(format!(
            "`{}` is carried out by hand: no connector automates it",
            task.action
        )));
    }
    let row = store
        .record(task.record_id)
        .await
        .map_err(|e| e.to_string())?;
    let record = row.to_record().map_err(|e| e.to_string())?;
    let connector = match connectors.connector(&row.connector).await {
        Ok(c) => c,
        Err(e) => return Ok(Step::Ticket(e.to_string())),
    };
    let Some(remediator) = connector.remediator() else {
        return Ok(Step::Ticket(
            connectors.no_remediation(&row.connector).to_string(),
        ));
    };
    let offered = remediator.actions(&record.key.resource_type);
    // Revoking starts at the first stage (deactivate before delete), never skips the grace.
    let Some(action) = offered
        .iter()
        .find(|a| remediator.previous_stage(a).is_none())
    else {
        return Ok(Step::Ticket(format!(
            "the {} connector offers no remediation for {} records",
            row.connector, record.key.resource_type
        )));
    };
    let req = roster_connector_sdk::RemediationRequest {
        record: &record,
        action,
        execute,
        now,
        previous_stage_at: None,
    };
    match remediator.remediate(&req).await {
        Ok(o) => Ok(Step::Ran {
            action: (*action).to_owned(),
            executed: o.executed,
            summary: o.summary,
            calls: o.calls,
        }),
        Err(roster_connector_sdk::RemediationError::Disabled(why)) => Ok(Step::Ticket(format!(
            "remediation is off for {}: {why}",
            row.connector
        ))),
        Err(e) => Err(e.to_string()),
    }
}

/// One row of the evidence: an item with its final state and every decision.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EvidenceItem {
    pub item: i64,
    pub record: String,
    pub platform: String,
    pub kind: String,
    pub name: String,
    pub tier: String,
    pub reviewer: String,
    pub reviewer_basis: String,
    pub state: ItemState,
    pub decision: Option<DecisionKind>,
    /// As snapshotted at launch: what the reviewer saw.
    pub privilege: String,
    pub privilege_detail: Vec<String>,
    /// `rule: message`, as snapshotted.
    pub findings: Vec<String>,
    pub decisions: Vec<EvidenceDecision>,
}

/// The outcome of a campaign in numbers, as the report opens with them. Each item counts once,
/// by its state and standing decision; remediation counts the tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EvidenceCounts {
    pub items: u64,
    pub kept: u64,
    pub revoked: u64,
    pub rotated: u64,
    pub reduced_scope: u64,
    pub set_expiry: u64,
    /// Waiting for a decision (the campaign is open).
    pub pending: u64,
    /// Closed without a decision.
    pub unreviewed: u64,
    /// Moved to the fallback reviewer (overdue, or left unreviewed under the escalate rule).
    pub escalated: u64,
    /// Remediation tasks carried out, failed, and left as tickets.
    pub remediated: u64,
    pub remediation_failed: u64,
    pub tickets: u64,
}

impl EvidenceCounts {
    fn of(items: &[EvidenceItem], tasks: &[TaskResult]) -> Self {
        let mut c = EvidenceCounts {
            items: items.len() as u64,
            ..Self::default()
        };
        for i in items {
            match (i.state, i.decision) {
                (ItemState::Pending, _) => c.pending += 1,
                (ItemState::Unreviewed, _) => c.unreviewed += 1,
                (ItemState::Decided, Some(DecisionKind::Keep)) => c.kept += 1,
                (ItemState::Decided, Some(DecisionKind::Revoke)) => c.revoked += 1,
                (ItemState::Decided, Some(DecisionKind::Rotate)) => c.rotated += 1,
                (ItemState::Decided, Some(DecisionKind::ReduceScope)) => c.reduced_scope += 1,
                (ItemState::Decided, Some(DecisionKind::SetExpiry)) => c.set_expiry += 1,
                (ItemState::Decided, _) => {}
            }
            c.escalated += u64::from(i.reviewer_basis == ReviewerBasis::Escalated.as_str());
        }
        for t in tasks {
            match t.status {
                TaskStatus::Done => c.remediated += 1,
                TaskStatus::Failed => c.remediation_failed += 1,
                TaskStatus::Ticket => c.tickets += 1,
                TaskStatus::Pending | TaskStatus::Planned => {}
            }
        }
        c
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EvidenceDecision {
    pub decision: DecisionKind,
    pub actor: String,
    pub at: DateTime<Utc>,
    pub justification: String,
    pub expires_on: Option<NaiveDate>,
    pub to: Option<String>,
    pub warnings: serde_json::Value,
    /// The suggestion rule the decision accepted, if it was one.
    pub suggestion_rule: Option<String>,
}

/// Everything an auditor asks for about one campaign.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Evidence {
    pub campaign: i64,
    pub name: String,
    pub scope: String,
    pub status: CampaignStatus,
    pub launched_by: String,
    pub launched_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub signed_off_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub audit_hash_at_close: Option<String>,
    pub rules: CampaignRules,
    pub counts: EvidenceCounts,
    pub items: Vec<EvidenceItem>,
    pub remediation: Vec<TaskResult>,
}

pub async fn evidence(store: &Store, campaign_id: i64) -> Result<Evidence, AppError> {
    let c = store.campaign(campaign_id).await?;
    let mut by_item: std::collections::HashMap<i64, Vec<EvidenceDecision>> =
        std::collections::HashMap::new();
    for d in store.campaign_decisions(campaign_id).await? {
        by_item
            .entry(d.item_id)
            .or_default()
            .push(EvidenceDecision {
                decision: d.decision,
                actor: d.actor,
                at: d.at,
                justification: d.justification,
                expires_on: d.expires_on,
                to: d.handed_to,
                warnings: serde_json::from_str(&d.warnings).unwrap_or(serde_json::Value::Null),
                suggestion_rule: d.suggestion_rule,
            });
    }
    let mut items = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .campaign_items(campaign_id, None, None, after, 5000)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        for i in page {
            let snap = snapshot_of(&i)?;
            items.push(EvidenceItem {
                privilege: snap.privilege.as_str().to_owned(),
                privilege_detail: snap.privilege_detail,
                findings: snap
                    .findings
                    .iter()
                    .map(|f| format!("{}: {}", f.rule, f.message))
                    .collect(),
                item: i.id,
                record: roster_core::RecordId(i.record_id).to_string(),
                platform: i.platform,
                kind: i.kind,
                name: i.name,
                tier: i.tier,
                reviewer: i.reviewer,
                reviewer_basis: i.reviewer_basis,
                state: i.state,
                decision: i.decision,
                decisions: by_item.remove(&i.id).unwrap_or_default(),
            });
        }
    }
    let remediation = store
        .remediation_tasks(campaign_id)
        .await?
        .into_iter()
        .map(|t| TaskResult {
            task: t.id,
            record: roster_core::RecordId(t.record_id).to_string(),
            status: t.status,
            detail: t.detail,
        })
        .collect::<Vec<_>>();
    Ok(Evidence {
        counts: EvidenceCounts::of(&items, &remediation),
        campaign: c.id,
        name: c.name.clone(),
        scope: c.scope.clone(),
        status: c.status,
        launched_by: c.launched_by.clone(),
        launched_at: c.launched_at,
        due_at: c.due_at,
        signed_off_by: c.signed_off_by.clone(),
        closed_at: c.closed_at,
        audit_hash_at_close: c.audit_hash_at_close.clone(),
        rules: c.rules.clone(),
        items,
        remediation,
    })
}

/// The evidence as CSV: one row per decision (an item without one gets a row of its own).
pub fn evidence_csv(e: &Evidence) -> Result<String, AppError> {
    let mut w = CsvWriter::new(Vec::new());
    let bad = |e: csv::Error| AppError::Internal(e.to_string());
    w.write_row([
        "campaign",
        "item",
        "record",
        "platform",
        "kind",
        "name",
        "tier",
        "reviewer",
        "state",
        "decision",
        "actor",
        "at",
        "justification",
        "expires_on",
        "to",
        "warnings",
        "suggestion_rule",
    ])
    .map_err(bad)?;
    let campaign = e.campaign.to_string();
    for i in &e.items {
        let item = i.item.to_string();
        let base = [
            campaign.as_str(),
            item.as_str(),
            &i.record,
            &i.platform,
            &i.kind,
            &i.name,
            &i.tier,
            &i.reviewer,
            i.state.as_str(),
        ];
        if i.decisions.is_empty() {
            let mut row: Vec<&str> = base.to_vec();
            row.extend(["", "", "", "", "", "", "", ""]);
            w.write_row(row).map_err(bad)?;
        }
        for d in &i.decisions {
            let at = d.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let expires = d.expires_on.map(|x| x.to_string()).unwrap_or_default();
            let warnings = d.warnings.to_string();
            let mut row: Vec<&str> = base.to_vec();
            row.extend([
                d.decision.as_str(),
                &d.actor,
                &at,
                &d.justification,
                &expires,
                d.to.as_deref().unwrap_or(""),
                &warnings,
                d.suggestion_rule.as_deref().unwrap_or(""),
            ]);
            w.write_row(row).map_err(bad)?;
        }
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.to_string()))
}

/// Remediation tasks nobody automated, as tickets (CSV) for whoever carries them out.
pub fn tickets_csv(e: &Evidence) -> Result<String, AppError> {
    let mut w = CsvWriter::new(Vec::new());
    let bad = |e: csv::Error| AppError::Internal(e.to_string());
    w.write_row([
        "campaign", "task", "record", "name", "platform", "kind", "decision", "status", "detail",
    ])
    .map_err(bad)?;
    let names: std::collections::HashMap<&str, &EvidenceItem> =
        e.items.iter().map(|i| (i.record.as_str(), i)).collect();
    for t in e
        .remediation
        .iter()
        .filter(|t| t.status != TaskStatus::Done)
    {
        let item = names.get(t.record.as_str());
        w.write_row([
            e.campaign.to_string().as_str(),
            t.task.to_string().as_str(),
            &t.record,
            item.map_or("", |i| i.name.as_str()),
            item.map_or("", |i| i.platform.as_str()),
            item.map_or("", |i| i.kind.as_str()),
            item.and_then(|i| i.decision)
                .map_or("", DecisionKind::as_str),
            t.status.as_str(),
            &t.detail,
        ])
        .map_err(bad)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::Internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| AppError::Internal(e.to_string()))
}

/// What changed in an item since the same record's item in the previous campaign.
pub fn changes_since(previous: &InventoryItem, now: &InventoryItem) -> Vec<String> {
    let mut out = Vec::new();
    if previous.tier != now.tier {
        out.push(format!("tier {} → {}", previous.tier, now.tier));
    }
    if previous.privilege != now.privilege {
        out.push(format!(
            "privilege {} → {}",
            previous.privilege.as_str(),
            now.privilege.as_str()
        ));
    }
    if previous.owner != now.owner {
        out.push(format!(
            "owner {} → {}",
            previous.owner.as_deref().unwrap_or("none"),
            now.owner.as_deref().unwrap_or("none")
        ));
    }
    if previous.status != now.status {
        out.push(format!("status {} → {}", previous.status, now.status));
    }
    let rules = |i: &InventoryItem| {
        i.findings
            .iter()
            .map(|f| f.rule.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (before, after) = (rules(previous), rules(now));
    for r in after.difference(&before) {
        out.push(format!("new finding {r}"));
    }
    for r in before.difference(&after) {
        out.push(format!("finding {r} resolved"));
    }
    let detail = |i: &InventoryItem| {
        i.privilege_detail
            .iter()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
    };
    let (before, after) = (detail(previous), detail(now));
    let added = after.difference(&before).count();
    let removed = before.difference(&after).count();
    if added + removed > 0 {
        out.push(format!("permissions: {added} added, {removed} removed"));
    }
    out
}

/// One campaign as its page shows it.
pub struct CampaignView {
    pub campaign: Campaign,
    pub rules: CampaignRules,
    pub counts: ItemCounts,
    /// Who still has items to review, with how many.
    pub reviewers: Vec<(String, u64)>,
    /// Every reviewer's pending and decided items.
    pub progress: Vec<ReviewerProgress>,
    pub tasks: Vec<RemediationTask>,
    /// One page of items, and the id after which the next page starts.
    pub items: Vec<CampaignItem>,
    pub next: Option<i64>,
}

/// One item as its review page shows it.
pub struct ReviewItemView {
    pub item: CampaignItem,
    pub snapshot: InventoryItem,
    pub campaign: Campaign,
    pub rules: CampaignRules,
    pub decisions: Vec<CampaignDecision>,
    /// The same record's item in the previous campaign: its campaign's name, what changed
    /// since, and how it was decided then.
    pub previous: Option<(String, Vec<String>, String)>,
    /// The principal may decide it now (pending or decided, in an open campaign).
    pub may_decide: bool,
    /// The decision standing was an admin's for the reviewer (the reviewer cannot replace it).
    pub admin_decided: bool,
}

/// The most items an inbox shows (and a bulk decision covers) at once.
pub const INBOX_LIMIT: u64 = 1000;

const GOVERNANCE: &str = "campaigns are run by IAM; owners review at /reviews";

impl Roster {
    /// The `[[campaigns]]` definitions, launchable by hand.
    pub fn campaign_definitions(&self) -> &[crate::config::CampaignConfig] {
        &self.config.campaigns
    }

    /// A launch of the `[[campaigns]]` definition `name`, named after it and the date.
    pub fn definition_request(
        &self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<LaunchRequest, AppError> {
        let def = self
            .config
            .campaigns
            .iter()
            .find(|d| d.name == name)
            .ok_or_else(|| AppError::Invalid(format!("no campaign definition `{name}`")))?;
        Ok(LaunchRequest {
            name: format!("{} {}", def.name, now.format("%Y-%m-%d")),
            definition: Some(def.name.clone()),
            scope: def.scope.clone(),
            due_days: def.due_days,
            rules: def.rules()?,
        })
    }

    pub async fn launch_campaign(
        &self,
        p: &Principal,
        req: LaunchRequest,
        now: DateTime<Utc>,
    ) -> Result<Campaign, AppError> {
        p.require_launch()?;
        launch(&self.store, &self.policy, req, &p.who, now).await
    }

    /// What launching `req` now would write; nothing is written.
    pub async fn preview_campaign(
        &self,
        p: &Principal,
        req: &LaunchRequest,
        now: DateTime<Utc>,
    ) -> Result<LaunchPreview, AppError> {
        p.require_launch()?;
        preview_launch(&self.store, &self.policy, req, now).await
    }

    /// Campaigns newest first, with their item counts.
    pub async fn campaigns(
        &self,
        p: &Principal,
        limit: u64,
    ) -> Result<Vec<(Campaign, ItemCounts)>, AppError> {
        p.require_governance(GOVERNANCE)?;
        let mut out = Vec::new();
        for c in self.store.campaigns(limit).await? {
            let counts = self.store.item_counts(c.id).await?;
            out.push((c, counts));
        }
        Ok(out)
    }

    /// One campaign and a page of its items (`state`: pending, decided or unreviewed).
    pub async fn campaign_view(
        &self,
        p: &Principal,
        id: i64,
        reviewer: Option<&str>,
        state: Option<ItemState>,
        after: Option<i64>,
        limit: u64,
    ) -> Result<CampaignView, AppError> {
        p.require_governance(GOVERNANCE)?;
        let campaign = self.store.campaign(id).await?;
        let items = self
            .store
            .campaign_items(id, reviewer, state, after, limit)
            .await?;
        let next = (items.len() as u64 == limit)
            .then(|| items.last().map(|i| i.id))
            .flatten();
        Ok(CampaignView {
            rules: campaign.rules.clone(),
            counts: self.store.item_counts(id).await?,
            reviewers: self.store.pending_reviewers(id).await?,
            progress: self.store.reviewer_progress(id).await?,
            tasks: self.store.remediation_tasks(id).await?,
            campaign,
            items,
            next,
        })
    }

    /// Signs off and closes; `confirmed_unreviewed`: see [`sign_off`].
    pub async fn sign_off_campaign(
        &self,
        p: &Principal,
        id: i64,
        confirmed_unreviewed: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Campaign, AppError> {
        p.require_launch()?;
        sign_off(&self.store, id, &p.who, confirmed_unreviewed, now).await
    }

    /// Sends `reviewer` a reminder now, through the configured notification channels: at most
    /// once an hour per reviewer and campaign, audited.
    pub async fn remind_now(
        &self,
        p: &Principal,
        id: i64,
        reviewer: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, AppError> {
        p.require_launch()?;
        let c = self.store.campaign(id).await?;
        if !c.is_open() {
            return Err(closed());
        }
        let reviewer = reviewer.trim().to_lowercase();
        let pending = self
            .store
            .pending_reviewers(id)
            .await?
            .into_iter()
            .find(|(r, _)| *r == reviewer)
            .map(|(_, n)| n)
            .ok_or_else(|| {
                AppError::Invalid(format!("nothing in this campaign waits for `{reviewer}`"))
            })?;
        if !reviewer.contains('@') {
            return Err(AppError::Invalid(format!(
                "`{reviewer}` is not an email address: no reminder can reach them"
            )));
        }
        let notifier = self.notifier.as_ref().ok_or_else(|| {
            AppError::Unavailable(
                "no notification channel is configured ([notifications] in the configuration)"
                    .into(),
            )
        })?;
        let key = format!("manual:{}", now.format("%Y-%m-%dT%H"));
        if !self.store.claim_reminder(id, &reviewer, &key, now).await? {
            return Err(AppError::Conflict(format!(
                "{reviewer} was already reminded of this campaign this hour"
            )));
        }
        let link = format!(
            "{}/reviews",
            self.config.server.public_url.trim_end_matches('/')
        );
        let report = notifier
            .send(&roster_notify::Notification {
                to: vec![reviewer.clone()],
                subject: format!(
                    "[Roster] {pending} identities wait for your review: {} (due {})",
                    c.name,
                    c.due_at.format("%Y-%m-%d")
                ),
                text: format!(
                    "IAM asks you to finish access review \"{}\", due on {}: {pending} item(s) assigned to you still need a decision.",
                    c.name,
                    c.due_at.format("%Y-%m-%d")
                ),
                link: Some(link),
            })
            .await;
        if !report.all_delivered() {
            self.store.release_reminder(id, &reviewer, &key).await?;
            return Err(AppError::Unavailable(format!(
                "the reminder was not delivered: {report:?}"
            )));
        }
        self.record_event(
            p.actor(),
            "campaign.reminded",
            None,
            json!({"campaign": id, "reviewer": reviewer, "pending": pending}),
            now,
        )
        .await?;
        Ok(pending)
    }

    /// Carries out a closed campaign's revocations (a dry run unless `execute`).
    pub async fn carry_out_campaign(
        &self,
        p: &Principal,
        id: i64,
        execute: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<TaskResult>, AppError> {
        p.require_launch()?;
        carry_out(&self.store, &self.connectors, id, execute, &p.who, now).await
    }

    pub async fn campaign_evidence(&self, p: &Principal, id: i64) -> Result<Evidence, AppError> {
        p.require_governance(GOVERNANCE)?;
        evidence(&self.store, id).await
    }

    /// One item, as snapshotted, with what changed since the previous review.
    pub async fn review_item(&self, p: &Principal, id: i64) -> Result<ReviewItemView, AppError> {
        let item = self.store.campaign_item(id).await?;
        p.require_view_item(&item)?;
        let campaign = self.store.campaign(item.campaign_id).await?;
        let rules = campaign.rules.clone();
        let snapshot = snapshot_of(&item)?;
        let previous = match item.previous_item_id {
            Some(prev) => {
                let prev = self.store.campaign_item(prev).await?;
                let prev_campaign = self.store.campaign(prev.campaign_id).await?;
                let changes = changes_since(&snapshot_of(&prev)?, &snapshot);
                Some((prev_campaign.name, changes, prev.outcome().to_owned()))
            }
            None => None,
        };
        let decisions = self.store.item_decisions(item.id).await?;
        // A decision may change until sign-off; a reviewer's may not replace an admin's.
        let admin_decided =
            item.state == ItemState::Decided && standing_decision_was_an_admins(&decisions);
        let may_decide = campaign.is_open()
            && item.state != ItemState::Unreviewed
            && p.can_decide(&item)
            && (p.can_launch() || !admin_decided);
        Ok(ReviewItemView {
            admin_decided,
            decisions,
            item,
            snapshot,
            campaign,
            rules,
            previous,
            may_decide,
        })
    }

    /// One decision over `item_ids` (all or none), each checked against its campaign's rules.
    pub async fn decide(
        &self,
        p: &Principal,
        item_ids: &[i64],
        input: &DecisionInput,
        now: DateTime<Utc>,
    ) -> Result<Vec<CampaignDecision>, AppError> {
        p.require_review()?;
        if item_ids.is_empty() {
            return Err(AppError::Invalid("select at least one item".into()));
        }
        if item_ids.len() as u64 > INBOX_LIMIT {
            return Err(AppError::Invalid(format!(
                "at most {INBOX_LIMIT} items at once"
            )));
        }
        decide(&self.store, p.decider(), item_ids, input, now).await
    }
}
