//! A reviewer's progress without counting: `inbox_tallies (reviewer, campaign_id, state,
//! tier_rank) → n`, kept exact by triggers on `campaign_items`, so every write path (a launch, a
//! decision, a hand-over, an escalation, a close) and every replica keeps it, in the same
//! transaction as the change. An inbox page read its totals by counting the reviewer's index
//! entries: 5–8 ms on PostgreSQL for a 24k-item inbox, most of a page's cost under load
//! (BENCHMARKS.md). On PostgreSQL the triggers are per statement, over transition tables, so a
//! launch's bulk insert adds one grouped upsert per statement, not one per row.

use sea_orm_migration::prelude::*;

use crate::run;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "CREATE TABLE IF NOT EXISTS inbox_tallies (\
     reviewer TEXT NOT NULL, campaign_id BIGINT NOT NULL, state TEXT NOT NULL, \
     tier_rank SMALLINT NOT NULL, n BIGINT NOT NULL, \
     PRIMARY KEY (reviewer, campaign_id, state, tier_rank))";

const BACKFILL: &str = "INSERT INTO inbox_tallies (reviewer, campaign_id, state, tier_rank, n) \
     SELECT reviewer, campaign_id, state, tier_rank, COUNT(*) FROM campaign_items \
     GROUP BY reviewer, campaign_id, state, tier_rank";

/// The grouped change a statement made, as one upsert (`tally_new`) or one decrement
/// (`tally_old`) per group. An UPDATE fires both (removal first: triggers fire by name).
const POSTGRES_UP: &[&str] = &[
    "CREATE OR REPLACE FUNCTION roster_tally_add() RETURNS trigger AS $$ BEGIN \
       INSERT INTO inbox_tallies (reviewer, campaign_id, state, tier_rank, n) \
       SELECT reviewer, campaign_id, state, tier_rank, COUNT(*) FROM tally_new \
       GROUP BY reviewer, campaign_id, state, tier_rank \
       ON CONFLICT (reviewer, campaign_id, state, tier_rank) \
       DO UPDATE SET n = inbox_tallies.n + EXCLUDED.n; \
       RETURN NULL; END; $$ LANGUAGE plpgsql",
    "CREATE OR REPLACE FUNCTION roster_tally_remove() RETURNS trigger AS $$ BEGIN \
       UPDATE inbox_tallies t SET n = t.n - o.n FROM ( \
         SELECT reviewer, campaign_id, state, tier_rank, COUNT(*) AS n FROM tally_old \
         GROUP BY reviewer, campaign_id, state, tier_rank) o \
       WHERE t.reviewer = o.reviewer AND t.campaign_id = o.campaign_id \
         AND t.state = o.state AND t.tier_rank = o.tier_rank; \
       RETURN NULL; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER campaign_items_tally_insert AFTER INSERT ON campaign_items \
     REFERENCING NEW TABLE AS tally_new FOR EACH STATEMENT EXECUTE FUNCTION roster_tally_add()",
    "CREATE TRIGGER campaign_items_tally_update_1_remove AFTER UPDATE ON campaign_items \
     REFERENCING OLD TABLE AS tally_old FOR EACH STATEMENT EXECUTE FUNCTION roster_tally_remove()",
    "CREATE TRIGGER campaign_items_tally_update_2_add AFTER UPDATE ON campaign_items \
     REFERENCING NEW TABLE AS tally_new FOR EACH STATEMENT EXECUTE FUNCTION roster_tally_add()",
    "CREATE TRIGGER campaign_items_tally_delete AFTER DELETE ON campaign_items \
     REFERENCING OLD TABLE AS tally_old FOR EACH STATEMENT EXECUTE FUNCTION roster_tally_remove()",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS campaign_items_tally_insert ON campaign_items",
    "DROP TRIGGER IF EXISTS campaign_items_tally_update_1_remove ON campaign_items",
    "DROP TRIGGER IF EXISTS campaign_items_tally_update_2_add ON campaign_items",
    "DROP TRIGGER IF EXISTS campaign_items_tally_delete ON campaign_items",
    "DROP FUNCTION IF EXISTS roster_tally_add()",
    "DROP FUNCTION IF EXISTS roster_tally_remove()",
    "DROP TABLE IF EXISTS inbox_tallies",
];

/// SQLite, per row: one more in the new row's group, one fewer in the old row's.
const SQLITE_ADD: &str = "INSERT INTO inbox_tallies (reviewer, campaign_id, state, tier_rank, n) \
     VALUES (NEW.reviewer, NEW.campaign_id, NEW.state, NEW.tier_rank, 1) \
     ON CONFLICT (reviewer, campaign_id, state, tier_rank) DO UPDATE SET n = n + 1;";
const SQLITE_REMOVE: &str = "UPDATE inbox_tallies SET n = n - 1 WHERE reviewer = OLD.reviewer \
     AND campaign_id = OLD.campaign_id AND state = OLD.state AND tier_rank = OLD.tier_rank;";

fn sqlite_up() -> Vec<String> {
    vec![
        format!(
            "CREATE TRIGGER IF NOT EXISTS campaign_items_tally_insert AFTER INSERT ON \
             campaign_items BEGIN {SQLITE_ADD} END"
        ),
        format!(
            "CREATE TRIGGER IF NOT EXISTS campaign_items_tally_update \
             AFTER UPDATE OF reviewer, campaign_id, state, tier_rank ON campaign_items \
             WHEN OLD.reviewer IS NOT NEW.reviewer OR OLD.campaign_id IS NOT NEW.campaign_id \
               OR OLD.state IS NOT NEW.state OR OLD.tier_rank IS NOT NEW.tier_rank \
             BEGIN {SQLITE_REMOVE} {SQLITE_ADD} END"
        ),
        format!(
            "CREATE TRIGGER IF NOT EXISTS campaign_items_tally_delete AFTER DELETE ON \
             campaign_items BEGIN {SQLITE_REMOVE} END"
        ),
    ]
}

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS campaign_items_tally_insert",
    "DROP TRIGGER IF EXISTS campaign_items_tally_update",
    "DROP TRIGGER IF EXISTS campaign_items_tally_delete",
    "DROP TABLE IF EXISTS inbox_tallies",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        run(manager, &[TABLE]).await?;
        // Before the triggers: a backfill they also counted would count twice.
        run(manager, &[BACKFILL]).await?;
        if postgres {
            run(manager, POSTGRES_UP).await
        } else {
            run(manager, &sqlite_up()).await
        }
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let postgres = manager.get_database_backend() == DbBackend::Postgres;
        run(manager, if postgres { POSTGRES_DOWN } else { SQLITE_DOWN }).await
    }
}
