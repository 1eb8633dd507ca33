//! Entra ID remediation against wiremock: a dry run reads the live application and changes
//! nothing, a real run needs `remediation.enabled` and makes exactly the documented
//! `removePassword` call, a secret the application no longer has is left alone, and records
//! that name no GUIDs or other types are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use chrono::Utc;
use roster_connector_azure::{AzureConfig, AzureConnector, Credentials};
use roster_connector_sdk::{
    Connector, RemediationError, RemediationOutcome, RemediationRequest, Remediator, Secret,
    SystemClock,
};
use roster_core::{Kind, Platform, Privilege, Record, RecordKey, Status, Usage};
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP: &str = "a0000000-0000-4000-8000-000000000001";
const SECRET: &str = "a3000000-0000-4000-8000-000000000001";

fn connector(server: &MockServer, enabled: bool) -> AzureConnector {
    let mut c = AzureConfig::new(
        support::tenant(),
        "99999999-0000-4000-8000-000000000099",
        server.uri(),
    );
    c.token_url = Some(format!("{}{}", server.uri(), support::token_path()));
    c.remediation.enabled = enabled;
    AzureConnector::with_credentials(
        c,
        Credentials::Secret(Secret::new("client-s3cret")),
        Arc::new(SystemClock),
    )
    .unwrap()
}

fn secret_record(external_id: &str) -> Record {
    Record {
        key: RecordKey {
            resource_type: "azure.client_secret".into(),
            scope: support::tenant(),
            external_id: external_id.into(),
        },
        platform: Platform::Azure,
        kind: Kind::ClientSecret,
        name: "deploy-bot: ci-2024".into(),
        parent: None,
        status: Status::Active,
        created_at: None,
        last_used_at: None,
        usage: Usage::NoTelemetry,
        expires_at: None,
        privilege: Privilege::Unknown,
        privilege_detail: vec![],
        owner: None,
        owner_source: None,
        credential_fingerprint: None,
        signals: vec![],
        interactive_sign_in: None,
        raw: json!({}),
    }
}

async fn remediate(
    c: &AzureConnector,
    r: &Record,
    action: &str,
    execute: bool,
) -> Result<RemediationOutcome, RemediationError> {
    c.remediate(&RemediationRequest {
        record: r,
        action,
        execute,
        now: Utc::now(),
        previous_stage_at: None,
    })
    .await
}

async fn remove_password(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path(format!("/v1.0/applications/{APP}/removePassword")))
        .and(body_json(json!({"keyId": SECRET})))
        .respond_with(ResponseTemplate::new(204))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn dry_run_reads_the_live_secret_and_changes_nothing() {
    let server = MockServer::start().await;
    support::mount(&server).await;
    remove_password(&server, 0).await;
    let c = connector(&server, false);
    assert_eq!(c.actions("azure.client_secret"), ["remove"]);
    assert!(c.actions("azure.application").is_empty());
    // The same remediator through the connector, as the app's registry asks for it.
    let as_connector: &dyn Connector = &c;
    assert_eq!(
        as_connector
            .remediator()
            .map(|r| r.actions("azure.client_secret")),
        Some(&["remove"][..])
    );
    let out = remediate(
        &c,
        &secret_record(&format!("{APP}/{SECRET}")),
        "remove",
        false,
    )
    .await
    .unwrap();
    assert!(!out.executed);
    assert_eq!(
        out.calls,
        vec![format!(
            r#"POST /v1.0/applications/{APP}/removePassword {{"keyId":"{SECRET}"}}"#
        )]
    );
    assert!(
        out.summary.contains("would remove client secret `ci-2024`")
            && out.summary.contains("hint Xy7")
            && out.summary.contains("`deploy-bot`"),
        "{}",
        out.summary
    );
}

#[tokio::test]
async fn a_real_run_needs_remediation_enabled_then_removes_the_secret() {
    let server = MockServer::start().await;
    support::mount(&server).await;
    remove_password(&server, 1).await;
    let record = secret_record(&format!("{APP}/{SECRET}"));
    let err = remediate(&connector(&server, false), &record, "remove", true)
        .await
        .unwrap_err();
    assert!(matches!(err, RemediationError::Disabled(_)), "{err:?}");
    let out = remediate(&connector(&server, true), &record, "remove", true)
        .await
        .unwrap();
    assert!(out.executed);
    assert!(
        out.summary.starts_with("removed client secret `ci-2024`"),
        "{}",
        out.summary
    );
}

#[tokio::test]
async fn a_secret_already_gone_is_left_alone() {
    let server = MockServer::start().await;
    support::mount(&server).await;
    remove_password(&server, 0).await;
    let gone = "a3000000-0000-4000-8000-0000000000ff";
    let out = remediate(
        &connector(&server, true),
        &secret_record(&format!("{APP}/{gone}")),
        "remove",
        true,
    )
    .await
    .unwrap();
    assert!(!out.executed);
    assert!(out.summary.contains("nothing to do"), "{}", out.summary);
    assert!(out.calls.is_empty());
    // An application that no longer exists: nothing to do either.
    let missing = "a0000000-0000-4000-8000-0000000000ff";
    let out = remediate(
        &connector(&server, true),
        &secret_record(&format!("{missing}/{SECRET}")),
        "remove",
        true,
    )
    .await
    .unwrap();
    assert!(
        !out.executed && out.summary.contains("no longer exists"),
        "{}",
        out.summary
    );
}

#[tokio::test]
async fn foreign_records_and_unknown_actions_are_refused() {
    let server = MockServer::start().await;
    let c = connector(&server, true);
    for bad in ["../../servicePrincipals/x", "not-a-guid/also-not"] {
        let err = remediate(&c, &secret_record(bad), "remove", false)
            .await
            .unwrap_err();
        assert!(matches!(err, RemediationError::Refused(_)), "{err:?}");
    }
    let err = remediate(
        &c,
        &secret_record(&format!("{APP}/{SECRET}")),
        "delete",
        false,
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("offered: remove"), "{err}");
    let mut other_tenant = secret_record(&format!("{APP}/{SECRET}"));
    other_tenant.key.scope = "another-tenant".into();
    assert!(matches!(
        remediate(&c, &other_tenant, "remove", false).await,
        Err(RemediationError::Refused(_))
    ));
    assert!(server.received_requests().await.unwrap().is_empty());
}
