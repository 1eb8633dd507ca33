//! `gcp.workload_identity_provider`: the providers of every workload identity pool of a project
//! (`GET v1/projects/{p}/locations/global/workloadIdentityPools/{pool}/providers`, walking the
//! pool listing), with their issuer, attribute mapping and `attributeCondition`.
//!
//! A provider for GitHub Actions or GitLab CI tokens is judged by which repositories its
//! condition lets federate in (see `federation_condition`): none at all is
//! `gcp.wif_provider.no_condition`, an owner-wide, pattern or non-repository condition is
//! `gcp.wif_provider.wide_condition`, and the message names what is admitted.

use std::collections::BTreeMap;

use roster_core::{Kind, Record, Signal, Status};
use serde::Deserialize;
use serde_json::Value;

use crate::common::{decode, last_segment, owner_in_description, record};
use crate::federation_condition::{Admits, Ci, admits};

pub(crate) const RESOURCE_TYPE: &str = "gcp.workload_identity_provider";
pub(crate) const NEEDS: &str = "iam.workloadIdentityPoolProviders.list on the project (e.g. roles/iam.workloadIdentityPoolViewer)";
pub(crate) const NO_CONDITION_RULE: &str = "gcp.wif_provider.no_condition";
pub(crate) const WIDE_CONDITION_RULE: &str = "gcp.wif_provider.wide_condition";

/// The fields of IAM's `WorkloadIdentityPoolProvider` the connector reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkloadIdentityPoolProvider {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    disabled: Option<bool>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    attribute_mapping: BTreeMap<String, String>,
    #[serde(default)]
    attribute_condition: Option<String>,
    #[serde(default)]
    oidc: Option<Oidc>,
    #[serde(default)]
    aws: Option<Value>,
    #[serde(default)]
    saml: Option<Value>,
    #[serde(default)]
    x509: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Oidc {
    #[serde(default)]
    issuer_uri: Option<String>,
    #[serde(default)]
    allowed_audiences: Vec<String>,
}

/// Maps one provider of `pool`; `Ok(None)` skips a soft-deleted one.
pub(crate) fn map(project: &str, pool: &str, item: Value) -> Result<Option<Record>, String> {
    let p: WorkloadIdentityPoolProvider = decode(&item)?;
    if p.state.as_deref() == Some("DELETED") {
        return Ok(None);
    }
    let id = last_segment(&p.name);
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err("WorkloadIdentityPoolProvider: name does not end in a provider id".into());
    }
    let full = format!("{pool}/{id}");
    let mut r = record(
        RESOURCE_TYPE,
        project,
        Kind::Role,
        full.clone(),
        full.clone(),
        item,
    );
    if p.disabled == Some(true) {
        r.status = Status::Disabled;
    }
    if let Some(owner) = owner_in_description(p.description.as_deref()) {
        r.owner = Some(owner);
        r.owner_source = Some("gcp:description".into());
    }
    let condition = p
        .attribute_condition
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let issuer = p.oidc.as_ref().and_then(|o| o.issuer_uri.clone());
    let kind = match (&issuer, &p.aws, &p.saml, &p.x509) {
        (Some(i), ..) => format!("oidc issuer: {i}"),
        (None, Some(_), ..) => "aws".to_string(),
        (None, None, Some(_), _) => "saml".to_string(),
        (None, None, None, Some(_)) => "x509".to_string(),
        _ => "unknown protocol".to_string(),
    };
    r.privilege_detail.push(kind);
    if let Some(o) = &p.oidc {
        for a in &o.allowed_audiences {
            r.privilege_detail.push(format!("audience: {a}"));
        }
    }
    if let Some(c) = condition {
        r.privilege_detail.push(format!("attributeCondition: {c}"));
    }
    let Some(ci) = issuer.as_deref().and_then(Ci::of_issuer) else {
        return Ok(Some(r));
    };
    let issuer = issuer.unwrap_or_default();
    let Some(condition) = condition else {
        r.privilege_detail
            .push("admits: every repository on the issuer".into());
        r.signals.push(Signal::new(
            NO_CONDITION_RULE,
            format!(
                "workload identity provider `{full}` trusts {} tokens from {issuer} with no attributeCondition: \
                 every repository of every user and organisation on that issuer can federate into pool `{pool}`; \
                 only the IAM bindings on the pool's principals limit what they reach",
                ci.name()
            ),
        ));
        return Ok(Some(r));
    };
    let admitted = admits(ci, condition, &p.attribute_mapping);
    r.privilege_detail.push(format!("admits: {admitted}"));
    if !matches!(admitted, Admits::Repos(_)) {
        let what = match &admitted {
            Admits::Any => format!(
                "does not restrict the repository: every repository on {issuer} can federate into pool `{pool}`"
            ),
            wide => format!("lets {wide} federate into pool `{pool}`"),
        };
        r.signals.push(Signal::new(
            WIDE_CONDITION_RULE,
            format!(
                "workload identity provider `{full}` trusts {} tokens and its attributeCondition `{condition}` {what}",
                ci.name()
            ),
        ));
    }
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provider(condition: Option<&str>) -> Value {
        let mut v = json!({"name": "projects/123/locations/global/workloadIdentityPools/ci/providers/github",
            "displayName": "GitHub", "state": "ACTIVE",
            "attributeMapping": {"google.subject": "assertion.sub", "attribute.repository": "assertion.repository",
                                 "attribute.repository_owner": "assertion.repository_owner"},
            "oidc": {"issuerUri": "https://token.actions.githubusercontent.com"}});
        if let Some(c) = condition {
            v["attributeCondition"] = json!(c);
        }
        v
    }

    #[test]
    fn github_provider_without_condition_is_critical_and_explained() {
        let r = map("acme-prod", "ci", provider(None)).unwrap().unwrap();
        assert_eq!(r.key.external_id, "ci/github");
        assert_eq!(r.signals.len(), 1);
        assert_eq!(r.signals[0].rule, NO_CONDITION_RULE);
        assert!(
            r.signals[0]
                .message
                .contains("every repository of every user and organisation"),
            "{}",
            r.signals[0].message
        );
    }

    #[test]
    fn owner_wide_condition_names_the_owner_and_pinned_is_quiet() {
        let r = map(
            "acme-prod",
            "ci",
            provider(Some("attribute.repository_owner == 'acme'")),
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.signals[0].rule, WIDE_CONDITION_RULE);
        assert!(
            r.signals[0].message.contains("every repository of `acme`"),
            "{}",
            r.signals[0].message
        );
        let pinned = map(
            "acme-prod",
            "ci",
            provider(Some("assertion.repository == 'acme/app'")),
        )
        .unwrap()
        .unwrap();
        assert!(pinned.signals.is_empty());
        assert!(
            pinned
                .privilege_detail
                .contains(&"admits: only `acme/app`".to_string())
        );
    }

    #[test]
    fn other_issuers_are_not_judged() {
        let mut v = provider(None);
        v["oidc"]["issuerUri"] = json!("https://login.microsoftonline.com/tenant/v2.0");
        let r = map("acme-prod", "ci", v).unwrap().unwrap();
        assert!(r.signals.is_empty());
    }
}
