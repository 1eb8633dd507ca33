//! The inventory as CSV, one row per identity or credential: what `roster identities
//! --format csv` and the inventory page's export write.

use chrono::{DateTime, Utc};
use roster_core::InventoryItem;

pub const CSV_HEADER: &[&str] = &[
    "id",
    "platform",
    "connector",
    "scope",
    "class",
    "kind",
    "external_id",
    "name",
    "parent_id",
    "status",
    "created_at",
    "last_used_at",
    "usage",
    "expires_at",
    "privilege",
    "owner",
    "owner_source",
    "tier",
    "findings",
];

pub fn ts(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

pub fn csv_row(i: &InventoryItem) -> Vec<String> {
    vec![
        i.id.to_string(),
        i.platform.to_string(),
        i.connector.clone(),
        i.scope.clone(),
        i.class.to_string(),
        i.kind.to_string(),
        i.external_id.clone(),
        i.name.clone(),
        i.parent_id.map(|p| p.to_string()).unwrap_or_default(),
        i.status.to_string(),
        ts(i.created_at),
        ts(i.last_used_at),
        i.usage.to_string(),
        ts(i.expires_at),
        i.privilege.to_string(),
        i.owner.clone().unwrap_or_default(),
        i.owner_source.clone().unwrap_or_default(),
        i.tier.to_string(),
        i.findings
            .iter()
            .map(|f| f.rule.as_str())
            .collect::<Vec<_>>()
            .join(";"),
    ]
}
