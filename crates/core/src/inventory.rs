//! The inventory item: the JSON object `roster identities --format json` prints and the API
//! returns (DESIGN.md §4).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Kind, Platform, Privilege, RecordClass, Status, Tier, Usage};
use crate::record::RecordId;
use crate::risk::Finding;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct InventoryItem {
    pub id: RecordId,
    pub platform: Platform,
    pub connector: String,
    pub resource_type: String,
    pub scope: String,
    pub class: RecordClass,
    pub kind: Kind,
    pub external_id: String,
    pub name: String,
    pub parent_id: Option<RecordId>,
    pub status: Status,
    pub created_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub usage: Usage,
    pub expires_at: Option<DateTime<Utc>>,
    pub privilege: Privilege,
    pub privilege_detail: Vec<String>,
    pub owner: Option<String>,
    pub owner_source: Option<String>,
    /// The credential's material in canonical form (`ssh-sha256:…`, `x509-sha1:…`), when the
    /// platform shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_fingerprint: Option<String>,
    pub tier: Tier,
    pub findings: Vec<Finding>,
    pub first_seen_run: i64,
    /// The last sync run whose listing of this record's scope completed while it was present.
    pub last_seen_run: Option<i64>,
    pub changed_run: i64,
    pub gone_run: Option<i64>,
    /// True for records of the `synthetic` connector, so sample data is never mistaken for real.
    pub sample: bool,
}
