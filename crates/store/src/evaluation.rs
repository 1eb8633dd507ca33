//! Stored evaluations. Each record keeps the tier and rule ids of its last evaluation and the
//! moment that evaluation stops holding (`evaluated_until`, from `Evaluation::until`). The sync
//! evaluates what it writes, then re-evaluates what is due (past its moment, or touched by a
//! change of context: a credential count, a shared fingerprint); claims, directory changes and
//! a new policy mark what they affect as due. Readers can then filter and count on the stored
//! columns, evaluating in full only the rows that are due.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use roster_core::credential_fingerprint::CredentialReuse;
use roster_core::directory::Directory;
use roster_core::{
    Evaluation, NEVER_USED_RULE, NO_USAGE_DATA_RULE, ORPHANED_RULES, Record, RiskPolicy,
    STALE_RULES, Tier,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement, Value,
};

use crate::claims::OwnershipClaim;
use crate::entity::record;
use crate::{Store, StoreError, statement};

/// What evaluation knows beyond each record: the people directory, ownership claims, and the
/// cross-record counts (active credentials per parent, credential material held elsewhere).
#[derive(Default)]
pub struct EvaluationInputs {
    /// The people directory owners are checked against (empty without an import).
    pub directory: Directory,
    /// Ownership claims, applied to records neither the policy nor the platform gives an owner.
    pub claims: HashMap<i64, OwnershipClaim>,
    /// Active credentials per parent, where two or more.
    pub active_credentials: HashMap<i64, u32>,
    /// Credentials whose material is also used elsewhere, with where.
    pub credential_reuse: HashMap<i64, CredentialReuse>,
}

impl EvaluationInputs {
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let mut inputs = Self {
            directory: store.directory().await?,
            claims: store.ownership_claims().await?,
            ..Self::default()
        };
        inputs.reload_cross_record(store).await?;
        Ok(inputs)
    }

    /// Re-reads the cross-record counts, and returns the records whose count or reuse changed.
    pub async fn reload_cross_record(&mut self, store: &Store) -> Result<HashSet<i64>, StoreError> {
        let active = store.parents_with_active_credentials().await?;
        let reuse = roster_core::credential_fingerprint::reuse_by_record(
            &store.shared_credential_fingerprints().await?,
        );
        let mut changed = HashSet::new();
        changed_keys(&self.active_credentials, &active, &mut changed);
        changed_keys(&self.credential_reuse, &reuse, &mut changed);
        self.active_credentials = active;
        self.credential_reuse = reuse;
        Ok(changed)
    }

    /// Applies record `id`'s ownership claim: the third source of ownership, after the
    /// policy's `[[owners]]` and the platform, both applied at sync.
    pub fn apply_claim(&self, id: i64, record: &mut Record) {
        if record.owner.is_none()
            && let Some(c) = self.claims.get(&id)
        {
            record.owner = Some(c.owner.clone());
            record.owner_source = Some(format!("claim:{}", c.claimed_by));
        }
    }

    /// Evaluates stored record `id` in this context, its claim applied.
    pub fn evaluate(
        &self,
        policy: &RiskPolicy,
        id: i64,
        record: &Record,
        at: DateTime<Utc>,
    ) -> Evaluation {
        let ctx = roster_core::Context {
            directory: &self.directory,
            active_credentials: self.active_credentials.get(&id).copied().unwrap_or(0),
            credential_reuse: self.credential_reuse.get(&id),
        };
        if record.owner.is_none() && self.claims.contains_key(&id) {
            let mut claimed = record.clone();
            self.apply_claim(id, &mut claimed);
            return policy.evaluate_with(&claimed, at, &ctx);
        }
        policy.evaluate_with(record, at, &ctx)
    }
}

fn changed_keys<V: PartialEq>(
    before: &HashMap<i64, V>,
    after: &HashMap<i64, V>,
    out: &mut HashSet<i64>,
) {
    for (k, v) in before {
        if after.get(k) != Some(v) {
            out.insert(*k);
        }
    }
    for k in after.keys() {
        if !before.contains_key(k) {
            out.insert(*k);
        }
    }
}

/// The stored form of an evaluation's rule ids: every rule that fired, comma-separated.
pub fn stored_rules(evaluation: &Evaluation) -> String {
    let mut out = String::new();
    for f in &evaluation.findings {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&f.rule);
    }
    out
}

/// A stored-evaluation pre-filter: rows whose stored tier and rules match, plus every row
/// whose stored evaluation is due at `as_of` (the caller evaluates and filters those itself).
/// Only sound for `as_of` at or after the evaluations were made, i.e. not in the past.
#[derive(Debug, Clone)]
pub struct StoredEvaluationFilter {
    pub as_of: DateTime<Utc>,
    pub tier: Option<Tier>,
    /// Each group: the row carries at least one of these rules.
    pub rules_any: Vec<Vec<String>>,
    /// The records whose stored evaluation is due at `as_of`, when `evaluation_due` can say
    /// (`as_of` is before [`Store::covered_until`]): the rows read are those the stored columns
    /// match and these, and the tier filter can use its index. `None`: every row due at
    /// `as_of` is read, found by its `evaluated_until`.
    pub due: Option<Vec<i64>>,
}

impl StoredEvaluationFilter {
    pub(crate) fn condition(&self) -> Condition {
        let mut matches = Condition::all();
        if let Some(t) = self.tier {
            // A literal, not a bound value: only then can SQLite use the partial index of
            // `critical` records. The tier names are fixed identifiers.
            matches = matches.add(Expr::cust(format!("records.tier = '{}'", t.as_str())));
        }
        for group in &self.rules_any {
            let mut any = Condition::any();
            for rule in group {
                any = any.add(
                    Expr::expr(Expr::cust("(',' || finding_rules || ',')"))
                        .like(format!("%,{},%", like_escape(rule))),
                );
            }
            matches = matches.add(any);
        }
        match &self.due {
            Some(ids) if ids.is_empty() => matches,
            Some(ids) => Condition::any()
                .add(matches)
                .add(record::Column::Id.is_in(ids.iter().copied())),
            None => Condition::any()
                .add(matches)
                .add(record::Column::EvaluatedUntil.lte(self.as_of)),
        }
    }
}

impl StoredEvaluationFilter {
    /// Whether `row`'s stored evaluation matches, as [`Self::condition`] tests it (whether
    /// or not it is due).
    pub fn stored_match(&self, row: &record::Model) -> bool {
        let rules: Vec<&str> = row.finding_rules.split(',').collect();
        self.tier.is_none_or(|t| row.tier == t.as_str())
            && self
                .rules_any
                .iter()
                .all(|group| group.iter().any(|r| rules.contains(&r.as_str())))
    }
}

/// Rule ids are `[a-z0-9._]`; `_` is a LIKE wildcard, which only widens the match (the caller
/// filters on the evaluation anyway), so nothing needs escaping but `%`.
fn like_escape(rule: &str) -> String {
    rule.replace('%', "")
}

/// How far ahead `evaluation_due` lists what falls due.
const COVER: chrono::TimeDelta = chrono::TimeDelta::days(1);
/// A refresh lists afresh when less than this is left of the cover.
const RELIST_BEFORE: chrono::TimeDelta = chrono::TimeDelta::hours(12);

/// Until when `evaluation_due` lists everything falling due (see [`Store::covered_until`]).
pub(crate) async fn read_cover<C: ConnectionTrait>(db: &C) -> Result<DateTime<Utc>, StoreError> {
    let row = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT covered_until FROM evaluation_horizon WHERE id = 1",
        ))
        .await?;
    match row {
        Some(r) => Ok(r.try_get("", "covered_until")?),
        None => Ok(DateTime::<Utc>::UNIX_EPOCH),
    }
}

/// The live-record condition every evaluation pass uses.
fn live() -> Condition {
    Condition::all().add(record::Column::GoneRun.is_null())
}

impl Store {
    /// Marks every live record's evaluation due (a new policy, a changed directory).
    pub async fn mark_all_evaluations_due(&self) -> Result<u64, StoreError> {
        mark_due(&self.db, live()).await
    }

    /// Marks due the evaluations that depend on whether `names` (a person's key and email) are
    /// in the directory: live records owned by one of them, stored or claimed.
    pub(crate) async fn mark_owned_by_due<C: ConnectionTrait>(
        db: &C,
        names: &[String],
    ) -> Result<u64, StoreError> {
        let names: Vec<String> = names.iter().map(|n| n.trim().to_lowercase()).collect();
        let owner_in = |column: &str| {
            Expr::expr(Expr::cust(format!("LOWER(TRIM({column}))"))).is_in(names.iter().cloned())
        };
        let claimed = sea_orm::sea_query::Query::select()
            .column(crate::entity::ownership_claim::Column::RecordId)
            .from(crate::entity::ownership_claim::Entity)
            .and_where(owner_in("owner"))
            .to_owned();
        mark_due_listed(
            db,
            live().add(
                Condition::any()
                    .add(owner_in("records.owner"))
                    .add(record::Column::Id.in_subquery(claimed)),
            ),
        )
        .await
    }

    /// Marks due the evaluations that depend on who is in the directory: live records with an
    /// owner, stored or claimed.
    pub(crate) async fn mark_owned_evaluations_due<C: ConnectionTrait>(
        db: &C,
    ) -> Result<u64, StoreError> {
        let claimed = sea_orm::sea_query::Query::select()
            .column(crate::entity::ownership_claim::Column::RecordId)
            .from(crate::entity::ownership_claim::Entity)
            .to_owned();
        mark_due(
            db,
            live().add(
                Condition::any()
                    .add(record::Column::Owner.is_not_null())
                    .add(record::Column::Id.in_subquery(claimed)),
            ),
        )
        .await
    }

    /// Re-evaluates, at `at`, every live record whose stored evaluation is due then, and the
    /// live records in `also`. Returns how many were re-evaluated.
    pub async fn refresh_evaluations(
        &self,
        policy: &RiskPolicy,
        inputs: &EvaluationInputs,
        also: &HashSet<i64>,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut n = 0;
        // The named records first: they are then no longer due, so the pass below skips them.
        let mut named: Vec<i64> = also.iter().copied().collect();
        named.sort_unstable();
        n += self
            .reevaluate_ids(policy, inputs, &named, live(), at)
            .await?;
        let cover = self.covered_until().await?;
        if cover > at {
            // Every row due at `at` is listed in `evaluation_due`.
            let due = self.listed_due(at).await?;
            let still_due = live().add(record::Column::EvaluatedUntil.lte(at));
            n += self
                .reevaluate_ids(policy, inputs, &due, still_due, at)
                .await?;
        } else {
            // The due ids in one scan in storage order (8 bytes each, so a million after a
            // policy change is 8 MB), then their rows a few hundred at a time. Walking the id
            // index for whole rows instead looked up every row at random, due or not.
            let due = self.due_ids(at).await?;
            let still_due = live().add(record::Column::EvaluatedUntil.lte(at));
            n += self
                .reevaluate_ids(policy, inputs, &due, still_due, at)
                .await?;
        }
        if cover <= at + RELIST_BEFORE {
            self.list_due_soon(at).await?;
        }
        Ok(n)
    }

    /// The live records whose stored evaluation is due at `at`, from `records` itself.
    async fn due_ids(&self, at: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        self.ids_at(
            "SELECT id FROM records WHERE gone_run IS NULL AND evaluated_until <= ?",
            at,
        )
        .await
    }

    /// The `id` column of `sql`, whose one placeholder is `at`.
    async fn ids_at(&self, sql: &str, at: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        let rows = self
            .db
            .query_all(statement(
                self.db.get_database_backend(),
                sql,
                vec![Value::from(at)],
            ))
            .await?;
        rows.iter()
            .map(|r| r.try_get::<i64>("", "id").map_err(StoreError::from))
            .collect()
    }

    /// Until when `evaluation_due` lists every stored evaluation falling due (the epoch: it
    /// lists nothing reliable, and readers must look at `records` themselves).
    pub async fn covered_until(&self) -> Result<DateTime<Utc>, StoreError> {
        read_cover(&self.db).await
    }

    /// The records `evaluation_due` lists as due at `at`. Complete while `at` is before
    /// [`Self::covered_until`].
    pub async fn listed_due(&self, at: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        self.ids_at(
            "SELECT record_id AS id FROM evaluation_due WHERE due_at <= ?",
            at,
        )
        .await
    }

    /// Whether a refresh at `now` has work: something listed is due, or the list needs
    /// renewing.
    pub async fn evaluations_need_refresh(&self, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let cover = self.covered_until().await?;
        Ok(cover <= now + RELIST_BEFORE || !self.listed_due(now).await?.is_empty())
    }

    /// Lists afresh the live records whose stored evaluation falls due within [`COVER`] of
    /// `at`, and moves the cover there: one scan of `records`.
    async fn list_due_soon(&self, at: DateTime<Utc>) -> Result<(), StoreError> {
        let backend = self.db.get_database_backend();
        let cover = at + COVER;
        let txn = self.begin_write().await?;
        txn.execute(Statement::from_string(
            backend,
            "DELETE FROM evaluation_due",
        ))
        .await?;
        txn.execute(statement(
            backend,
            "INSERT INTO evaluation_due (record_id, due_at) SELECT id, evaluated_until \
             FROM records WHERE gone_run IS NULL AND evaluated_until < ?",
            vec![Value::from(cover)],
        ))
        .await?;
        txn.execute(statement(
            backend,
            "UPDATE evaluation_horizon SET covered_until = ? WHERE id = 1",
            vec![Value::from(cover)],
        ))
        .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Re-evaluates the records among `ids` that `which` keeps, a few hundred per read.
    async fn reevaluate_ids(
        &self,
        policy: &RiskPolicy,
        inputs: &EvaluationInputs,
        ids: &[i64],
        which: Condition,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut n = 0;
        for chunk in ids.chunks(500) {
            let rows = crate::inventory::records_without_raw()
                .filter(
                    which
                        .clone()
                        .add(record::Column::Id.is_in(chunk.iter().copied())),
                )
                .all(&self.db)
                .await?;
            n += self.reevaluate(policy, inputs, &rows, at).await?;
        }
        Ok(n)
    }

    async fn reevaluate(
        &self,
        policy: &RiskPolicy,
        inputs: &EvaluationInputs,
        rows: &[record::Model],
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut updates = Vec::with_capacity(rows.len());
        for row in rows {
            updates.push((
                (row.id, row.content_hash),
                self.evaluate_row(policy, inputs, row, at)?,
            ));
        }
        self.store_evaluations(&updates).await?;
        Ok(updates.len() as u64)
    }

    fn evaluate_row(
        &self,
        policy: &RiskPolicy,
        inputs: &EvaluationInputs,
        row: &record::Model,
        at: DateTime<Utc>,
    ) -> Result<Evaluation, StoreError> {
        let record = row.to_record()?;
        Ok(inputs.evaluate(policy, row.id, &record, at))
    }

    /// Writes re-evaluated tiers and rules, a statement per few hundred rows.
    /// Writes re-evaluated tiers and rules of rows keyed by (id, content hash). A row whose
    /// content a sync rewrote meanwhile keeps the sync's evaluation: the hash no longer matches.
    async fn store_evaluations(&self, rows: &[((i64, i64), Evaluation)]) -> Result<(), StoreError> {
        const PER_STATEMENT: usize = 200;
        if rows.is_empty() {
            return Ok(());
        }
        let backend = self.db.get_database_backend();
        let txn = self.begin_write().await?;
        let cover = read_cover(&txn).await?;
        for chunk in rows.chunks(PER_STATEMENT) {
            // `UPDATE … FROM (VALUES …)`: both SQLite (3.33+) and PostgreSQL take it, and name
            // the VALUES columns column1, column2, … alike.
            let mut sql = String::from(
                "UPDATE records SET tier = v.column2, finding_rules = v.column3, evaluated_until = v.column4 FROM (VALUES ",
            );
            let mut values = Vec::with_capacity(chunk.len() * 5);
            for (i, ((id, hash), e)) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for c in 0..5 {
                    if c > 0 {
                        sql.push(',');
                    }
                    match backend {
                        DbBackend::Postgres => {
                            let n = i * 5 + c + 1;
                            // The first row's casts type the VALUES columns for PostgreSQL.
                            let cast = match (i, c) {
                                (0, 0) | (0, 4) => "::bigint",
                                (0, 3) => "::timestamptz",
                                (0, _) => "::text",
                                _ => "",
                            };
                            sql.push_str(&format!("${n}{cast}"));
                        }
                        _ => sql.push('?'),
                    }
                }
                sql.push(')');
                values.extend([
                    Value::from(*id),
                    Value::from(e.tier.as_str()),
                    Value::from(stored_rules(e)),
                    Value::from(e.until),
                    Value::from(*hash),
                ]);
            }
            sql.push_str(
                ") AS v WHERE records.id = v.column1 AND records.content_hash = v.column5",
            );
            txn.execute(Statement::from_sql_and_values(backend, sql, values))
                .await?;
            // Their old listing as due goes; `list_written` lists the new ones falling due soon.
            let ids: Vec<Value> = chunk.iter().map(|((id, _), _)| Value::from(*id)).collect();
            let marks = vec!["?"; ids.len()].join(",");
            txn.execute(statement(
                backend,
                &format!("DELETE FROM evaluation_due WHERE record_id IN ({marks})"),
                ids,
            ))
            .await?;
            let untils: Vec<(i64, Option<DateTime<Utc>>)> =
                chunk.iter().map(|((id, _), e)| (*id, e.until)).collect();
            list_written(&txn, &untils, cover).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

/// Marks every live evaluation due (after a sync run died mid-way).
pub(crate) async fn mark_all_due<C: ConnectionTrait>(db: &C) -> Result<u64, StoreError> {
    mark_due(db, live()).await
}

/// What [`Store::check_evaluations`] found: stored evaluations compared with fresh ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvaluationCheck {
    /// Live records compared.
    pub checked: u64,
    /// Records whose stored evaluation claims to hold now yet disagrees with a fresh one.
    pub wrong: u64,
    /// Records whose stored evaluation is due (readers evaluate those themselves; the next
    /// refresh redoes them).
    pub due: u64,
    /// The first few wrong ones: (id, stored tier, fresh tier, stored rules, fresh rules).
    pub examples: Vec<WrongEvaluation>,
    /// How many were rewritten (with `repair`): the wrong and the due.
    pub repaired: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrongEvaluation {
    pub id: i64,
    pub stored_tier: String,
    pub fresh_tier: String,
    pub stored_rules: String,
    pub fresh_rules: String,
}

impl Store {
    /// Compares every live record's stored evaluation with a fresh one at `at`; with
    /// `repair`, rewrites the wrong and the due ones. Reads the records a thousand at a time.
    pub async fn check_evaluations(
        &self,
        policy: &RiskPolicy,
        inputs: &EvaluationInputs,
        at: DateTime<Utc>,
        repair: bool,
    ) -> Result<EvaluationCheck, StoreError> {
        use sea_orm::{QueryOrder, QuerySelect};
        const PAGE: u64 = 1000;
        const EXAMPLES: usize = 10;
        let mut check = EvaluationCheck::default();
        let mut after = i64::MIN;
        loop {
            let rows = crate::inventory::records_without_raw()
                .filter(live().add(record::Column::Id.gt(after)))
                .order_by_asc(record::Column::Id)
                .limit(PAGE)
                .all(&self.db)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            let mut redo = Vec::new();
            for row in &rows {
                check.checked += 1;
                let fresh = self.evaluate_row(policy, inputs, row, at)?;
                // NULL: no threshold lies ahead, so it holds for good.
                let due = row.evaluated_until.is_some_and(|u| u <= at);
                let rules = stored_rules(&fresh);
                if due {
                    check.due += 1;
                } else if row.tier != fresh.tier.as_str() || row.finding_rules != rules {
                    check.wrong += 1;
                    if check.examples.len() < EXAMPLES {
                        check.examples.push(WrongEvaluation {
                            id: row.id,
                            stored_tier: row.tier.clone(),
                            fresh_tier: fresh.tier.as_str().to_owned(),
                            stored_rules: row.finding_rules.clone(),
                            fresh_rules: rules,
                        });
                    }
                } else {
                    continue;
                }
                redo.push(((row.id, row.content_hash), fresh));
            }
            if repair && !redo.is_empty() {
                self.store_evaluations(&redo).await?;
                check.repaired += redo.len() as u64;
            }
        }
        Ok(check)
    }
}

/// Marks the records `which` selects due, and says `evaluation_due` no longer lists all that is
/// due (for bulk marks: a directory import, a new policy).
pub(crate) async fn mark_due<C: ConnectionTrait>(
    db: &C,
    which: Condition,
) -> Result<u64, StoreError> {
    void_cover(db).await?;
    set_due(db, which).await
}

/// Marks the few records `which` selects due and lists them in `evaluation_due`, so readers keep
/// their narrowed reads (a claim, a person's first sign-in).
pub(crate) async fn mark_due_listed<C: ConnectionTrait>(
    db: &C,
    which: Condition,
) -> Result<u64, StoreError> {
    use sea_orm::sea_query::{Alias, OnConflict, Query};
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    let select = Query::select()
        .column(record::Column::Id)
        .expr(Expr::val(epoch))
        .from(record::Entity)
        .cond_where(which.clone())
        .to_owned();
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new("evaluation_due"))
        .columns([Alias::new("record_id"), Alias::new("due_at")])
        .select_from(select)
        .map_err(|e| StoreError::Corrupt {
            id: "evaluation_due".into(),
            field: "insert",
            detail: e.to_string(),
        })?
        .on_conflict(
            OnConflict::column(Alias::new("record_id"))
                .update_column(Alias::new("due_at"))
                .to_owned(),
        );
    db.execute(db.get_database_backend().build(&insert)).await?;
    set_due(db, which).await
}

async fn set_due<C: ConnectionTrait>(db: &C, which: Condition) -> Result<u64, StoreError> {
    let res = record::Entity::update_many()
        .col_expr(
            record::Column::EvaluatedUntil,
            Expr::value(DateTime::<Utc>::UNIX_EPOCH),
        )
        .filter(which)
        .exec(db)
        .await?;
    Ok(res.rows_affected)
}

/// Live records counted by platform, class, tier and two time buckets, from the stored
/// evaluations (see [`Store::evaluated_totals`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluatedGroup {
    pub platform: String,
    pub class: String,
    pub tier: String,
    /// Index into the caller's age bounds; `bounds.len()` when the creation time is unknown.
    pub age_bucket: usize,
    /// Index into the caller's last-used bounds; `bounds.len()` for never used, one more for
    /// no usage data.
    pub last_used_bucket: usize,
    pub records: u64,
    pub stale: u64,
    pub never_used: u64,
    pub orphaned: u64,
    pub expiring_soon: u64,
    pub admin: u64,
}

impl Store {
    /// Counts the live records from their stored evaluations, grouped. Sound when no live
    /// evaluation is due at `as_of` (as after [`Self::refresh_evaluations`] at `as_of`).
    /// `age_days` and `last_used_days` are bucket upper bounds in days (exclusive, the last
    /// open): a record `d` whole days old falls in the first bucket with `d < bound`.
    pub async fn evaluated_totals(
        &self,
        as_of: DateTime<Utc>,
        age_days: &[i64],
        last_used_days: &[i64],
    ) -> Result<Vec<EvaluatedGroup>, StoreError> {
        let backend = self.db.get_database_backend();
        let mut values: Vec<Value> = Vec::new();
        // `d < bound` whole days ⇔ the moment is after `as_of - bound days`.
        let bucket = |column: &str, bounds: &[i64], values: &mut Vec<Value>| {
            let mut sql = String::from("CASE");
            for (i, days) in bounds.iter().enumerate() {
                let Some(cut) =
                    chrono::Duration::try_days(*days).and_then(|d| as_of.checked_sub_signed(d))
                else {
                    // An open bound (i64::MAX days): everything left falls here.
                    sql.push_str(&format!(" WHEN {column} IS NOT NULL THEN {i}"));
                    break;
                };
                values.push(Value::from(cut));
                sql.push_str(&format!(" WHEN {column} > ? THEN {i}"));
            }
            sql
        };
        // An exact substring test (`instr` / `strpos`) is cheaper than LIKE with a leading `%`.
        let (position, scan) = match backend {
            DbBackend::Postgres => ("strpos", "records"),
            // A full scan in storage order: for the GROUP BY, SQLite's planner would otherwise
            // walk the (platform, kind, id) index and look every row up at random.
            _ => ("instr", "records NOT INDEXED"),
        };
        let holds = |rule: &str| format!("{position}(',' || finding_rules || ',', ',{rule},') > 0");
        let has = |rule: &str| format!("SUM(CASE WHEN {} THEN 1 ELSE 0 END)", holds(rule));
        let any = |rules: &[&str]| {
            let held: Vec<String> = rules.iter().map(|r| holds(r)).collect();
            format!("SUM(CASE WHEN {} THEN 1 ELSE 0 END)", held.join(" OR "))
        };
        let age = bucket("created_at", age_days, &mut values);
        let last_used = bucket("last_used_at", last_used_days, &mut values);
        let sql = format!(
            "SELECT platform, class, tier, \
             CAST({age} ELSE {unknown_age} END AS BIGINT) AS age_bucket, \
             CAST(CASE WHEN {never_held} THEN {never} WHEN {no_data_held} THEN {no_data} \
             ELSE {last_used} ELSE {not_yet} END END AS BIGINT) AS last_used_bucket, \
             COUNT(*) AS records, {stale} AS stale, {never_used} AS never_used, \
             {orphaned} AS orphaned, \
             {expiring} AS expiring_soon, {admin} AS admin \
             FROM {scan} WHERE gone_run IS NULL \
             GROUP BY platform, class, tier, age_bucket, last_used_bucket",
            unknown_age = age_days.len(),
            never = last_used_days.len(),
            no_data = last_used_days.len() + 1,
            not_yet = last_used_days.len() + 2,
            never_held = holds(NEVER_USED_RULE),
            no_data_held = holds(NO_USAGE_DATA_RULE),
            stale = any(STALE_RULES),
            never_used = has(NEVER_USED_RULE),
            orphaned = any(ORPHANED_RULES),
            expiring = has("lifetime.expiring_soon"),
            admin = has("privilege.admin"),
        );
        let rows = self.db.query_all(statement(backend, &sql, values)).await?;
        let count = |row: &sea_orm::QueryResult, col: &str| -> Result<u64, StoreError> {
            let n: i64 = row.try_get("", col)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(EvaluatedGroup {
                platform: row.try_get("", "platform")?,
                class: row.try_get("", "class")?,
                tier: row.try_get("", "tier")?,
                age_bucket: count(&row, "age_bucket")? as usize,
                last_used_bucket: count(&row, "last_used_bucket")? as usize,
                records: count(&row, "records")?,
                stale: count(&row, "stale")?,
                never_used: count(&row, "never_used")?,
                orphaned: count(&row, "orphaned")?,
                expiring_soon: count(&row, "expiring_soon")?,
                admin: count(&row, "admin")?,
            });
        }
        Ok(out)
    }
}

impl Store {
    /// Marks every live evaluation due when the stored ones were made under another policy
    /// (the newest run's recorded hash differs from `policy_hash`). Returns how many.
    pub async fn mark_evaluations_due_unless_policy(
        &self,
        policy_hash: &str,
    ) -> Result<u64, StoreError> {
        match self.evaluations_policy_hash().await? {
            Some(h) if h != policy_hash => self.mark_all_evaluations_due().await,
            _ => Ok(0),
        }
    }

    /// The hash of the policy the stored evaluations were made with: the newest run's.
    pub async fn evaluations_policy_hash(&self) -> Result<Option<String>, StoreError> {
        use crate::entity::sync_run;
        use sea_orm::{QueryOrder, QuerySelect};
        let last: Option<Option<String>> = sync_run::Entity::find()
            .select_only()
            .column(sync_run::Column::PolicyHash)
            .filter(sync_run::Column::PolicyHash.is_not_null())
            .order_by_desc(sync_run::Column::Id)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(last.flatten())
    }
}

/// Says `evaluation_due` lists nothing reliable (rows were marked due in bulk): readers check
/// `records` themselves until the next refresh lists afresh.
async fn void_cover<C: ConnectionTrait>(db: &C) -> Result<(), StoreError> {
    db.execute(statement(
        db.get_database_backend(),
        "UPDATE evaluation_horizon SET covered_until = ? WHERE id = 1",
        vec![Value::from(DateTime::<Utc>::UNIX_EPOCH)],
    ))
    .await?;
    Ok(())
}

/// Lists in `evaluation_due` the written rows whose evaluation falls due before `cover` (the
/// list's, from [`read_cover`], read once per transaction by the caller) ends, so that the list
/// stays complete between refreshes.
pub(crate) async fn list_written<C: ConnectionTrait>(
    db: &C,
    rows: &[(i64, Option<DateTime<Utc>>)],
    cover: DateTime<Utc>,
) -> Result<(), StoreError> {
    let backend = db.get_database_backend();
    let soon: Vec<(i64, DateTime<Utc>)> = rows
        .iter()
        .filter_map(|(id, until)| until.filter(|u| *u < cover).map(|u| (*id, u)))
        .collect();
    for chunk in soon.chunks(400) {
        let mut sql = String::from("INSERT INTO evaluation_due (record_id, due_at) VALUES ");
        let mut values = Vec::with_capacity(chunk.len() * 2);
        for (i, (id, due)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str("(?, ?)");
            values.extend([Value::from(*id), Value::from(*due)]);
        }
        sql.push_str(" ON CONFLICT (record_id) DO UPDATE SET due_at = excluded.due_at");
        db.execute(statement(backend, &sql, values)).await?;
    }
    Ok(())
}
