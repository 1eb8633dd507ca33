//! IAM roles, with RoleLastUsed and the trust-policy analysis for CI federation.

use aws_sdk_iam::types::RoleDetail;
use roster_core::{Kind, Platform, Record, RecordKey, Signal, Status, Usage};
use serde_json::json;

use crate::account::AccountData;
use crate::client::to_utc;
use crate::iam_user::merged_docs;
use crate::policy_document;
use crate::principal;
use crate::trust::{self, TrustScope};

pub const RESOURCE_TYPE: &str = "aws.role";

/// Roles AWS creates and manages for its own services: not an estate's identities to govern.
pub fn is_service_linked(r: &RoleDetail) -> bool {
    r.path()
        .is_some_and(|p| p.starts_with("/aws-service-role/"))
}

pub fn record(
    account: &str,
    r: &RoleDetail,
    data: &AccountData,
    scope: &TrustScope<'_>,
) -> Option<Record> {
    let name = r.role_name()?.to_owned();
    let all_docs = merged_docs(data);
    let mut policies = principal::inline(r.role_policy_list(), "");
    policies.extend(principal::attached(
        r.attached_managed_policies(),
        "",
        all_docs,
    ));
    let boundary = principal::boundary(
        r.permissions_boundary()
            .and_then(|b| b.permissions_boundary_arn()),
        all_docs,
    );
    let (privilege, privilege_detail) =
        principal::privilege(&policies, boundary.as_ref(), &data.verdicts);
    let owner = principal::owner_from_tags(r.tags());

    let mut signals: Vec<Signal> = Vec::new();
    let trust_json = match r.assume_role_policy_document().map(policy_document::parse) {
        Some(Ok(doc)) => {
            let analysis = trust::analyse(&name, &doc, scope);
            signals.extend(analysis.signals.iter().cloned());
            json!({
                "document": policy_document::decode(r.assume_role_policy_document().unwrap_or("")),
                "ci": analysis.ci,
                "aws": analysis.aws,
                "other_principals": analysis.other_principals,
            })
        }
        Some(Err(e)) => json!({"error": e.to_string()}),
        None => serde_json::Value::Null,
    };
    let last_used_at = r
        .role_last_used()
        .and_then(|u| u.last_used_date())
        .and_then(to_utc);
    Some(Record {
        key: RecordKey {
            resource_type: RESOURCE_TYPE.into(),
            scope: account.into(),
            external_id: name.clone(),
        },
        platform: Platform::Aws,
        kind: Kind::Role,
        name,
        parent: None,
        status: Status::Active,
        created_at: r.create_date().and_then(to_utc),
        last_used_at,
        // IAM tracks role use for 400 days: no date means not used in that window.
        usage: if last_used_at.is_some() {
            Usage::Used
        } else {
            Usage::NeverUsed
        },
        expires_at: None,
        privilege,
        privilege_detail,
        owner: owner.as_ref().map(|o| o.0.clone()),
        owner_source: owner.map(|o| o.1),
        credential_fingerprint: None,
        signals,
        interactive_sign_in: None,
        raw: json!({
            "arn": r.arn(),
            "role_id": r.role_id(),
            "path": r.path(),
            "tags": principal::tags_json(r.tags()),
            "trust": trust_json,
            "last_used_region": r.role_last_used().and_then(|u| u.region()),
            "permissions_boundary": r.permissions_boundary().and_then(|b| b.permissions_boundary_arn()),
        }),
    })
}
