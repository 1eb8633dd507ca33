//! Campaign storage: launch (items snapshotted in one transaction), decisions (append-only, each
//! with its audit event in the same transaction), close with remediation tasks, reminders sent
//! once, and job leases for running scheduled work on one of several servers.

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

use roster_core::ParseEnumError;
use roster_core::campaign::{CampaignRules, CampaignStatus, DecisionKind, ItemState, TaskStatus};

use crate::audit::{NewAuditEvent, append_audit_in};
use crate::entity::{
    campaign, campaign_decision, campaign_item, job_lease, remediation_task, reminder_sent,
};
use crate::{Store, StoreError};

/// A launched campaign, its status and rules decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    /// The `[[campaigns]]` definition that launched it on schedule; none when launched by hand.
    pub definition: Option<String>,
    /// The inventory query string it covers.
    pub scope: String,
    /// Fixed at launch.
    pub rules: CampaignRules,
    pub status: CampaignStatus,
    pub launched_by: String,
    pub launched_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub item_count: i64,
    pub signed_off_by: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The audit chain's head hash when the campaign closed.
    pub audit_hash_at_close: Option<String>,
}

impl Campaign {
    pub fn is_open(&self) -> bool {
        self.status == CampaignStatus::Open
    }
}

/// One identity or credential under review, snapshotted at launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignItem {
    pub id: i64,
    pub campaign_id: i64,
    pub record_id: i64,
    pub platform: String,
    pub kind: String,
    pub name: String,
    pub tier: String,
    /// Lower-cased.
    pub reviewer: String,
    pub reviewer_basis: String,
    /// The evaluated inventory item's JSON at launch.
    pub snapshot: String,
    /// The same record's item in the campaign before this one.
    pub previous_item_id: Option<i64>,
    pub state: ItemState,
    /// The latest concluding decision.
    pub decision: Option<DecisionKind>,
    pub decided_at: Option<DateTime<Utc>>,
}

impl CampaignItem {
    /// The decision, or for an item without one its state: what a list shows.
    pub fn outcome(&self) -> &'static str {
        self.decision
            .map_or(self.state.as_str(), DecisionKind::as_str)
    }
}

/// One decision on an item; every decision is kept, the item holds the latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignDecision {
    pub id: i64,
    pub campaign_id: i64,
    pub item_id: i64,
    pub decision: DecisionKind,
    pub justification: String,
    pub expires_on: Option<NaiveDate>,
    pub handed_to: Option<String>,
    pub actor: String,
    pub at: DateTime<Utc>,
    /// JSON array of `roster_core::campaign::DecisionWarning`.
    pub warnings: String,
    /// The suggestion rule it accepted, if it was one.
    pub suggestion_rule: Option<String>,
}

impl TryFrom<campaign_decision::Model> for CampaignDecision {
    type Error = StoreError;
    fn try_from(m: campaign_decision::Model) -> Result<Self, StoreError> {
        Ok(CampaignDecision {
            decision: parse(&m.decision, format!("decision {}", m.id), "decision")?,
            id: m.id,
            campaign_id: m.campaign_id,
            item_id: m.item_id,
            justification: m.justification,
            expires_on: m.expires_on,
            handed_to: m.handed_to,
            actor: m.actor,
            at: m.at,
            warnings: m.warnings,
            suggestion_rule: m.suggestion_rule,
        })
    }
}

/// A decision that needs carrying out, made when its campaign closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemediationTask {
    pub id: i64,
    pub campaign_id: i64,
    pub item_id: i64,
    pub record_id: i64,
    pub action: DecisionKind,
    pub status: TaskStatus,
    pub detail: String,
    pub updated_at: DateTime<Utc>,
}

fn corrupt(what: String, field: &'static str) -> impl FnOnce(String) -> StoreError {
    move |detail| StoreError::Corrupt {
        id: what,
        field,
        detail,
    }
}

fn parse<T: std::str::FromStr<Err = ParseEnumError>>(
    v: &str,
    what: String,
    field: &'static str,
) -> Result<T, StoreError> {
    v.parse()
        .map_err(|e: ParseEnumError| corrupt(what, field)(e.to_string()))
}

impl TryFrom<campaign::Model> for Campaign {
    type Error = StoreError;
    fn try_from(m: campaign::Model) -> Result<Self, StoreError> {
        let what = format!("campaign {}", m.id);
        Ok(Campaign {
            rules: serde_json::from_str(&m.rules)
                .map_err(|e| corrupt(what.clone(), "rules")(e.to_string()))?,
            status: parse(&m.status, what, "status")?,
            id: m.id,
            name: m.name,
            definition: m.definition,
            scope: m.scope,
            launched_by: m.launched_by,
            launched_at: m.launched_at,
            due_at: m.due_at,
            item_count: m.item_count,
            signed_off_by: m.signed_off_by,
            closed_at: m.closed_at,
            audit_hash_at_close: m.audit_hash_at_close,
        })
    }
}

impl TryFrom<campaign_item::Model> for CampaignItem {
    type Error = StoreError;
    fn try_from(m: campaign_item::Model) -> Result<Self, StoreError> {
        let what = format!("campaign item {}", m.id);
        Ok(CampaignItem {
            state: parse(&m.state, what.clone(), "state")?,
            decision: m
                .decision
                .as_deref()
                .map(|d| parse(d, what, "decision"))
                .transpose()?,
            id: m.id,
            campaign_id: m.campaign_id,
            record_id: m.record_id,
            platform: m.platform,
            kind: m.kind,
            name: m.name,
            tier: m.tier,
            reviewer: m.reviewer,
            reviewer_basis: m.reviewer_basis,
            snapshot: m.snapshot,
            previous_item_id: m.previous_item_id,
            decided_at: m.decided_at,
        })
    }
}

impl TryFrom<remediation_task::Model> for RemediationTask {
    type Error = StoreError;
    fn try_from(m: remediation_task::Model) -> Result<Self, StoreError> {
        let what = format!("remediation task {}", m.id);
        Ok(RemediationTask {
            action: parse(&m.action, what.clone(), "action")?,
            status: parse(&m.status, what, "status")?,
            id: m.id,
            campaign_id: m.campaign_id,
            item_id: m.item_id,
            record_id: m.record_id,
            detail: m.detail,
            updated_at: m.updated_at,
        })
    }
}

fn decode<M, T: TryFrom<M, Error = StoreError>>(rows: Vec<M>) -> Result<Vec<T>, StoreError> {
    rows.into_iter().map(T::try_from).collect()
}

const OPEN: &str = "open";

#[derive(Debug, Clone)]
pub struct NewCampaign {
    pub name: String,
    pub definition: Option<String>,
    pub scope: String,
    pub rules: CampaignRules,
    pub launched_by: String,
    pub launched_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewItem {
    pub record_id: i64,
    pub platform: String,
    pub kind: String,
    pub name: String,
    pub tier: String,
    /// Lower-cased, so inboxes match however the sign-in spells it.
    pub reviewer: String,
    pub reviewer_basis: String,
    pub snapshot: String,
}

/// A launch in progress: items are added page by page inside one transaction, so a failed
/// launch leaves nothing behind.
pub struct Launch {
    txn: crate::WriteTxn,
    audit_key: Option<crate::audit::AuditKey>,
    campaign: campaign::Model,
    items: i64,
}

/// Rows per multi-row insert (13 columns: well inside both databases' parameter limits).
const INSERT_BATCH: usize = 1000;

impl Launch {
    /// Adds items, each linked to the same record's item in the latest earlier campaign.
    pub async fn add_items(&mut self, items: Vec<NewItem>) -> Result<(), StoreError> {
        for chunk in items.chunks(INSERT_BATCH) {
            // Linked as they are written: an UPDATE of every item afterwards rewrote each row
            // (and its snapshot) a second time, 2 of 5 s of a 100k launch on PostgreSQL.
            let previous = self.previous_items(chunk).await?;
            let models = chunk.iter().map(|i| campaign_item::ActiveModel {
                campaign_id: Set(self.campaign.id),
                record_id: Set(i.record_id),
                platform: Set(i.platform.clone()),
                kind: Set(i.kind.clone()),
                name: Set(i.name.clone()),
                tier: Set(i.tier.clone()),
                tier_rank: Set(tier_rank(&i.tier)),
                reviewer: Set(i.reviewer.clone()),
                reviewer_basis: Set(i.reviewer_basis.clone()),
                snapshot: Set(i.snapshot.clone()),
                previous_item_id: Set(previous.get(&i.record_id).copied()),
                state: Set(ItemState::Pending.as_str().to_owned()),
                decision: Set(None),
                decided_at: Set(None),
                ..Default::default()
            });
            campaign_item::Entity::insert_many(models)
                .exec_without_returning(&self.txn)
                .await?;
            self.items += chunk.len() as i64;
        }
        Ok(())
    }

    /// For each of `items`' records that an earlier campaign reviewed, the latest such item.
    /// One index probe per record, by a correlated subquery over a VALUES list: with an IN
    /// list, PostgreSQL's planner chose a scan of every earlier item for each chunk.
    async fn previous_items(
        &self,
        items: &[NewItem],
    ) -> Result<std::collections::HashMap<i64, i64>, StoreError> {
        let backend = self.txn.get_database_backend();
        let mut sql = String::from(
            "SELECT v.column1 AS record_id, (SELECT MAX(p.id) FROM campaign_items p \
             WHERE p.record_id = v.column1 AND p.campaign_id < ?) AS previous FROM (VALUES ",
        );
        let mut values = Vec::with_capacity(items.len() + 1);
        values.push(sea_orm::Value::from(self.campaign.id));
        for (n, item) in items.iter().enumerate() {
            if n > 0 {
                sql.push(',');
            }
            // The first row's cast types the VALUES column for PostgreSQL.
            sql.push_str(match (n, backend) {
                (0, sea_orm::DbBackend::Postgres) => "(?::bigint)",
                _ => "(?)",
            });
            values.push(sea_orm::Value::from(item.record_id));
        }
        sql.push_str(") AS v");
        let rows = self
            .txn
            .query_all(crate::statement(backend, &sql, values))
            .await?;
        let mut out = std::collections::HashMap::with_capacity(rows.len());
        for row in rows {
            if let Some(previous) = row.try_get::<Option<i64>>("", "previous")? {
                out.insert(row.try_get::<i64>("", "record_id")?, previous);
            }
        }
        Ok(out)
    }

    /// Records the count and the audit event, and commits.
    pub async fn finish(
        self,
        audit: NewAuditEvent,
        at: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        let mut c: campaign::ActiveModel = self.campaign.into();
        c.item_count = Set(self.items);
        let saved = c.update(&self.txn).await?;
        append_audit_in(&self.txn, self.audit_key.as_ref(), audit, at).await?;
        self.txn.commit().await?;
        saved.try_into()
    }
}

/// A decision to record, already checked against the campaign's rules.
#[derive(Debug, Clone)]
pub struct NewDecision {
    pub item_id: i64,
    pub decision: DecisionKind,
    pub justification: String,
    pub expires_on: Option<NaiveDate>,
    pub handed_to: Option<String>,
    /// Whether it concludes the item (a hand-over changes the reviewer instead).
    pub concludes: bool,
    pub actor: String,
    pub warnings: String,
    /// The suggestion rule it accepts, if it is one.
    pub suggestion_rule: Option<String>,
    /// What the decision was checked against: the item's reviewer and its latest decision.
    /// If either changed before this commits (an escalation, an admin's decision), it is
    /// refused rather than recorded over what it never saw.
    pub expect_reviewer: String,
    pub expect_last_decision: Option<i64>,
    pub audit: NewAuditEvent,
}

/// One reviewer's share of a campaign.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReviewerProgress {
    pub reviewer: String,
    pub pending: u64,
    pub decided: u64,
}

/// How an inbox is ordered (then by item id, so pages are stable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InboxOrder {
    /// Riskiest first, then in launch order.
    #[default]
    Tier,
    /// Soonest due first, then riskiest.
    Due,
    Platform,
    Name,
}

/// Which of a reviewer's items an inbox page shows.
#[derive(Debug, Clone, Default)]
pub struct InboxQuery {
    pub reviewer: String,
    pub state: Option<ItemState>,
    pub platform: Option<String>,
    pub kind: Option<String>,
    pub tier: Option<String>,
    pub campaign: Option<i64>,
    pub order: InboxOrder,
    pub offset: u64,
    pub limit: u64,
    /// The caller knows the total already (an unfiltered inbox: [`Store::inbox_counts`]): the
    /// count is not read again, and 0 is returned for it.
    pub known_total: bool,
}

/// Holds campaign `id`'s row until the transaction ends, so that a close, a decision and an
/// escalation on one campaign take turns (PostgreSQL; SQLite's write lock already serialises
/// them, see [`crate::begin_write`]).
async fn lock_campaign(txn: &DatabaseTransaction, id: i64) -> Result<(), StoreError> {
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute(Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT id FROM campaigns WHERE id = $1 FOR UPDATE",
            [id.into()],
        ))
        .await?;
    }
    Ok(())
}

/// Campaign `id`'s pending items by reviewer.
async fn pending_by_reviewer(
    txn: &DatabaseTransaction,
    id: i64,
) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
    let rows: Vec<(String, i64)> = campaign_item::Entity::find()
        .select_only()
        .column(campaign_item::Column::Reviewer)
        .column_as(campaign_item::Column::Id.count(), "n")
        .filter(campaign_item::Column::CampaignId.eq(id))
        .filter(campaign_item::Column::State.eq(ItemState::Pending.as_str()))
        .group_by(campaign_item::Column::Reviewer)
        .into_tuple()
        .all(txn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(r, n)| (r, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// The rank a tier filter asks for: a name that is no tier matches nothing.
fn tier_filter_rank(tier: &str) -> i16 {
    match tier_rank(tier) {
        4 => -1,
        r => r,
    }
}

/// A tier as the inbox orders it (`campaign_items.tier_rank`): riskiest first, no tier last.
pub fn tier_rank(tier: &str) -> i16 {
    match tier {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        "low" => 3,
        _ => 4,
    }
}

fn open_campaigns() -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(campaign::Column::Id)
        .from(campaign::Entity)
        .and_where(campaign::Column::Status.eq(OPEN))
        .to_owned()
}

fn inbox_select(query: &InboxQuery) -> sea_orm::Select<campaign_item::Entity> {
    let mut q = campaign_item::Entity::find()
        .filter(campaign_item::Column::Reviewer.eq(query.reviewer.to_lowercase()))
        .filter(campaign_item::Column::CampaignId.in_subquery(open_campaigns()));
    if let Some(s) = query.state {
        q = q.filter(campaign_item::Column::State.eq(s.as_str()));
    }
    let set = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    if let Some(p) = set(&query.platform) {
        q = q.filter(campaign_item::Column::Platform.eq(p));
    }
    if let Some(k) = set(&query.kind) {
        q = q.filter(campaign_item::Column::Kind.eq(k));
    }
    if let Some(t) = set(&query.tier) {
        // By rank alone, which the inbox index holds (a test of the name too read every
        // matching row: 15 → 50 ms for a tier of a 24k-item inbox). A name that is no tier
        // matches nothing.
        q = q.filter(campaign_item::Column::TierRank.eq(tier_filter_rank(&t)));
    }
    if let Some(c) = query.campaign {
        q = q.filter(campaign_item::Column::CampaignId.eq(c));
    }
    q
}

/// Counts of a campaign's items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ItemCounts {
    pub pending: u64,
    pub decided: u64,
    pub unreviewed: u64,
}

impl ItemCounts {
    /// From `(state, count)` rows of a `GROUP BY state`.
    fn of_states(rows: Vec<(String, i64)>) -> Self {
        let mut c = ItemCounts::default();
        for (state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match state.parse::<ItemState>() {
                Ok(ItemState::Pending) => c.pending = n,
                Ok(ItemState::Decided) => c.decided = n,
                Ok(ItemState::Unreviewed) | Err(_) => c.unreviewed += n,
            }
        }
        c
    }
}

/// A remediation task to create at close.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub item_id: i64,
    pub record_id: i64,
    pub action: String,
}

/// What closing changes, decided by the caller from the campaign's rules.
#[derive(Debug, Clone)]
pub struct CloseOutcome {
    pub signed_off_by: String,
    /// Recorded for every still-pending item, e.g. `revoke` under the revoke close-out rule;
    /// `None` marks them unreviewed.
    pub close_out_decision: Option<DecisionKind>,
    /// With the escalate rule, the fallback reviewer: items left unreviewed move to them, so
    /// the record shows who is accountable for each.
    pub escalate_to: Option<String>,
    /// How many items the person signing off confirmed closing unreviewed: the close is
    /// refused if more or fewer are pending when it commits.
    pub confirmed_unreviewed: u64,
    pub audit: NewAuditEvent,
}

impl Store {
    /// Starts a launch: the campaign row, in a transaction the items join.
    pub async fn begin_launch(&self, c: NewCampaign) -> Result<Launch, StoreError> {
        let txn = self.begin_write().await?;
        let campaign = campaign::ActiveModel {
            name: Set(c.name),
            definition: Set(c.definition),
            scope: Set(c.scope),
            rules: Set(
                serde_json::to_string(&c.rules).map_err(|e| StoreError::Corrupt {
                    id: "new campaign".into(),
                    field: "rules",
                    detail: e.to_string(),
                })?,
            ),
            status: Set(OPEN.to_owned()),
            launched_by: Set(c.launched_by),
            launched_at: Set(c.launched_at),
            due_at: Set(c.due_at),
            item_count: Set(0),
            signed_off_by: Set(None),
            closed_at: Set(None),
            audit_hash_at_close: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        Ok(Launch {
            txn,
            audit_key: self.audit_key.clone(),
            campaign,
            items: 0,
        })
    }

    pub async fn campaigns(&self, limit: u64) -> Result<Vec<Campaign>, StoreError> {
        decode(
            campaign::Entity::find()
                .order_by_desc(campaign::Column::Id)
                .limit(limit)
                .all(&self.db)
                .await?,
        )
    }

    pub async fn open_campaigns(&self) -> Result<Vec<Campaign>, StoreError> {
        decode(
            campaign::Entity::find()
                .filter(campaign::Column::Status.eq(OPEN))
                .order_by_asc(campaign::Column::Id)
                .all(&self.db)
                .await?,
        )
    }

    pub async fn campaign(&self, id: i64) -> Result<Campaign, StoreError> {
        campaign::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("campaign {id}")))?
            .try_into()
    }

    /// The latest campaign launched from `definition`.
    pub async fn latest_campaign_of(
        &self,
        definition: &str,
    ) -> Result<Option<Campaign>, StoreError> {
        campaign::Entity::find()
            .filter(campaign::Column::Definition.eq(definition))
            .order_by_desc(campaign::Column::Id)
            .one(&self.db)
            .await?
            .map(Campaign::try_from)
            .transpose()
    }

    pub async fn item_counts(&self, campaign_id: i64) -> Result<ItemCounts, StoreError> {
        let rows: Vec<(String, i64)> = campaign_item::Entity::find()
            .select_only()
            .column(campaign_item::Column::State)
            .column_as(campaign_item::Column::Id.count(), "n")
            .filter(campaign_item::Column::CampaignId.eq(campaign_id))
            .group_by(campaign_item::Column::State)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(ItemCounts::of_states(rows))
    }

    /// A page of a campaign's items by id, optionally one reviewer's and/or one state's.
    pub async fn campaign_items(
        &self,
        campaign_id: i64,
        reviewer: Option<&str>,
        state: Option<ItemState>,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<CampaignItem>, StoreError> {
        let mut q =
            campaign_item::Entity::find().filter(campaign_item::Column::CampaignId.eq(campaign_id));
        if let Some(r) = reviewer {
            q = q.filter(campaign_item::Column::Reviewer.eq(r.to_lowercase()));
        }
        if let Some(s) = state {
            q = q.filter(campaign_item::Column::State.eq(s.as_str()));
        }
        if let Some(a) = after {
            q = q.filter(campaign_item::Column::Id.gt(a));
        }
        decode(
            q.order_by_asc(campaign_item::Column::Id)
                .limit(limit)
                .all(&self.db)
                .await?,
        )
    }

    /// One page of a reviewer's items across open campaigns: `query`'s state, filters and
    /// order, with how many match in all.
    pub async fn inbox(&self, query: &InboxQuery) -> Result<(Vec<CampaignItem>, u64), StoreError> {
        let total = if query.known_total {
            0
        } else {
            self.inbox_total(query).await?
        };
        let ids = match query.order {
            InboxOrder::Due => self.inbox_ids_by_due(query).await?,
            _ => self.inbox_ids(query, query.offset, query.limit).await?,
        };
        // The page's rows by id: sorting whole rows would carry every matching item's snapshot
        // through the sort (0.7 s for a 24k-item inbox at 100k).
        let mut rows = self.campaign_items_by_id(&ids).await?;
        let at: std::collections::HashMap<i64, usize> =
            ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        rows.sort_by_key(|r| at.get(&r.id).copied().unwrap_or(usize::MAX));
        Ok((rows, total))
    }

    /// The ids of `query`'s page in its order (not by due date). Riskiest first is the inbox
    /// index's own order: the page is read from its start, not sorted.
    async fn inbox_ids(
        &self,
        query: &InboxQuery,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<i64>, StoreError> {
        let q = inbox_select(query);
        let q = match query.order {
            InboxOrder::Tier | InboxOrder::Due => q,
            InboxOrder::Platform => q.order_by_asc(campaign_item::Column::Platform),
            InboxOrder::Name => q.order_by_asc(campaign_item::Column::Name),
        };
        Ok(q.select_only()
            .column(campaign_item::Column::Id)
            .order_by_asc(campaign_item::Column::TierRank)
            .order_by_asc(campaign_item::Column::Id)
            .offset(offset)
            .limit(limit)
            .into_tuple()
            .all(&self.db)
            .await?)
    }

    /// Soonest due first: campaign by campaign in due order (an item's due date is its
    /// campaign's), riskiest first within each, so each campaign's part is an index range
    /// and a campaign wholly before the page is only counted.
    async fn inbox_ids_by_due(&self, query: &InboxQuery) -> Result<Vec<i64>, StoreError> {
        let mut campaigns = campaign::Entity::find()
            .select_only()
            .column(campaign::Column::Id)
            .filter(campaign::Column::Status.eq(OPEN))
            .order_by_asc(campaign::Column::DueAt)
            .order_by_asc(campaign::Column::Id);
        if let Some(c) = query.campaign {
            campaigns = campaigns.filter(campaign::Column::Id.eq(c));
        }
        let campaigns: Vec<i64> = campaigns.into_tuple().all(&self.db).await?;
        let mut skip = query.offset;
        let mut ids = Vec::new();
        for c in campaigns {
            let left = query.limit.saturating_sub(ids.len() as u64);
            if left == 0 {
                break;
            }
            let part = InboxQuery {
                campaign: Some(c),
                ..query.clone()
            };
            if skip > 0 {
                let n = self.inbox_total(&part).await?;
                if n <= skip {
                    skip -= n;
                    continue;
                }
            }
            ids.extend(self.inbox_ids(&part, skip, left).await?);
            skip = 0;
        }
        Ok(ids)
    }

    /// A reviewer's items across open campaigns, by state (their progress), from the tallies
    /// the database keeps (see migration m20261205_000020): no entry of the inbox is read.
    pub async fn inbox_counts(&self, reviewer: &str) -> Result<ItemCounts, StoreError> {
        let rows = self
            .inbox_tally(&InboxQuery {
                reviewer: reviewer.to_owned(),
                ..InboxQuery::default()
            })
            .await?;
        let mut c = ItemCounts::default();
        for (state, n) in rows {
            match state {
                ItemState::Pending => c.pending += n,
                ItemState::Decided => c.decided += n,
                // Only a closed campaign has unreviewed items, and an inbox shows open ones.
                ItemState::Unreviewed => {}
            }
        }
        Ok(c)
    }

    /// The same, counted from the items themselves: what the tallies must always equal.
    #[cfg(test)]
    async fn inbox_counts_counted(&self, reviewer: &str) -> Result<ItemCounts, StoreError> {
        let count = |state: ItemState| {
            inbox_select(&InboxQuery {
                reviewer: reviewer.to_owned(),
                state: Some(state),
                ..InboxQuery::default()
            })
            .count(&self.db)
        };
        Ok(ItemCounts {
            pending: count(ItemState::Pending).await?,
            decided: count(ItemState::Decided).await?,
            unreviewed: 0,
        })
    }

    /// `query`'s reviewer's items in open campaigns per state, narrowed by its campaign and
    /// tier (what the tallies hold), from the tallies.
    async fn inbox_tally(&self, query: &InboxQuery) -> Result<Vec<(ItemState, u64)>, StoreError> {
        let mut sql = String::from(
            "SELECT state, CAST(SUM(n) AS BIGINT) AS n FROM inbox_tallies \
             WHERE reviewer = ? AND campaign_id IN (SELECT id FROM campaigns WHERE status = ?)",
        );
        let mut values: Vec<sea_orm::Value> =
            vec![query.reviewer.to_lowercase().into(), OPEN.into()];
        if let Some(c) = query.campaign {
            sql.push_str(" AND campaign_id = ?");
            values.push(c.into());
        }
        if let Some(t) = query.tier.as_deref().filter(|t| !t.is_empty()) {
            sql.push_str(" AND tier_rank = ?");
            values.push(tier_filter_rank(t).into());
        }
        if let Some(s) = query.state {
            sql.push_str(" AND state = ?");
            values.push(s.as_str().into());
        }
        sql.push_str(" GROUP BY state");
        let rows = self
            .db
            .query_all(crate::statement(
                self.db.get_database_backend(),
                &sql,
                values,
            ))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let state: String = row.try_get("", "state")?;
            let n: i64 = row.try_get("", "n")?;
            out.push((
                parse(&state, "inbox tally".to_owned(), "state")?,
                u64::try_from(n).unwrap_or(0),
            ));
        }
        Ok(out)
    }

    /// How many items `query` matches: from the tallies when it narrows only by campaign and
    /// tier, else counted.
    async fn inbox_total(&self, query: &InboxQuery) -> Result<u64, StoreError> {
        let set = |v: &Option<String>| v.as_deref().is_some_and(|v| !v.is_empty());
        if set(&query.platform) || set(&query.kind) {
            return Ok(inbox_select(query).count(&self.db).await?);
        }
        Ok(self.inbox_tally(query).await?.iter().map(|(_, n)| n).sum())
    }

    /// Items by id, in no particular order; ids that do not exist are left out.
    pub async fn campaign_items_by_id(&self, ids: &[i64]) -> Result<Vec<CampaignItem>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        decode(
            campaign_item::Entity::find()
                .filter(campaign_item::Column::Id.is_in(ids.iter().copied()))
                .all(&self.db)
                .await?,
        )
    }

    pub async fn campaign_item(&self, id: i64) -> Result<CampaignItem, StoreError> {
        campaign_item::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("campaign item {id}")))?
            .try_into()
    }

    /// Every decision on an item, oldest first.
    pub async fn item_decisions(&self, item_id: i64) -> Result<Vec<CampaignDecision>, StoreError> {
        decode(
            campaign_decision::Entity::find()
                .filter(campaign_decision::Column::ItemId.eq(item_id))
                .order_by_asc(campaign_decision::Column::Id)
                .all(&self.db)
                .await?,
        )
    }

    /// Every decision of a campaign in order, for evidence.
    pub async fn campaign_decisions(
        &self,
        campaign_id: i64,
    ) -> Result<Vec<CampaignDecision>, StoreError> {
        decode(
            campaign_decision::Entity::find()
                .filter(campaign_decision::Column::CampaignId.eq(campaign_id))
                .order_by_asc(campaign_decision::Column::Id)
                .all(&self.db)
                .await?,
        )
    }

    /// The items a record has had across campaigns, newest first, with their decisions.
    pub async fn record_reviews(
        &self,
        record_id: i64,
        limit: u64,
    ) -> Result<Vec<(CampaignItem, Vec<CampaignDecision>)>, StoreError> {
        let items = campaign_item::Entity::find()
            .filter(campaign_item::Column::RecordId.eq(record_id))
            .order_by_desc(campaign_item::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?;
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            let d = self.item_decisions(i.id).await?;
            out.push((i.try_into()?, d));
        }
        Ok(out)
    }

    /// Records decisions, each with its audit event, in one transaction: all or none. Refused
    /// when an item's campaign is no longer open (a close can race a decision).
    pub async fn record_decisions(
        &self,
        decisions: Vec<NewDecision>,
        at: DateTime<Utc>,
    ) -> Result<Vec<CampaignDecision>, StoreError> {
        let txn = self.begin_write().await?;
        let mut out = Vec::with_capacity(decisions.len());
        let mut locked = std::collections::HashSet::new();
        for d in decisions {
            let campaign_id: Option<i64> = campaign_item::Entity::find_by_id(d.item_id)
                .select_only()
                .column(campaign_item::Column::CampaignId)
                .into_tuple()
                .one(&txn)
                .await?;
            let campaign_id = campaign_id
                .ok_or_else(|| StoreError::NotFound(format!("campaign item {}", d.item_id)))?;
            if locked.insert(campaign_id) {
                lock_campaign(&txn, campaign_id).await?;
            }
            // Read again under the lock: what the decision was checked against must still hold.
            let item = campaign_item::Entity::find_by_id(d.item_id)
                .one(&txn)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("campaign item {}", d.item_id)))?;
            let last: Option<i64> = campaign_decision::Entity::find()
                .select_only()
                .column(campaign_decision::Column::Id)
                .filter(campaign_decision::Column::ItemId.eq(item.id))
                .order_by_desc(campaign_decision::Column::Id)
                .into_tuple()
                .one(&txn)
                .await?;
            if !item.reviewer.eq_ignore_ascii_case(d.expect_reviewer.trim())
                || last != d.expect_last_decision
            {
                return Err(StoreError::Conflict(format!(
                    "item {} changed meanwhile (reassigned, escalated or decided by someone \
                     else): open it again",
                    item.id
                )));
            }
            let open = campaign::Entity::find_by_id(item.campaign_id)
                .filter(campaign::Column::Status.eq(OPEN))
                .count(&txn)
                .await?;
            if open == 0 {
                return Err(StoreError::Conflict(format!(
                    "campaign {} is closed",
                    item.campaign_id
                )));
            }
            let saved = campaign_decision::ActiveModel {
                campaign_id: Set(item.campaign_id),
                item_id: Set(item.id),
                decision: Set(d.decision.as_str().to_owned()),
                justification: Set(d.justification),
                expires_on: Set(d.expires_on),
                handed_to: Set(d.handed_to.clone()),
                actor: Set(d.actor),
                at: Set(at),
                warnings: Set(d.warnings),
                suggestion_rule: Set(d.suggestion_rule),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            let mut row: campaign_item::ActiveModel = item.into();
            if d.concludes {
                row.state = Set(ItemState::Decided.as_str().to_owned());
                row.decision = Set(Some(d.decision.as_str().to_owned()));
                row.decided_at = Set(Some(at));
            } else if let Some(to) = d.handed_to {
                // Handed over, a decided item waits again, for its new reviewer.
                row.reviewer = Set(to.to_lowercase());
                row.reviewer_basis = Set("handed".to_owned());
                row.state = Set(ItemState::Pending.as_str().to_owned());
                row.decision = Set(None);
                row.decided_at = Set(None);
            }
            row.update(&txn).await?;
            append_audit_in(&txn, self.audit_key.as_ref(), d.audit, at).await?;
            out.push(saved.try_into()?);
        }
        txn.commit().await?;
        Ok(out)
    }

    /// Moves campaign `id`'s pending items not already with `to` to `to`, marked escalated,
    /// with one audit event (built from how many moved, and from whom) when any did. Returns
    /// how many.
    pub async fn escalate_pending(
        &self,
        id: i64,
        to: &str,
        audit: impl FnOnce(u64, &std::collections::BTreeMap<String, u64>) -> NewAuditEvent,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let to = to.trim().to_lowercase();
        let txn = self.begin_write().await?;
        lock_campaign(&txn, id).await?;
        let mut from = pending_by_reviewer(&txn, id).await?;
        from.remove(&to);
        let moved = campaign_item::Entity::update_many()
            .col_expr(campaign_item::Column::Reviewer, Expr::value(to.clone()))
            .col_expr(
                campaign_item::Column::ReviewerBasis,
                Expr::value("escalated"),
            )
            .filter(campaign_item::Column::CampaignId.eq(id))
            .filter(campaign_item::Column::State.eq(ItemState::Pending.as_str()))
            .filter(campaign_item::Column::Reviewer.ne(to))
            .filter(campaign_item::Column::CampaignId.in_subquery(open_campaigns()))
            .exec(&txn)
            .await?
            .rows_affected;
        if moved > 0 {
            append_audit_in(&txn, self.audit_key.as_ref(), audit(moved, &from), at).await?;
        }
        txn.commit().await?;
        Ok(moved)
    }

    /// Signs off and closes: pending items get the close-out decision or are marked unreviewed,
    /// every decision needing action becomes a remediation task, the audit event is written and
    /// its hash kept on the campaign. One transaction.
    pub async fn close_campaign(
        &self,
        id: i64,
        outcome: CloseOutcome,
        needs_action: &[DecisionKind],
        at: DateTime<Utc>,
    ) -> Result<Campaign, StoreError> {
        let txn = self.begin_write().await?;
        lock_campaign(&txn, id).await?;
        let c = campaign::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("campaign {id}")))?;
        if c.status != OPEN {
            return Err(StoreError::Conflict(format!(
                "campaign {id} is already closed"
            )));
        }
        let pending = campaign_item::Entity::find()
            .filter(campaign_item::Column::CampaignId.eq(id))
            .filter(campaign_item::Column::State.eq(ItemState::Pending.as_str()))
            .count(&txn)
            .await?;
        if pending != outcome.confirmed_unreviewed {
            return Err(StoreError::Conflict(format!(
                "{pending} item(s) are pending now, not the {} confirmed: confirm again",
                outcome.confirmed_unreviewed
            )));
        }
        let backend = txn.get_database_backend();
        let mut escalated_from = std::collections::BTreeMap::new();
        match &outcome.close_out_decision {
            Some(decision) => {
                txn.execute(Statement::from_sql_and_values(
                    backend,
                    "INSERT INTO campaign_decisions \
                     (campaign_id, item_id, decision, justification, actor, at, warnings) \
                     SELECT campaign_id, id, $1, $2, $3, $4, '[]' FROM campaign_items \
                     WHERE campaign_id = $5 AND state = 'pending'",
                    [
                        decision.as_str().into(),
                        "close-out: nobody reviewed it before the campaign closed".into(),
                        "system:close-out".into(),
                        at.into(),
                        id.into(),
                    ],
                ))
                .await?;
                campaign_item::Entity::update_many()
                    .col_expr(
                        campaign_item::Column::State,
                        Expr::value(ItemState::Decided.as_str()),
                    )
                    .col_expr(
                        campaign_item::Column::Decision,
                        Expr::value(decision.as_str()),
                    )
                    .col_expr(campaign_item::Column::DecidedAt, Expr::value(at))
                    .filter(campaign_item::Column::CampaignId.eq(id))
                    .filter(campaign_item::Column::State.eq(ItemState::Pending.as_str()))
                    .exec(&txn)
                    .await?;
            }
            None => {
                let mut update = campaign_item::Entity::update_many().col_expr(
                    campaign_item::Column::State,
                    Expr::value(ItemState::Unreviewed.as_str()),
                );
                // Who was accountable for each, before the escalation moves them.
                if outcome.escalate_to.is_some() {
                    escalated_from = pending_by_reviewer(&txn, id).await?;
                }
                if let Some(to) = &outcome.escalate_to {
                    update = update
                        .col_expr(
                            campaign_item::Column::Reviewer,
                            Expr::value(to.to_lowercase()),
                        )
                        .col_expr(
                            campaign_item::Column::ReviewerBasis,
                            Expr::value("escalated"),
                        );
                }
                update
                    .filter(campaign_item::Column::CampaignId.eq(id))
                    .filter(campaign_item::Column::State.eq(ItemState::Pending.as_str()))
                    .exec(&txn)
                    .await?;
            }
        }
        let actionable: Vec<(i64, i64, Option<String>)> = campaign_item::Entity::find()
            .select_only()
            .column(campaign_item::Column::Id)
            .column(campaign_item::Column::RecordId)
            .column(campaign_item::Column::Decision)
            .filter(campaign_item::Column::CampaignId.eq(id))
            .filter(campaign_item::Column::Decision.is_in(needs_action.iter().map(|k| k.as_str())))
            .into_tuple()
            .all(&txn)
            .await?;
        for chunk in actionable.chunks(INSERT_BATCH) {
            let tasks = chunk
                .iter()
                .map(|(item, record, action)| remediation_task::ActiveModel {
                    campaign_id: Set(id),
                    item_id: Set(*item),
                    record_id: Set(*record),
                    action: Set(action.clone().unwrap_or_default()),
                    status: Set(TaskStatus::Pending.as_str().to_owned()),
                    detail: Set(String::new()),
                    updated_at: Set(at),
                    ..Default::default()
                });
            remediation_task::Entity::insert_many(tasks)
                .exec_without_returning(&txn)
                .await?;
        }
        let mut audit = outcome.audit;
        if !escalated_from.is_empty()
            && let Some(detail) = audit.detail.as_object_mut()
        {
            detail.insert("escalated_from".into(), serde_json::json!(escalated_from));
        }
        let event = append_audit_in(&txn, self.audit_key.as_ref(), audit, at).await?;
        let mut row: campaign::ActiveModel = c.into();
        row.status = Set(CampaignStatus::Closed.as_str().to_owned());
        row.signed_off_by = Set(Some(outcome.signed_off_by));
        row.closed_at = Set(Some(at));
        row.audit_hash_at_close = Set(Some(event.hash));
        let saved = row.update(&txn).await?;
        txn.commit().await?;
        saved.try_into()
    }

    pub async fn remediation_tasks(
        &self,
        campaign_id: i64,
    ) -> Result<Vec<RemediationTask>, StoreError> {
        decode(
            remediation_task::Entity::find()
                .filter(remediation_task::Column::CampaignId.eq(campaign_id))
                .order_by_asc(remediation_task::Column::Id)
                .all(&self.db)
                .await?,
        )
    }

    /// Records a task's new status with its audit event, in one transaction.
    pub async fn update_remediation_task(
        &self,
        task_id: i64,
        status: TaskStatus,
        detail: &str,
        audit: NewAuditEvent,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let txn = self.begin_write().await?;
        let task = remediation_task::Entity::find_by_id(task_id)
            .one(&txn)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("remediation task {task_id}")))?;
        let mut row: remediation_task::ActiveModel = task.into();
        row.status = Set(status.as_str().to_owned());
        row.detail = Set(detail.to_owned());
        row.updated_at = Set(at);
        row.update(&txn).await?;
        append_audit_in(&txn, self.audit_key.as_ref(), audit, at).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Reviewers with pending items in an open campaign, with how many.
    pub async fn pending_reviewers(
        &self,
        campaign_id: i64,
    ) -> Result<Vec<(String, u64)>, StoreError> {
        let rows: Vec<(String, i64)> = campaign_item::Entity::find()
            .select_only()
            .column(campaign_item::Column::Reviewer)
            .column_as(campaign_item::Column::Id.count(), "n")
            .filter(campaign_item::Column::CampaignId.eq(campaign_id))
            .filter(campaign_item::Column::State.eq(ItemState::Pending.as_str()))
            .group_by(campaign_item::Column::Reviewer)
            .order_by_asc(campaign_item::Column::Reviewer)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(r, n)| (r, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    /// Each reviewer of a campaign with how many items wait for them and how many they
    /// decided, by reviewer.
    pub async fn reviewer_progress(
        &self,
        campaign_id: i64,
    ) -> Result<Vec<ReviewerProgress>, StoreError> {
        let rows: Vec<(String, String, i64)> = campaign_item::Entity::find()
            .select_only()
            .column(campaign_item::Column::Reviewer)
            .column(campaign_item::Column::State)
            .column_as(campaign_item::Column::Id.count(), "n")
            .filter(campaign_item::Column::CampaignId.eq(campaign_id))
            .group_by(campaign_item::Column::Reviewer)
            .group_by(campaign_item::Column::State)
            .order_by_asc(campaign_item::Column::Reviewer)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut out: Vec<ReviewerProgress> = Vec::new();
        for (reviewer, state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            if out.last().is_none_or(|p| p.reviewer != reviewer) {
                out.push(ReviewerProgress {
                    reviewer,
                    pending: 0,
                    decided: 0,
                });
            }
            let Some(p) = out.last_mut() else { continue };
            match state.parse::<ItemState>() {
                Ok(ItemState::Pending) => p.pending += n,
                Ok(ItemState::Decided) => p.decided += n,
                _ => {}
            }
        }
        Ok(out)
    }

    /// Claims a reminder for sending: true once per (campaign, reviewer, key), whichever server
    /// asks first.
    pub async fn claim_reminder(
        &self,
        campaign_id: i64,
        reviewer: &str,
        key: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let res = reminder_sent::Entity::insert(reminder_sent::ActiveModel {
            campaign_id: Set(campaign_id),
            reviewer: Set(reviewer.to_owned()),
            reminder_key: Set(key.to_owned()),
            sent_at: Set(at),
        })
        .on_conflict(
            OnConflict::columns([
                reminder_sent::Column::CampaignId,
                reminder_sent::Column::Reviewer,
                reminder_sent::Column::ReminderKey,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        Ok(res == 1)
    }

    /// Gives back a claimed reminder whose delivery failed, so a later run retries it.
    pub async fn release_reminder(
        &self,
        campaign_id: i64,
        reviewer: &str,
        key: &str,
    ) -> Result<(), StoreError> {
        reminder_sent::Entity::delete_many()
            .filter(reminder_sent::Column::CampaignId.eq(campaign_id))
            .filter(reminder_sent::Column::Reviewer.eq(reviewer))
            .filter(reminder_sent::Column::ReminderKey.eq(key))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Takes or renews the lease on `job` until `until`: true when `holder` has it now (it
    /// was free, expired, or already theirs). One statement, so two servers cannot both win.
    pub async fn try_lease(
        &self,
        job: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let backend = self.db.get_database_backend();
        let res = self
            .db
            .execute(Statement::from_sql_and_values(
                backend,
                "INSERT INTO job_leases (job, holder, until) VALUES ($1, $2, $3) \
                 ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, until = excluded.until \
                 WHERE job_leases.until < $4 OR job_leases.holder = excluded.holder",
                [job.into(), holder.into(), until.into(), now.into()],
            ))
            .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Who holds `job`'s lease, if anyone.
    pub async fn lease_holder(
        &self,
        job: &str,
    ) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        Ok(job_lease::Entity::find_by_id(job.to_owned())
            .one(&self.db)
            .await?
            .map(|l| (l.holder, l.until)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn ev(action: &str) -> NewAuditEvent {
        NewAuditEvent {
            actor: "test".into(),
            action: action.into(),
            target: None,
            detail: json!({}),
        }
    }

    fn item(record_id: i64, reviewer: &str) -> NewItem {
        NewItem {
            record_id,
            platform: "aws".into(),
            kind: "access_key".into(),
            name: format!("key-{record_id}"),
            // Every tier, in an order that is not the riskiest-first one.
            tier: ["low", "critical", "medium", "high"][(record_id % 4) as usize].into(),
            reviewer: reviewer.into(),
            reviewer_basis: "owner".into(),
            snapshot: "{}".into(),
        }
    }

    async fn launch(s: &Store, at: DateTime<Utc>, n: i64) -> Campaign {
        let mut l = s
            .begin_launch(NewCampaign {
                name: "Q4".into(),
                definition: Some("quarterly".into()),
                scope: "platform=aws".into(),
                rules: CampaignRules::new("iam"),
                launched_by: "admin".into(),
                launched_at: at,
                due_at: at + chrono::Duration::days(14),
            })
            .await
            .unwrap();
        l.add_items(
            (1..=n)
                .map(|i| item(i, if i % 2 == 0 { "alice" } else { "bob" }))
                .collect(),
        )
        .await
        .unwrap();
        l.finish(ev("campaign.launched"), at).await.unwrap()
    }

    fn decide(item: &CampaignItem, decision: DecisionKind, concludes: bool) -> NewDecision {
        NewDecision {
            item_id: item.id,
            decision,
            justification: "why".into(),
            expires_on: None,
            handed_to: (!concludes).then(|| "Carol".into()),
            concludes,
            actor: "alice".into(),
            warnings: "[]".into(),
            suggestion_rule: None,
            expect_reviewer: item.reviewer.clone(),
            expect_last_decision: None,
            audit: ev("campaign.decision"),
        }
    }

    /// Every reviewer's tallied progress equals their items counted, and a tier's tally its
    /// items counted.
    async fn assert_tallies_hold(s: &Store, backend: &str, when: &str) {
        for reviewer in ["alice", "bob", "carol", "iam"] {
            assert_eq!(
                s.inbox_counts(reviewer).await.unwrap(),
                s.inbox_counts_counted(reviewer).await.unwrap(),
                "{backend}: {reviewer}'s tallies {when}"
            );
            for tier in ["critical", "low", "hgh"] {
                let q = InboxQuery {
                    reviewer: reviewer.into(),
                    state: Some(ItemState::Pending),
                    tier: Some(tier.into()),
                    ..InboxQuery::default()
                };
                assert_eq!(
                    s.inbox_total(&q).await.unwrap(),
                    inbox_select(&q).count(&s.db).await.unwrap(),
                    "{backend}: {reviewer}'s {tier} items {when}"
                );
            }
        }
    }

    #[tokio::test]
    async fn launch_decide_close_and_the_next_campaign_links_back() {
        for t in crate::testing::test_stores().await.unwrap() {
            let s = &t.store;
            let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
            let c = launch(s, at, 2500).await;
            assert_eq!(c.item_count, 2500, "{}", t.backend);
            assert_tallies_hold(s, t.backend, "after the launch").await;
            assert_eq!(s.inbox_counts("alice").await.unwrap().pending, 1250);
            let alice = |offset, limit| InboxQuery {
                reviewer: "ALICE".into(),
                state: Some(ItemState::Pending),
                offset,
                limit,
                ..InboxQuery::default()
            };
            let (page, total) = s.inbox(&alice(0, 50)).await.unwrap();
            assert_eq!((page.len(), total), (50, 1250), "{}", t.backend);
            let (last, _) = s.inbox(&alice(1200, 100)).await.unwrap();
            assert_eq!(last.len(), 50, "the last page holds the rest");
            let tiers: Vec<&str> = page.iter().map(|i| i.tier.as_str()).collect();
            let sorted = {
                let rank = |t: &str| {
                    ["critical", "high", "medium", "low"]
                        .iter()
                        .position(|x| *x == t)
                };
                let mut v = tiers.clone();
                v.sort_by_key(|t| rank(t));
                v
            };
            assert_eq!(tiers, sorted, "riskiest first");
            assert_eq!(
                tiers[0], "medium",
                "{}: alice has low and medium items",
                t.backend
            );
            let by_platform = s
                .inbox(&InboxQuery {
                    platform: Some("nowhere".into()),
                    ..alice(0, 50)
                })
                .await
                .unwrap();
            assert_eq!(by_platform.1, 0, "the filter counts what it keeps");
            let items = s.campaign_items(c.id, None, None, None, 4).await.unwrap();
            s.record_decisions(
                vec![
                    decide(&items[0], DecisionKind::Keep, true),
                    decide(&items[1], DecisionKind::Revoke, true),
                    decide(&items[2], DecisionKind::Delegate, false),
                ],
                at,
            )
            .await
            .unwrap();
            // Checked against a reviewer or a decision that no longer holds: refused, nothing
            // written (an escalation or an admin's decision landed in between).
            let mut stale = decide(&items[3], DecisionKind::Keep, true);
            stale.expect_reviewer = "someone-else".into();
            let err = s.record_decisions(vec![stale], at).await.unwrap_err();
            assert!(matches!(err, StoreError::Conflict(_)), "{err}");
            let mut stale = decide(&items[0], DecisionKind::Revoke, true);
            stale.expect_last_decision = None; // items[0] was decided just above
            let err = s.record_decisions(vec![stale], at).await.unwrap_err();
            assert!(matches!(err, StoreError::Conflict(_)), "{err}");
            assert_eq!(s.item_decisions(items[0].id).await.unwrap().len(), 1);
            assert_tallies_hold(s, t.backend, "after decisions and a hand-over").await;
            let handed = s.campaign_item(items[2].id).await.unwrap();
            assert_eq!(
                (handed.reviewer.as_str(), handed.state),
                ("carol", ItemState::Pending)
            );
            assert_eq!(
                s.item_counts(c.id).await.unwrap(),
                ItemCounts {
                    pending: 2498,
                    decided: 2,
                    unreviewed: 0
                }
            );
            // `/metrics`: the same pending items by tier, overdue only after the due date.
            let pending = |at| async move {
                let rows = s.pending_reviews(at).await.unwrap();
                let sum = |f: fn(&crate::monitoring::PendingReviews) -> u64| {
                    rows.iter().map(f).sum::<u64>()
                };
                (sum(|r| r.pending), sum(|r| r.overdue), rows.len())
            };
            let (n, overdue, tiers) = pending(at).await;
            assert_eq!((n, overdue), (2498, 0), "{}", t.backend);
            assert!(tiers >= 2, "{}: grouped by tier", t.backend);
            let late = at + chrono::Duration::days(15);
            assert_eq!(pending(late).await.0, pending(late).await.1);
            assert_eq!(s.open_campaign_count().await.unwrap(), 1);

            // Confirmed for fewer items than are pending: refused, nothing closes.
            let outcome = |confirmed| CloseOutcome {
                signed_off_by: "iam".into(),
                close_out_decision: None,
                escalate_to: Some("IAM".into()),
                confirmed_unreviewed: confirmed,
                audit: ev("campaign.closed"),
            };
            let err = s
                .close_campaign(c.id, outcome(2497), &[DecisionKind::Revoke], at)
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::Conflict(_)), "{err}");
            assert!(s.campaign(c.id).await.unwrap().is_open());
            let closed = s
                .close_campaign(c.id, outcome(2498), &[DecisionKind::Revoke], at)
                .await
                .unwrap();
            let left = s
                .campaign_items(c.id, None, Some(ItemState::Unreviewed), None, 5000)
                .await
                .unwrap();
            assert!(
                left.iter()
                    .all(|i| i.reviewer == "iam" && i.reviewer_basis == "escalated"),
                "{}: what nobody reviewed is the fallback's, escalated",
                t.backend
            );
            assert_eq!(closed.status, CampaignStatus::Closed);
            assert!(closed.audit_hash_at_close.is_some());
            let tasks = s.remediation_tasks(c.id).await.unwrap();
            assert_eq!(tasks.len(), 1);
            assert_eq!(tasks[0].item_id, items[1].id);
            assert_eq!(s.item_counts(c.id).await.unwrap().unreviewed, 2498);
            assert_tallies_hold(s, t.backend, "after the close").await;
            assert_eq!(
                s.inbox_counts("iam").await.unwrap(),
                ItemCounts::default(),
                "a closed campaign is in nobody's inbox"
            );
            // Closed: no more decisions, nothing half-written.
            let err = s
                .record_decisions(vec![decide(&items[3], DecisionKind::Keep, true)], at)
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::Conflict(_)), "{err}");
            assert!(s.item_decisions(items[3].id).await.unwrap().is_empty());
            assert!(
                s.close_campaign(
                    c.id,
                    CloseOutcome {
                        signed_off_by: "iam".into(),
                        close_out_decision: None,
                        escalate_to: None,
                        confirmed_unreviewed: 0,
                        audit: ev("campaign.closed"),
                    },
                    &[DecisionKind::Revoke],
                    at
                )
                .await
                .is_err()
            );

            let next = launch(s, at + chrono::Duration::days(90), 3).await;
            assert_tallies_hold(s, t.backend, "after a second launch").await;
            let linked = s
                .campaign_items(next.id, None, None, None, 10)
                .await
                .unwrap();
            assert_eq!(linked[0].previous_item_id, Some(items[0].id));
            assert_eq!(s.record_reviews(1, 10).await.unwrap().len(), 2);
            assert_eq!(s.verify_audit().await.unwrap().1, None);
        }
    }

    #[tokio::test]
    async fn revoke_close_out_and_reminders_once_and_leases() {
        for t in crate::testing::test_stores().await.unwrap() {
            let s = &t.store;
            let at = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
            let c = launch(s, at, 4).await;
            // Escalation moves what is not already the fallback's, once.
            let before = s.verify_audit().await.unwrap().0;
            let moved = s
                .escalate_pending(c.id, "Alice", |_, _| ev("campaign.escalated"), at)
                .await
                .unwrap();
            let items = s.campaign_items(c.id, None, None, None, 10).await.unwrap();
            assert!(moved > 0 && moved < 4, "{}: {moved}", t.backend);
            assert!(items.iter().all(|i| i.reviewer == "alice"));
            assert_tallies_hold(s, t.backend, "after an escalation").await;
            assert_eq!(
                items
                    .iter()
                    .filter(|i| i.reviewer_basis == "escalated")
                    .count() as u64,
                moved
            );
            assert_eq!(s.verify_audit().await.unwrap().0, before + 1);
            let again = s.escalate_pending(c.id, "alice", |_, _| ev("campaign.escalated"), at);
            assert_eq!(again.await.unwrap(), 0, "nothing left to move");
            assert_eq!(
                s.verify_audit().await.unwrap().0,
                before + 1,
                "and no event"
            );
            s.close_campaign(
                c.id,
                CloseOutcome {
                    signed_off_by: "iam".into(),
                    close_out_decision: Some(DecisionKind::Revoke),
                    escalate_to: None,
                    confirmed_unreviewed: 4,
                    audit: ev("campaign.closed"),
                },
                &[DecisionKind::Revoke],
                at,
            )
            .await
            .unwrap();
            assert_eq!(s.remediation_tasks(c.id).await.unwrap().len(), 4);
            assert_eq!(s.campaign_decisions(c.id).await.unwrap().len(), 4);

            assert!(
                s.claim_reminder(c.id, "alice", "before:7", at)
                    .await
                    .unwrap()
            );
            assert!(
                !s.claim_reminder(c.id, "alice", "before:7", at)
                    .await
                    .unwrap()
            );
            s.release_reminder(c.id, "alice", "before:7").await.unwrap();
            assert!(
                s.claim_reminder(c.id, "alice", "before:7", at)
                    .await
                    .unwrap()
            );

            let later = at + chrono::Duration::minutes(5);
            assert!(
                s.try_lease("sync", "a", later, at).await.unwrap(),
                "{}",
                t.backend
            );
            assert!(!s.try_lease("sync", "b", later, at).await.unwrap());
            assert!(s.try_lease("sync", "a", later, at).await.unwrap());
            // Expired: another server takes it.
            assert!(
                s.try_lease(
                    "sync",
                    "b",
                    later + chrono::Duration::minutes(5),
                    later + chrono::Duration::seconds(1)
                )
                .await
                .unwrap()
            );
            assert_eq!(s.lease_holder("sync").await.unwrap().unwrap().0, "b");
            // A server stopping gives up what it holds, but for the leases it keeps.
            for job in ["tick", "loop"] {
                assert!(s.try_lease(job, "b", later, at).await.unwrap());
            }
            assert!(s.try_lease("other", "c", later, at).await.unwrap());
            assert_eq!(
                s.release_leases_of("b", &["tick".to_owned()])
                    .await
                    .unwrap(),
                2,
                "{}",
                t.backend
            );
            for (job, holder) in [("tick", Some("b")), ("loop", None), ("sync", None)] {
                assert_eq!(
                    s.lease_holder(job).await.unwrap().map(|h| h.0).as_deref(),
                    holder,
                    "{}: {job}",
                    t.backend
                );
            }
            assert!(s.lease_holder("other").await.unwrap().is_some());
        }
    }
}
