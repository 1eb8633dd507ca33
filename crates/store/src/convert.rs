//! Stored rows back into domain values.

use std::str::FromStr;

use roster_core::{Evaluation, InventoryItem, Record, RecordId, RecordKey};

use crate::StoreError;
use crate::entity::record;

fn parse<T: FromStr>(id: i64, field: &'static str, s: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>().map_err(|e| StoreError::Corrupt {
        id: RecordId(id).to_string(),
        field,
        detail: e.to_string(),
    })
}

fn parse_json<T: serde::de::DeserializeOwned>(
    id: i64,
    field: &'static str,
    s: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt {
        id: RecordId(id).to_string(),
        field,
        detail: e.to_string(),
    })
}

impl record::Model {
    /// The domain record as the connector last reported it (status may be the engine's `gone`).
    pub fn to_record(&self) -> Result<Record, StoreError> {
        Ok(Record {
            key: RecordKey {
                resource_type: self.resource_type.clone(),
                scope: self.scope.clone(),
                external_id: self.external_id.clone(),
            },
            platform: parse(self.id, "platform", &self.platform)?,
            kind: parse(self.id, "kind", &self.kind)?,
            name: self.name.clone(),
            parent: None,
            status: parse(self.id, "status", &self.status)?,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
            usage: parse(self.id, "usage", &self.usage)?,
            expires_at: self.expires_at,
            privilege: parse(self.id, "privilege", &self.privilege)?,
            privilege_detail: parse_json(self.id, "privilege_detail", &self.privilege_detail)?,
            owner: self.owner.clone(),
            owner_source: self.owner_source.clone(),
            credential_fingerprint: self.credential_fingerprint.clone(),
            signals: parse_json(self.id, "signals", &self.signals)?,
            interactive_sign_in: self
                .interactive_sign_in
                .as_deref()
                .map(|json| parse_json(self.id, "interactive_sign_in", json))
                .transpose()?,
            raw: parse_json(self.id, "raw", &self.raw)?,
        })
    }

    /// Rule ids that fired at the record's last evaluation.
    pub fn stored_rules(&self) -> Vec<&str> {
        self.finding_rules
            .split(',')
            .filter(|r| !r.is_empty())
            .collect()
    }

    /// The inventory item, with `evaluation` made by the caller at the moment it cares about.
    /// `last_complete_run` is the last completed run of this record's listing.
    pub fn to_item(
        &self,
        record: &Record,
        evaluation: Evaluation,
        last_complete_run: Option<i64>,
    ) -> InventoryItem {
        let last_seen_run = if self.gone_run.is_some() {
            None
        } else {
            // Written in this run (new or changed) means seen in it, even if the listing
            // later failed.
            Some(last_complete_run.map_or(self.changed_run, |r| r.max(self.changed_run)))
        };
        InventoryItem {
            id: RecordId(self.id),
            platform: record.platform,
            connector: self.connector.clone(),
            resource_type: self.resource_type.clone(),
            scope: self.scope.clone(),
            class: record.kind.class(),
            kind: record.kind,
            external_id: self.external_id.clone(),
            name: self.name.clone(),
            parent_id: self.parent_id.map(RecordId),
            status: record.status,
            created_at: record.created_at,
            last_used_at: record.last_used_at,
            usage: record.usage,
            expires_at: record.expires_at,
            privilege: record.privilege,
            privilege_detail: record.privilege_detail.clone(),
            owner: record.owner.clone(),
            owner_source: record.owner_source.clone(),
            credential_fingerprint: record.credential_fingerprint.clone(),
            tier: evaluation.tier,
            findings: evaluation.findings,
            first_seen_run: self.first_seen_run,
            last_seen_run,
            changed_run: self.changed_run,
            gone_run: self.gone_run,
            sample: record
                .raw
                .get("sample_data")
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
        }
    }
}
