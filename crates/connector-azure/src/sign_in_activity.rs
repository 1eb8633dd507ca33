//! Sign-in activity from Graph's beta reports API: `reports/servicePrincipalSignInActivities`
//! (per app) and `reports/appCredentialSignInActivities` (per credential `keyId`). Both need
//! `AuditLog.Read.All` and a tenant with Entra ID P1 or P2; where the tenant does not allow them
//! (403), usage is `no_telemetry` — never read as "never used". Where a report is readable, an
//! app or credential it does not list has not signed in within the report's retention: `never_used`.
//!
//! Each report is read once per connector (one sync run) and shared by the listings.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use roster_connector_sdk::ConnectorError;
use roster_core::Usage;
use serde::Deserialize;
use tokio::sync::OnceCell;

use crate::common::time;
use crate::graph::Graph;

pub(crate) const NEEDS: &str =
    "AuditLog.Read.All (application permission) and an Entra ID P1/P2 licence";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignInActivity {
    #[serde(default)]
    last_sign_in_date_time: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServicePrincipalActivity {
    #[serde(default)]
    app_id: Option<String>,
    #[serde(default)]
    last_sign_in_activity: Option<SignInActivity>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredentialActivity {
    #[serde(default)]
    key_id: Option<String>,
    #[serde(default)]
    sign_in_activity: Option<SignInActivity>,
}

/// What a report says of one app or credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    pub usage: Usage,
    pub last: Option<DateTime<Utc>>,
}

impl Seen {
    const NO_TELEMETRY: Seen = Seen {
        usage: Usage::NoTelemetry,
        last: None,
    };
    const NEVER: Seen = Seen {
        usage: Usage::NeverUsed,
        last: None,
    };
}

/// `None`: the report is not readable in this tenant.
type Report = Option<HashMap<String, Option<DateTime<Utc>>>>;

#[derive(Default)]
pub(crate) struct SignInReports {
    apps: OnceCell<Report>,
    credentials: OnceCell<Report>,
}

impl SignInReports {
    /// The last sign-in of the app `app_id` (any flow).
    pub(crate) async fn app(
        &self,
        graph: &Graph,
        app_id: Option<&str>,
        max_pages: u64,
    ) -> Result<Seen, ConnectorError> {
        let report = self
            .apps
            .get_or_try_init(|| async {
                let rows: Option<Vec<ServicePrincipalActivity>> = readable(
                    graph
                        .all("beta/reports/servicePrincipalSignInActivities", max_pages)
                        .await,
                )?;
                Ok::<_, ConnectorError>(rows.map(|rows| {
                    rows.into_iter()
                        .filter_map(|r| {
                            let last = r
                                .last_sign_in_activity
                                .and_then(|a| time(a.last_sign_in_date_time.as_deref()));
                            Some((r.app_id?.to_ascii_lowercase(), last))
                        })
                        .collect()
                }))
            })
            .await?;
        Ok(lookup(report, app_id))
    }

    /// The last sign-in with the credential `key_id`.
    pub(crate) async fn credential(
        &self,
        graph: &Graph,
        key_id: Option<&str>,
        max_pages: u64,
    ) -> Result<Seen, ConnectorError> {
        let report = self
            .credentials
            .get_or_try_init(|| async {
                let rows: Option<Vec<CredentialActivity>> = readable(
                    graph
                        .all("beta/reports/appCredentialSignInActivities", max_pages)
                        .await,
                )?;
                Ok::<_, ConnectorError>(rows.map(|rows| {
                    rows.into_iter()
                        .filter_map(|r| {
                            let last = r
                                .sign_in_activity
                                .and_then(|a| time(a.last_sign_in_date_time.as_deref()));
                            Some((r.key_id?.to_ascii_lowercase(), last))
                        })
                        .collect()
                }))
            })
            .await?;
        Ok(lookup(report, key_id))
    }
}

fn lookup(report: &Report, id: Option<&str>) -> Seen {
    let (Some(report), Some(id)) = (report, id) else {
        return Seen::NO_TELEMETRY;
    };
    match report.get(&id.to_ascii_lowercase()) {
        Some(Some(last)) => Seen {
            usage: Usage::Used,
            last: Some(*last),
        },
        Some(None) | None => Seen::NEVER,
    }
}

/// A report the tenant does not allow (403: no permission or no licence) is "no telemetry";
/// any other failure fails the listing, so a passing outage never flips usage.
fn readable<T>(result: Result<Vec<T>, ConnectorError>) -> Result<Option<Vec<T>>, ConnectorError> {
    match result {
        Ok(rows) => Ok(Some(rows)),
        Err(ConnectorError::Forbidden { url, .. }) => {
            tracing::warn!(%url, needs = NEEDS, "sign-in report not readable; usage is no_telemetry");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
