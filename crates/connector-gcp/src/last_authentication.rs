//! Last authentication of service accounts and keys, from the Policy Analyzer activity API
//! (`GET v1/projects/{p}/locations/global/activityTypes/{type}/activities:query`, paged).
//!
//! Provenance: an account or key the API lists is `used` at its `lastAuthenticatedTime`. One it
//! does not list, when the API answered, is `never_used` (within the API's observation period;
//! the risk engine's grace period covers new ones). Only where the API could not be read (403:
//! not permitted, or the API not enabled on the project; 404) is usage `no_telemetry`: a source
//! that cannot say is not "never used". Any other failure fails the listing, so a rate-limit
//! storm never turns "used" into "no data" silently.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use roster_connector_sdk::{ConnectorError, PageGuard};
use roster_core::Usage;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::{Api, Service};

pub(crate) const SERVICE_ACCOUNT_ACTIVITY: &str = "serviceAccountLastAuthentication";
pub(crate) const KEY_ACTIVITY: &str = "serviceAccountKeyLastAuthentication";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryResponse {
    #[serde(default)]
    activities: Vec<Activity>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Activity {
    #[serde(default)]
    full_resource_name: Option<String>,
    #[serde(default)]
    activity: Option<Value>,
}

/// What the activity API says about one activity type in one project.
#[derive(Debug, Clone)]
pub(crate) enum Telemetry {
    /// `activity = false` in the config.
    Off,
    /// The API could not be read; the reason.
    Unreadable(String),
    /// Last authentication per account (email and unique id) or per key id, lowercased.
    Read(HashMap<String, DateTime<Utc>>),
}

/// How a record's usage came about, for its raw JSON.
pub(crate) struct Seen {
    pub usage: Usage,
    pub last_used_at: Option<DateTime<Utc>>,
    pub evidence: Value,
}

impl Telemetry {
    /// Usage of the account or key known by any of `ids` (email, unique id, key id).
    pub(crate) fn usage(&self, ids: &[&str]) -> Seen {
        match self {
            Telemetry::Off => Seen {
                usage: Usage::NoTelemetry,
                last_used_at: None,
                evidence: json!({"source": "policyanalyzer", "read": false, "why": "activity = false in the connector's config"}),
            },
            Telemetry::Unreadable(why) => Seen {
                usage: Usage::NoTelemetry,
                last_used_at: None,
                evidence: json!({"source": "policyanalyzer", "read": false, "why": why}),
            },
            Telemetry::Read(map) => {
                let found = ids
                    .iter()
                    .filter_map(|id| map.get(&id.to_ascii_lowercase()))
                    .max()
                    .copied();
                match found {
                    Some(t) => Seen {
                        usage: Usage::Used,
                        last_used_at: Some(t),
                        evidence: json!({"source": "policyanalyzer", "read": true, "last_authenticated": t}),
                    },
                    None => Seen {
                        usage: Usage::NeverUsed,
                        last_used_at: None,
                        evidence: json!({"source": "policyanalyzer", "read": true, "last_authenticated": null}),
                    },
                }
            }
        }
    }
}

/// Every activity of `activity_type` in `project`, indexed by the ids it names.
pub(crate) async fn load(
    api: &Api,
    project: &str,
    activity_type: &str,
    page_size: u32,
    max_pages: u64,
) -> Result<Telemetry, ConnectorError> {
    let base = format!(
        "v1/projects/{project}/locations/global/activityTypes/{activity_type}/activities:query"
    );
    // The API allows 1000 per page; more per page means fewer calls.
    let page_size = (page_size * 10).min(1000);
    let mut map = HashMap::new();
    let mut token: Option<String> = None;
    let mut guard = PageGuard::new(format!("{activity_type} in {project}"), max_pages);
    loop {
        let mut url = format!("{base}?pageSize={page_size}");
        if let Some(t) = &token {
            url.push_str("&pageToken=");
            url.push_str(&encode(t));
        }
        let response = match api
            .get::<QueryResponse>(Service::PolicyAnalyzer, &url)
            .await
        {
            Ok(r) => r,
            Err(ConnectorError::Forbidden { url, .. }) if token.is_none() => {
                tracing::warn!(%url, project, "Policy Analyzer activity not readable; usage is no_telemetry");
                return Ok(Telemetry::Unreadable(format!(
                    "HTTP 403 at {url} (needs policyanalyzer.serviceAccountLastAuthenticationActivities.query / serviceAccountKeyLastAuthenticationActivities.query, e.g. roles/policyanalyzer.activityAnalysisViewer, and the API enabled)"
                )));
            }
            Err(ConnectorError::NotFound { url }) if token.is_none() => {
                return Ok(Telemetry::Unreadable(format!("HTTP 404 at {url}")));
            }
            Err(e) => return Err(e),
        };
        for a in response.body.activities {
            let Some(at) = a
                .activity
                .as_ref()
                .and_then(|v| v.get("lastAuthenticatedTime"))
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<DateTime<Utc>>().ok())
            else {
                continue;
            };
            for id in ids_of(a.full_resource_name.as_deref(), a.activity.as_ref()) {
                let slot = map.entry(id).or_insert(at);
                if at > *slot {
                    *slot = at;
                }
            }
        }
        match response.body.next_page_token.filter(|t| !t.is_empty()) {
            Some(next) => {
                guard.advance(&next)?;
                token = Some(next);
            }
            None => return Ok(Telemetry::Read(map)),
        }
    }
}

/// The ids an activity names: the last segment of every full resource name it carries (an
/// account's email or unique id, a key's id) and the account's unique id.
fn ids_of(top: Option<&str>, activity: Option<&Value>) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |s: &str| {
        let id = crate::common::last_segment(s).to_ascii_lowercase();
        if !id.is_empty() && !out.contains(&id) {
            out.push(id);
        }
    };
    if let Some(t) = top {
        push(t);
    }
    if let Some(a) = activity {
        for inner in ["serviceAccount", "serviceAccountKey"] {
            if let Some(v) = a.get(inner) {
                if let Some(n) = v.get("fullResourceName").and_then(Value::as_str) {
                    push(n);
                }
                if let Some(n) = v.get("serviceAccountId").and_then(Value::as_str) {
                    // A key activity's account id names the account, not the key.
                    if inner == "serviceAccount" {
                        push(n);
                    }
                }
            }
        }
    }
    out
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_every_resource_name() {
        let a = json!({"lastAuthenticatedTime": "2024-12-01T07:00:00Z",
            "serviceAccount": {"serviceAccountId": "1057", "projectNumber": "1",
            "fullResourceName": "//iam.googleapis.com/projects/acme-prod/serviceAccounts/ci@acme-prod.iam.gserviceaccount.com"}});
        let ids = ids_of(
            Some("//iam.googleapis.com/projects/acme-prod/serviceAccounts/1057"),
            Some(&a),
        );
        assert_eq!(ids, vec!["1057", "ci@acme-prod.iam.gserviceaccount.com"]);
        let k = json!({"lastAuthenticatedTime": "2024-12-01T07:00:00Z",
            "serviceAccountKey": {"serviceAccountId": "1057", "projectNumber": "1",
            "fullResourceName": "//iam.googleapis.com/projects/acme-prod/serviceAccounts/ci@acme-prod.iam.gserviceaccount.com/keys/AB12"}});
        assert_eq!(ids_of(None, Some(&k)), vec!["ab12"]);
    }

    #[test]
    fn provenance_tells_unread_from_unseen() {
        let t: DateTime<Utc> = "2024-12-01T07:00:00Z".parse().unwrap();
        let read = Telemetry::Read(HashMap::from([("ab12".to_string(), t)]));
        let seen = read.usage(&["AB12"]);
        assert_eq!(seen.usage, Usage::Used);
        assert_eq!(seen.last_used_at, Some(t));
        assert_eq!(read.usage(&["cd34"]).usage, Usage::NeverUsed);
        assert_eq!(
            Telemetry::Unreadable("HTTP 403".into())
                .usage(&["ab12"])
                .usage,
            Usage::NoTelemetry
        );
        assert_eq!(Telemetry::Off.usage(&["ab12"]).usage, Usage::NoTelemetry);
    }
}
