//! GCP key remediation against the wiremock estate: a dry run reads but changes nothing, a real
//! run needs `remediation.enabled`, `disable` comes first, `delete` only after the grace
//! period since a disable Roster made, and a key that is gone is left alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use roster_connector_gcp::testing::REMEDIATED_KEY;
use roster_connector_gcp::testing::estate::{ACCESS_TOKEN, Estate};
use roster_connector_gcp::{Credentials, GcpConfig, GcpConnector};
use roster_connector_sdk::{
    Connector, RemediationError, RemediationOutcome, RemediationRequest, Remediator, Secret,
    SystemClock,
};
use roster_core::{Kind, Platform, Privilege, Record, RecordKey, Status, Usage};
use serde_json::json;

const EMAIL: &str = "ci-deployer@acme-prod.iam.gserviceaccount.com";

fn connector(estate: &Estate, enabled: bool) -> GcpConnector {
    let mut config = GcpConfig::with_base(&estate.uri(), &["acme-prod"]);
    config.remediation.enabled = enabled;
    GcpConnector::with_credentials(
        config,
        Credentials::AccessToken(Secret::new(ACCESS_TOKEN)),
        Arc::new(SystemClock),
    )
    .unwrap()
}

fn key_record(external_id: &str) -> Record {
    Record {
        key: RecordKey {
            resource_type: "gcp.service_account_key".into(),
            scope: "acme-prod".into(),
            external_id: external_id.into(),
        },
        platform: Platform::Gcp,
        kind: Kind::ServiceAccountKey,
        name: format!("{EMAIL} key {external_id}"),
        parent: None,
        status: Status::Active,
        created_at: None,
        last_used_at: None,
        usage: Usage::NoTelemetry,
        expires_at: None,
        privilege: Privilege::Admin,
        privilege_detail: vec![],
        owner: None,
        owner_source: None,
        credential_fingerprint: None,
        signals: vec![],
        interactive_sign_in: None,
        raw: json!({"serviceAccount": EMAIL}),
    }
}

async fn step(
    c: &GcpConnector,
    r: &Record,
    action: &str,
    execute: bool,
    now: DateTime<Utc>,
    previous: Option<DateTime<Utc>>,
) -> Result<RemediationOutcome, RemediationError> {
    c.remediate(&RemediationRequest {
        record: r,
        action,
        execute,
        now,
        previous_stage_at: previous,
    })
    .await
}

async fn calls(estate: &Estate, method: &str) -> Vec<String> {
    estate
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == method)
        .map(|r| r.url.path().to_string())
        .collect()
}

#[tokio::test]
async fn disable_then_delete_after_the_grace_period_dry_run_first() {
    let estate = Estate::start().await;
    let off = connector(&estate, false);
    let on = connector(&estate, true);
    let key = key_record(REMEDIATED_KEY);
    let now = Utc::now();
    let path = format!("/v1/projects/acme-prod/serviceAccounts/{EMAIL}/keys/{REMEDIATED_KEY}");

    assert_eq!(
        off.actions("gcp.service_account_key"),
        ["disable", "delete"]
    );
    assert!(off.actions("gcp.service_account").is_empty());
    // The same remediator through the connector, as the app's registry asks for it.
    let as_connector: &dyn Connector = &off;
    assert_eq!(
        as_connector
            .remediator()
            .map(|r| r.actions("gcp.service_account_key")),
        Some(&["disable", "delete"][..])
    );
    assert_eq!(off.previous_stage("delete"), Some("disable"));

    // Dry run: reads the live key, changes nothing, works with remediation off.
    let out = step(&off, &key, "disable", false, now, None).await.unwrap();
    assert!(!out.executed);
    assert_eq!(out.calls, vec![format!("POST {path}:disable {{}}")]);
    assert!(
        out.summary.starts_with("would disable key"),
        "{}",
        out.summary
    );
    assert!(calls(&estate, "POST").await.is_empty());
    // A real run needs remediation enabled.
    let err = step(&off, &key, "disable", true, now, None)
        .await
        .unwrap_err();
    assert!(matches!(err, RemediationError::Disabled(_)), "{err}");
    // Delete before disable is refused.
    let err = step(&on, &key, "delete", false, now, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("disable it first"), "{err}");

    let out = step(&on, &key, "disable", true, now, None).await.unwrap();
    assert!(out.executed);
    assert!(
        out.summary.contains("can be deleted from"),
        "{}",
        out.summary
    );
    assert_eq!(
        calls(&estate, "POST").await,
        vec![format!("{path}:disable")]
    );
    // Disabling twice does nothing.
    let out = step(&on, &key, "disable", true, now, None).await.unwrap();
    assert!(!out.executed && out.summary.contains("already disabled"));

    // Delete: needs Roster's record of the disable, then the grace period (7 days).
    let err = step(&on, &key, "delete", true, now, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no record of disabling"), "{err}");
    let err = step(&on, &key, "delete", true, now, Some(now))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("grace period of 7 days"), "{err}");
    let later = now + Duration::days(8);
    let dry = step(&on, &key, "delete", false, later, Some(now))
        .await
        .unwrap();
    assert_eq!(dry.calls, vec![format!("DELETE {path}")]);
    assert!(calls(&estate, "DELETE").await.is_empty());
    let out = step(&on, &key, "delete", true, later, Some(now))
        .await
        .unwrap();
    assert!(
        out.executed && out.summary.starts_with("deleted key"),
        "{}",
        out.summary
    );
    assert_eq!(calls(&estate, "DELETE").await, vec![path.clone()]);

    // Gone now: nothing to do.
    let out = step(&on, &key, "delete", true, later, Some(now))
        .await
        .unwrap();
    assert!(
        !out.executed && out.summary.contains("no longer exists"),
        "{}",
        out.summary
    );
}

#[tokio::test]
async fn unknown_actions_records_and_unsafe_ids_are_refused() {
    let estate = Estate::start().await;
    let c = connector(&estate, true);
    let now = Utc::now();
    let key = key_record(REMEDIATED_KEY);
    let err = step(&c, &key, "rotate", false, now, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("offered: disable, delete"),
        "{err}"
    );
    let mut sa = key_record("110000000000000000001");
    sa.key.resource_type = "gcp.service_account".into();
    assert!(step(&c, &sa, "disable", false, now, None).await.is_err());
    let bad = key_record("../../x");
    assert!(matches!(
        step(&c, &bad, "disable", false, now, None).await,
        Err(RemediationError::Refused(_))
    ));
    let mut other_project = key_record(REMEDIATED_KEY);
    other_project.key.scope = "acme-other".into();
    assert!(
        step(&c, &other_project, "disable", false, now, None)
            .await
            .is_err()
    );
    let mut bad_email = key_record(REMEDIATED_KEY);
    bad_email.raw = json!({"serviceAccount": "x/../../y"});
    assert!(
        step(&c, &bad_email, "disable", false, now, None)
            .await
            .is_err()
    );
    assert!(estate.server.received_requests().await.unwrap().is_empty());
}
