//! The read side: the inventory with its filters, keyset-paginated by id.

use roster_core::{Kind, Platform, RecordClass, Status, Tier};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};

use crate::entity::{ownership_claim, record};
use crate::{Store, StoreError};

/// Filters on stored columns. Time-dependent judgements (stale, tier at another moment) are
/// made by the caller from the evaluated records.
#[derive(Debug, Clone, Default)]
pub struct InventoryFilter {
    /// One record (a view, or a review, of one identity).
    pub id: Option<i64>,
    pub platform: Option<Platform>,
    pub kind: Option<Kind>,
    pub class: Option<RecordClass>,
    /// The tier stored at the last evaluation.
    pub tier: Option<Tier>,
    pub owner: Option<String>,
    /// `owner` is the start of the owner, in any case (a person searching: `alice` finds
    /// `Alice@acme.example`), not the exact owner (what a person owns).
    pub owner_prefix: bool,
    pub scope: Option<String>,
    pub connector: Option<String>,
    pub status: Option<Status>,
    /// Gone records are hidden unless asked for (or `status = gone`).
    pub include_gone: bool,
    /// Words, each found (in any case) in the name, the external id, the owner or the scope.
    pub search: Option<String>,
    /// What a person signed in as an owner may see: what they own (stored or claimed), and
    /// what nobody owns or has claimed (so that they can claim it).
    pub visible_to: Option<String>,
    /// Narrows to rows whose stored evaluation matches, or is due (see
    /// [`crate::StoredEvaluationFilter`]).
    pub evaluated: Option<crate::StoredEvaluationFilter>,
}

impl InventoryFilter {
    /// A platform without a kind, and nothing else an index serves (a stored tier, an owner)
    /// or that reads rows in id order better by itself (a search: dense matches end the walk
    /// early, and one walk of the platform per kind would read the platform's every row).
    fn platform_is_the_only_index(&self) -> bool {
        self.platform.is_some()
            && self.id.is_none()
            && self.kind.is_none()
            && self.tier.is_none()
            && self.owner.is_none()
            && self.search.is_none()
            && self.evaluated.is_none()
    }

    fn condition(&self, backend: DbBackend) -> Condition {
        let mut c = Condition::all();
        if let Some(id) = self.id {
            c = c.add(record::Column::Id.eq(id));
        }
        if let Some(p) = self.platform {
            c = c.add(record::Column::Platform.eq(p.as_str()));
        }
        if let Some(k) = self.kind {
            c = c.add(record::Column::Kind.eq(k.as_str()));
        }
        if let Some(k) = self.class {
            c = c.add(record::Column::Class.eq(k.as_str()));
        }
        if let Some(t) = self.tier {
            c = c.add(record::Column::Tier.eq(t.as_str()));
        }
        if let Some(o) = &self.owner {
            // The owner as the inventory shows it: the stored one, or for a record without one,
            // its ownership claim.
            let (stored, claimed) = if self.owner_prefix {
                let start = starting(&o.to_lowercase());
                (
                    lower((record::Entity, record::Column::Owner)).like(start.clone()),
                    lower((ownership_claim::Entity, ownership_claim::Column::Owner)).like(start),
                )
            } else {
                (
                    record::Column::Owner.eq(o.as_str()),
                    ownership_claim::Column::Owner.eq(o.as_str()),
                )
            };
            let claimed = sea_orm::sea_query::Query::select()
                .column(ownership_claim::Column::RecordId)
                .from(ownership_claim::Entity)
                .and_where(claimed)
                .to_owned();
            c = c.add(
                Condition::any().add(stored).add(
                    Condition::all()
                        .add(record::Column::Owner.is_null())
                        .add(record::Column::Id.in_subquery(claimed)),
                ),
            );
        }
        if let Some(me) = &self.visible_to {
            let claimed_by_others = sea_orm::sea_query::Query::select()
                .column(ownership_claim::Column::RecordId)
                .from(ownership_claim::Entity)
                .and_where(ownership_claim::Column::Owner.ne(me.as_str()))
                .to_owned();
            c = c.add(
                Condition::any()
                    .add(record::Column::Owner.eq(me.as_str()))
                    .add(
                        Condition::all()
                            .add(record::Column::Owner.is_null())
                            .add(record::Column::Id.not_in_subquery(claimed_by_others)),
                    ),
            );
        }
        if let Some(s) = &self.scope {
            c = c.add(record::Column::Scope.eq(s.as_str()));
        }
        if let Some(s) = &self.connector {
            c = c.add(record::Column::Connector.eq(s.as_str()));
        }
        match self.status {
            Some(s) => c = c.add(record::Column::Status.eq(s.as_str())),
            None if !self.include_gone => {
                c = c.add(record::Column::Status.ne(Status::Gone.as_str()))
            }
            None => {}
        }
        if let Some(e) = &self.evaluated {
            c = c.add(e.condition());
        }
        if let Some(q) = &self.search {
            c = c.add(search_condition(q, backend));
        }
        c
    }
}

/// Every word of `q` somewhere in the name, external id, owner or scope, in any case: `deploy
/// alice` finds alice's deploy keys. On PostgreSQL each word is compared with the text
/// `pg_trgm`'s index holds (see the migration `search_index`). On SQLite the words of 3 or more
/// characters are found by the FTS5 trigram table instead, which drives the read (see
/// [`InventoryFilter::search_match`]); shorter words, which trigrams cannot find, are compared
/// here column by column, within what the longer ones found.
fn search_condition(q: &str, backend: DbBackend) -> Condition {
    use roster_migrations::search_index::POSTGRES_SEARCH_TEXT;
    use sea_orm::sea_query::Expr;
    let mut c = Condition::all();
    for word in q.split_whitespace() {
        let word = word.to_lowercase();
        match backend {
            DbBackend::Postgres => {
                c = c.add(Expr::cust_with_values(
                    // sea-query numbers a custom expression's values on PostgreSQL.
                    format!("{POSTGRES_SEARCH_TEXT} LIKE $1 ESCAPE '\\'"),
                    [format!("%{}%", like_literal(&word))],
                ));
            }
            _ if indexed_word(&word) => {}
            _ => c = c.add(word_in_columns(&word)),
        }
    }
    c
}

/// `word` (lowercased) inside the name, external id, owner or scope, compared column by column.
fn word_in_columns(word: &str) -> Condition {
    let within = containing(word);
    let mut any = Condition::any();
    for column in [
        record::Column::Name,
        record::Column::ExternalId,
        record::Column::Owner,
        record::Column::Scope,
    ] {
        any = any.add(lower((record::Entity, column)).like(within.clone()));
    }
    any
}

/// How a SQLite search with indexed words reads its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchRead {
    /// The FTS5 table drives the read, in rowid order.
    Index,
    /// The records waiting to be indexed (`search_pending`) drive it, each word compared
    /// column by column.
    Pending,
    /// Given ids: each looked up in the index, or among the waiting records.
    Lookup,
}

/// Whether SQLite's trigram index can find `word` (3 characters or more).
fn indexed_word(word: &str) -> bool {
    word.chars().count() >= 3
}

impl InventoryFilter {
    /// SQLite's FTS5 query for the search words the trigram index can find, each an FTS5
    /// phrase (the word as text, its quotes doubled), all required; `None` on PostgreSQL or
    /// when there are none.
    fn search_match(&self, backend: DbBackend) -> Option<String> {
        if backend == DbBackend::Postgres {
            return None;
        }
        let mut phrases: Vec<String> = self
            .search
            .as_deref()?
            .split_whitespace()
            .filter(|w| indexed_word(w))
            .map(|w| format!("t : \"{}\"", w.to_lowercase().replace('"', "\"\"")))
            .collect();
        if phrases.is_empty() {
            return None;
        }
        // A tier every row must have (not one OR'd with the rows due for a new evaluation):
        // intersected inside the index. The tier names are fixed identifiers.
        let stored_tier = self.evaluated.as_ref().and_then(|e| {
            e.tier
                .filter(|_| e.due.as_ref().is_some_and(|d| d.is_empty()))
        });
        if let Some(tier) = self.tier.or(stored_tier) {
            phrases.push(format!("tier : \"{}\"", tier.as_str()));
        }
        Some(phrases.join(" AND "))
    }

    /// The search words the index can find, lowercased (SQLite; none on PostgreSQL).
    fn indexed_words(&self) -> Vec<String> {
        self.search
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .filter(|w| indexed_word(w))
            .map(str::to_lowercase)
            .collect()
    }

    /// A SELECT over `records` narrowed to this filter (and `extra`), after the id `after`, in
    /// id order when `ordered`. With SQLite search words, `read` says where the rows come from:
    /// the FTS5 table driving the read in its rowid order (a cross join keeps it outside: a page
    /// stops after its rows, and a word that matches nothing reads nothing; as
    /// `id IN (SELECT rowid …)` SQLite collected every match first, 0.4 s for a word every
    /// record holds at a million records), the records still waiting to be indexed, or given
    /// ids looked up in either.
    fn select(
        &self,
        select: sea_orm::Select<record::Entity>,
        backend: DbBackend,
        extra: Condition,
        after: Option<i64>,
        ordered: bool,
        read: SearchRead,
    ) -> sea_orm::sea_query::SelectStatement {
        use roster_migrations::search_index::SQLITE_SEARCH_TABLE;
        use sea_orm::QueryTrait;
        use sea_orm::sea_query::{Expr, Order};
        let mut q = select
            .filter(self.condition(backend))
            .filter(extra)
            .into_query();
        let waiting_matches = || {
            let mut all = Condition::all();
            for word in self.indexed_words() {
                all = all.add(word_in_columns(&word));
            }
            all
        };
        let id = match (self.search_match(backend), read) {
            (None, _) => Expr::col((record::Entity, record::Column::Id)),
            (Some(matching), SearchRead::Lookup) => {
                q.cond_where(
                    Condition::any()
                        .add(Expr::cust_with_values(
                            format!(
                                "EXISTS (SELECT 1 FROM {SQLITE_SEARCH_TABLE} WHERE \
                                 {SQLITE_SEARCH_TABLE} MATCH ? AND rowid = \"records\".\"id\")"
                            ),
                            [matching],
                        ))
                        .add(
                            Condition::all()
                                .add(Expr::cust(
                                    "\"records\".\"id\" IN (SELECT id FROM search_pending)",
                                ))
                                .add(waiting_matches()),
                        ),
                );
                Expr::col((record::Entity, record::Column::Id))
            }
            (Some(_), SearchRead::Pending) => {
                q.cond_where(waiting_matches());
                driven_by(&mut q, "search_pending", "id")
            }
            (Some(matching), SearchRead::Index) => {
                q.and_where(Expr::cust_with_values(
                    format!("{SQLITE_SEARCH_TABLE} MATCH ?"),
                    [matching],
                ));
                driven_by(&mut q, SQLITE_SEARCH_TABLE, "rowid")
            }
        };
        if let Some(after) = after {
            q.and_where(id.clone().gt(after));
        }
        if ordered {
            q.order_by_expr(id.into(), Order::Asc);
        }
        q
    }
}

/// Makes `table` (keyed by `key`, a record id) the outer loop of `q`, a SELECT over `records`:
/// a cross join keeps SQLite from reordering it, so the read walks `table` in key order and
/// stops at the page's end. Returns the key, to page and order by.
fn driven_by(
    q: &mut sea_orm::sea_query::SelectStatement,
    table: &str,
    key: &str,
) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{Alias, Expr, JoinType};
    let key = (Alias::new(table), Alias::new(key));
    q.from_clear().from(Alias::new(table)).join(
        JoinType::CrossJoin,
        record::Entity,
        Expr::col((record::Entity, record::Column::Id)).equals(key.clone()),
    );
    Expr::col(key)
}

/// What an inventory page reads of `raw`: not the platform's JSON (evaluation and the item never
/// use it, and parsing it was the largest cost of reading a page) but only whether the record is
/// sample data, as `{"sample_data":true}` or `null`. The match is on the stored text, which
/// `serde_json` writes without spaces.
const RAW_SAMPLE_MARK: &str =
    r#"CASE WHEN raw LIKE '%"sample_data":true%' THEN '{"sample_data":true}' ELSE 'null' END"#;

/// Every column of `records` but `raw`, which holds only the sample-data mark (see
/// [`RAW_SAMPLE_MARK`]).
pub(crate) fn records_without_raw() -> sea_orm::Select<record::Entity> {
    use sea_orm::Iterable;
    let mut q = record::Entity::find().select_only();
    for c in record::Column::iter() {
        q = match c {
            record::Column::Raw => {
                q.column_as(sea_orm::sea_query::Expr::cust(RAW_SAMPLE_MARK), "raw")
            }
            c => q.column(c),
        };
    }
    q
}

impl Store {
    /// Up to `limit` records matching `filter` with id greater than `after`, by id. `raw` holds
    /// only the sample-data mark (see [`RAW_SAMPLE_MARK`]); [`Store::record`] reads all of it.
    pub async fn inventory_page(
        &self,
        filter: &InventoryFilter,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<record::Model>, StoreError> {
        // A platform without a kind: there is no (platform, id) index, and through the
        // (platform, kind, id) one SQLite sorted every record of the platform for one page
        // (0.39 s for GitHub's third of 1M records); read kind by kind instead.
        if filter.platform_is_the_only_index() {
            return self.merge_kinds(filter, after, limit).await;
        }
        self.read_page(filter, after, limit).await
    }

    /// A page of `filter` (a platform, no kind) merged from one read per kind in id order.
    /// Each kind is read a few rows at a time, and rows are taken up to the smallest last id
    /// a kind with more to read has reached, so a page reads about its own size plus a few rows
    /// per kind (reading a whole page per kind cost 60 ms a page at 1M, under load).
    async fn merge_kinds(
        &self,
        filter: &InventoryFilter,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<record::Model>, StoreError> {
        struct KindRead {
            filter: InventoryFilter,
            after: Option<i64>,
            buffer: std::collections::VecDeque<record::Model>,
            exhausted: bool,
        }
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut kinds: Vec<KindRead> = Kind::ALL
            .iter()
            .filter(|k| filter.class.is_none_or(|c| c == k.class()))
            .map(|k| KindRead {
                filter: InventoryFilter {
                    kind: Some(*k),
                    ..filter.clone()
                },
                after,
                buffer: Default::default(),
                exhausted: false,
            })
            .collect();
        let chunk = (limit / 4).clamp(1, 32) as u64 + 1;
        let mut out = Vec::with_capacity(limit.min(1024));
        while out.len() < limit {
            for k in kinds
                .iter_mut()
                .filter(|k| k.buffer.is_empty() && !k.exhausted)
            {
                let rows = self.read_page(&k.filter, k.after, chunk).await?;
                k.exhausted = (rows.len() as u64) < chunk;
                k.after = rows.last().map(|r| r.id).or(k.after);
                k.buffer.extend(rows);
            }
            // Rows up to here are final: every kind with more to read is past it.
            let cut = kinds
                .iter()
                .filter(|k| !k.exhausted)
                .filter_map(|k| k.after)
                .min()
                .unwrap_or(i64::MAX);
            while out.len() < limit {
                let next = kinds
                    .iter_mut()
                    .filter(|k| k.buffer.front().is_some_and(|r| r.id <= cut))
                    .min_by_key(|k| k.buffer.front().map(|r| r.id));
                match next.and_then(|k| k.buffer.pop_front()) {
                    Some(row) => out.push(row),
                    None => break,
                }
            }
            // Each round empties at least the buffer of the kind that set `cut`, so this ends.
            if kinds.iter().all(|k| k.exhausted && k.buffer.is_empty()) {
                break;
            }
        }
        Ok(out)
    }

    /// One page of `filter` as given (for the stored-evaluation filters, the two reads merged).
    async fn read_page(
        &self,
        filter: &InventoryFilter,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<record::Model>, StoreError> {
        // Rows the stored evaluation matches, and rows listed as due: as one `OR` the planner
        // walks the whole id index; as two reads each uses its own (the tier's, the ids'), and
        // the two short lists are merged here.
        if let Some(e) = &filter.evaluated
            && let Some(due) = e.due.as_ref().filter(|d| !d.is_empty())
        {
            let mut matching = filter.clone();
            matching.evaluated = Some(crate::StoredEvaluationFilter {
                due: Some(Vec::new()),
                ..e.clone()
            });
            let mut listed = filter.clone();
            listed.evaluated = None;
            let mut rows = self
                .page_where(&matching, Condition::all(), after, limit, true)
                .await?;
            // The listed ids are few: each is looked up in a search's index, which is not
            // walked for them.
            let listed_rows = self
                .page_where(
                    &listed,
                    Condition::all().add(record::Column::Id.is_in(due.iter().copied())),
                    after,
                    limit,
                    false,
                )
                .await?;
            rows.extend(listed_rows);
            rows.sort_unstable_by_key(|r| r.id);
            rows.dedup_by_key(|r| r.id);
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            return Ok(rows);
        }
        self.page_where(filter, Condition::all(), after, limit, true)
            .await
    }

    async fn page_where(
        &self,
        filter: &InventoryFilter,
        extra: Condition,
        after: Option<i64>,
        limit: u64,
        drive: bool,
    ) -> Result<Vec<record::Model>, StoreError> {
        let backend = self.db.get_database_backend();
        let reads: &[SearchRead] = match (filter.search_match(backend), drive) {
            (None, _) => &[SearchRead::Index],
            (Some(_), true) => &[SearchRead::Index, SearchRead::Pending],
            (Some(_), false) => &[SearchRead::Lookup],
        };
        let mut rows = Vec::new();
        for read in reads {
            let mut q = filter.select(
                records_without_raw(),
                backend,
                extra.clone(),
                after,
                true,
                *read,
            );
            q.limit(limit);
            rows.extend(
                record::Entity::find()
                    .from_raw_sql(backend.build(&q))
                    .all(&self.db)
                    .await?,
            );
        }
        if reads.len() > 1 {
            // Indexed and waiting records are apart: one page of each, merged in id order.
            rows.sort_unstable_by_key(|r| r.id);
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Ok(rows)
    }

    /// How many records match `filter`, reading at most `cap + 1` of them: `cap + 1` means
    /// "more than `cap`". A page's total, which must not read a million rows per load.
    pub async fn inventory_count_up_to(
        &self,
        filter: &InventoryFilter,
        cap: u64,
    ) -> Result<u64, StoreError> {
        self.count_matching(filter, Some(cap.saturating_add(1)))
            .await
    }

    pub async fn inventory_count(&self, filter: &InventoryFilter) -> Result<u64, StoreError> {
        self.count_matching(filter, None).await
    }

    /// How many records match `filter`, counting at most `limit`.
    async fn count_matching(
        &self,
        filter: &InventoryFilter,
        limit: Option<u64>,
    ) -> Result<u64, StoreError> {
        use sea_orm::sea_query::{Alias, Expr, Query};
        let backend = self.db.get_database_backend();
        let reads: &[SearchRead] = if filter.search_match(backend).is_some() {
            &[SearchRead::Index, SearchRead::Pending]
        } else {
            &[SearchRead::Index]
        };
        let mut total = 0;
        for read in reads {
            let ids = record::Entity::find()
                .select_only()
                .column(record::Column::Id);
            let mut matching = filter.select(ids, backend, Condition::all(), None, false, *read);
            if let Some(limit) = limit {
                matching.limit(limit);
            }
            // Counted over the (limited) read: sea-orm's own count drops a LIMIT.
            let count = Query::select()
                .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
                .from_subquery(matching, Alias::new("matching"))
                .to_owned();
            let row = self.db.query_one(backend.build(&count)).await?;
            let n: i64 = match row {
                Some(r) => r.try_get("", "n")?,
                None => 0,
            };
            total += u64::try_from(n).unwrap_or(0);
        }
        Ok(total)
    }

    /// The records among `ids` that match `filter`, in id order.
    pub async fn inventory_rows_among(
        &self,
        filter: &InventoryFilter,
        ids: &[i64],
    ) -> Result<Vec<record::Model>, StoreError> {
        let backend = self.db.get_database_backend();
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let q = filter.select(
                record::Entity::find(),
                backend,
                Condition::all().add(record::Column::Id.is_in(chunk.iter().copied())),
                None,
                true,
                SearchRead::Lookup,
            );
            out.extend(
                record::Entity::find()
                    .from_raw_sql(backend.build(&q))
                    .all(&self.db)
                    .await?,
            );
        }
        Ok(out)
    }

    pub async fn record(&self, id: i64) -> Result<record::Model, StoreError> {
        record::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("record {}", roster_core::RecordId(id))))
    }
}

impl Store {
    /// Parents holding two or more active credentials, with the count (the cross-record rule
    /// `credential.two_active` reads this).
    pub async fn parents_with_active_credentials(
        &self,
    ) -> Result<std::collections::HashMap<i64, u32>, StoreError> {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all(Statement::from_string(
                backend,
                "SELECT parent_id, COUNT(*) AS n FROM records \
                 WHERE parent_id IS NOT NULL AND gone_run IS NULL \
                 AND status = 'active' AND class = 'credential' \
                 GROUP BY parent_id HAVING COUNT(*) >= 2",
            ))
            .await?;
        let mut out = std::collections::HashMap::new();
        for row in rows {
            let parent: i64 = row.try_get("", "parent_id")?;
            let n: i64 = row.try_get("", "n")?;
            out.insert(parent, u32::try_from(n).unwrap_or(u32::MAX));
        }
        Ok(out)
    }
}

impl Store {
    /// Live records whose credential fingerprint another live record shares, with their parent's
    /// name (the cross-record rule `credential.reused_across_scopes` reads this). Records
    /// without a fingerprint are not read: at a million records this stays a walk of the
    /// partial fingerprint index.
    pub async fn shared_credential_fingerprints(
        &self,
    ) -> Result<Vec<roster_core::credential_fingerprint::CredentialUse>, StoreError> {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.db.get_database_backend();
        let rows = self
            .db
            .query_all(Statement::from_string(
                backend,
                "SELECT r.id, r.credential_fingerprint, r.platform, r.scope, r.kind, r.name, \
                 r.status, r.parent_id, p.name AS parent_name \
                 FROM records r LEFT JOIN records p ON p.id = r.parent_id \
                 WHERE r.gone_run IS NULL AND r.status = 'active' \
                 AND r.credential_fingerprint IN (\
                   SELECT credential_fingerprint FROM records \
                   WHERE credential_fingerprint IS NOT NULL \
                   AND gone_run IS NULL AND status = 'active' \
                   GROUP BY credential_fingerprint HAVING COUNT(*) >= 2)",
            ))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get("", "id")?;
            let text = |col: &str| row.try_get::<String>("", col);
            let corrupt =
                |field: &'static str, e: roster_core::ParseEnumError| StoreError::Corrupt {
                    id: roster_core::RecordId(id).to_string(),
                    field,
                    detail: e.to_string(),
                };
            out.push(roster_core::credential_fingerprint::CredentialUse {
                id,
                fingerprint: row.try_get("", "credential_fingerprint")?,
                platform: text("platform")?
                    .parse()
                    .map_err(|e| corrupt("platform", e))?,
                scope: text("scope")?,
                kind: text("kind")?.parse().map_err(|e| corrupt("kind", e))?,
                name: text("name")?,
                status: text("status")?.parse().map_err(|e| corrupt("status", e))?,
                parent_id: row.try_get("", "parent_id")?,
                parent_name: row.try_get("", "parent_name")?,
            });
        }
        Ok(out)
    }
}

impl Store {
    /// The credentials (and any other records) whose parent is `id`, live ones first.
    pub async fn children(&self, id: i64) -> Result<Vec<record::Model>, StoreError> {
        Ok(record::Entity::find()
            .filter(record::Column::ParentId.eq(id))
            .order_by_asc(record::Column::GoneRun)
            .order_by_asc(record::Column::Id)
            .limit(500)
            .all(&self.db)
            .await?)
    }

    /// A record's changes across syncs, oldest first (its arrival is `first_seen_run`).
    pub async fn record_timeline(
        &self,
        id: i64,
    ) -> Result<Vec<crate::entity::record_history::Model>, StoreError> {
        use crate::entity::record_history;
        Ok(record_history::Entity::find()
            .filter(record_history::Column::RecordId.eq(id))
            .order_by_asc(record_history::Column::Id)
            .limit(500)
            .all(&self.db)
            .await?)
    }
}

/// `LOWER(column)`: both databases compare it with a lowercased pattern alike (SQLite's LIKE
/// ignores ASCII case, PostgreSQL's does not).
fn lower<C: sea_orm::sea_query::IntoColumnRef>(column: C) -> sea_orm::sea_query::Expr {
    use sea_orm::sea_query::{Expr, Func};
    Expr::expr(Func::lower(Expr::col(column)))
}

/// `text` with LIKE's own `%`, `_` and `\` escaped: a search is text, never a pattern.
fn like_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A LIKE pattern for text starting with `text`.
fn starting(text: &str) -> sea_orm::sea_query::LikeExpr {
    sea_orm::sea_query::LikeExpr::new(format!("{}%", like_literal(text))).escape('\\')
}

/// A LIKE pattern for text containing `text`.
fn containing(text: &str) -> sea_orm::sea_query::LikeExpr {
    sea_orm::sea_query::LikeExpr::new(format!("%{}%", like_literal(text))).escape('\\')
}
