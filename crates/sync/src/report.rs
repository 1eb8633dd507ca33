//! The run report: what each connector and listing saw, and what could not be seen.

use roster_store::{RunCounts, RunStatus};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct SyncReport {
    pub run_id: i64,
    pub status: RunStatus,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: chrono::DateTime<chrono::Utc>,
    pub counts: RunCounts,
    pub connectors: Vec<ConnectorReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectorReport {
    pub name: String,
    /// Set when the connector could not even say what to list: nothing of it was seen.
    pub error: Option<String>,
    pub counts: RunCounts,
    /// Requests answered `304 Not Modified` (their bodies came from the last run, and cost no
    /// rate-limit quota on GitHub). `None`: the connector makes no conditional requests.
    pub not_modified: Option<u64>,
    pub listings: Vec<ListingReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListingReport {
    pub resource_type: String,
    pub scope: String,
    /// `complete` (swept) or `failed` (unknown: nothing was marked gone).
    pub status: &'static str,
    pub error: Option<String>,
    pub pages: u64,
    pub seen: u64,
    /// Records the connector returned twice in one listing (counted once).
    pub duplicates: u64,
    /// Records rejected as malformed (e.g. outside the listing).
    pub rejected: u64,
    /// Requests of this listing answered `304 Not Modified`.
    pub not_modified: u64,
    pub counts: RunCounts,
}

impl SyncReport {
    /// A short human summary, one line per failed listing.
    pub fn to_text(&self) -> String {
        let c = &self.counts;
        let mut out = format!(
            "sync run {} {}: {} new, {} changed, {} unchanged, {} gone, {} failed listing(s)\n",
            self.run_id,
            self.status.as_str(),
            c.new,
            c.changed,
            c.unchanged,
            c.gone,
            c.failed_listings
        );
        for conn in &self.connectors {
            let listings_ok = conn
                .listings
                .iter()
                .filter(|l| l.status == "complete")
                .count();
            out.push_str(&format!(
                "  {}: {} of {} listing(s) complete; {} new, {} changed, {} unchanged, {} gone\n",
                conn.name,
                listings_ok,
                conn.listings.len(),
                conn.counts.new,
                conn.counts.changed,
                conn.counts.unchanged,
                conn.counts.gone
            ));
            if let Some(n) = conn.not_modified {
                out.push_str(&format!(
                    "    {n} request(s) answered 304 Not Modified (no rate-limit quota spent)\n"
                ));
            }
            if conn.counts.collisions > 0 {
                out.push_str(&format!(
                    "    {} record(s) SKIPPED: id collides with another natural key (see the error log)\n",
                    conn.counts.collisions
                ));
            }
            if let Some(e) = &conn.error {
                out.push_str(&format!("    NOT SEEN (whole connector): {e}\n"));
            }
            for l in conn.listings.iter().filter(|l| l.status != "complete") {
                out.push_str(&format!(
                    "    NOT SEEN: {} in {}: {} (nothing swept there)\n",
                    l.resource_type,
                    l.scope,
                    l.error.as_deref().unwrap_or("unknown error")
                ));
            }
        }
        out
    }
}
