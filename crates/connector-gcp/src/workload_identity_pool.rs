//! `gcp.workload_identity_pool`: the workload identity pools of a project
//! (`GET v1/projects/{p}/locations/global/workloadIdentityPools`, IAM v1, paged). A pool is the
//! set of external identities its providers admit; the providers say who (see
//! `workload_identity_provider`).

use roster_core::{Kind, Record, Status};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{decode, last_segment, owner_in_description, record};

pub(crate) const RESOURCE_TYPE: &str = "gcp.workload_identity_pool";
pub(crate) const NEEDS: &str =
    "iam.workloadIdentityPools.list on the project (e.g. roles/iam.workloadIdentityPoolViewer)";

/// The fields of IAM's `WorkloadIdentityPool` the connector reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WorkloadIdentityPool {
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub disabled: Option<bool>,
    #[serde(default)]
    pub state: Option<String>,
}

impl WorkloadIdentityPool {
    /// The pool id (the last segment of its name), checked to be safe as a URL path segment.
    pub(crate) fn id(&self) -> Result<&str, String> {
        let id = last_segment(&self.name);
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err("WorkloadIdentityPool: name does not end in a pool id".into());
        }
        Ok(id)
    }
}

/// Maps one pool; `Ok(None)` skips a soft-deleted one (it can federate no one until undeleted).
pub(crate) fn map(project: &str, item: Value) -> Result<Option<Record>, String> {
    let p: WorkloadIdentityPool = decode(&item)?;
    if p.state.as_deref() == Some("DELETED") {
        return Ok(None);
    }
    let id = p.id()?.to_string();
    let name = match p.display_name.as_deref().filter(|d| !d.is_empty()) {
        Some(d) if d != id => format!("{id} ({d})"),
        _ => id.clone(),
    };
    let mut r = record(RESOURCE_TYPE, project, Kind::Role, id, name, item);
    if p.disabled == Some(true) {
        r.status = Status::Disabled;
    }
    if let Some(owner) = owner_in_description(p.description.as_deref()) {
        r.owner = Some(owner);
        r.owner_source = Some("gcp:description".into());
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pools_by_id_and_deleted_ones_skipped() {
        let r = map(
            "acme-prod",
            json!({"name": "projects/123/locations/global/workloadIdentityPools/ci-pool",
                "displayName": "CI", "description": "owner: team-platform", "state": "ACTIVE"}),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.key.external_id, "ci-pool");
        assert_eq!(r.name, "ci-pool (CI)");
        assert_eq!(r.owner.as_deref(), Some("team-platform"));
        let deleted = json!({"name": "projects/123/locations/global/workloadIdentityPools/old", "state": "DELETED"});
        assert!(map("acme-prod", deleted).unwrap().is_none());
        let bad = json!({"name": "projects/123/locations/global/workloadIdentityPools/.."});
        assert!(map("acme-prod", bad).is_err());
    }
}
