//! GitHub remediation against wiremock: a dry run reads but changes nothing, a real run makes
//! exactly the documented request, a real run needs `remediation.enabled`, unknown actions and
//! objects GitHub no longer shows are left alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use chrono::Utc;
use roster_connector_github::{Credentials, GithubConfig, GithubConnector};
use roster_connector_sdk::{
    Connector, ConnectorError, RemediationError, RemediationOutcome, RemediationRequest,
    Remediator, Secret, SystemClock,
};
use roster_core::{Kind, Platform, Privilege, Record, RecordKey, Status, Usage};
use serde_json::{Value, json};
use wiremock::matchers::{any, body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn connector(server: &MockServer, enabled: bool) -> GithubConnector {
    let mut config = GithubConfig::new(server.uri(), &["acme"]);
    config.remediation.enabled = enabled;
    GithubConnector::with_credentials(
        config,
        Credentials::Token(Secret::new("ghp_test")),
        Arc::new(SystemClock),
    )
    .unwrap()
}

fn record(resource_type: &str, external_id: &str, raw: Value) -> Record {
    Record {
        key: RecordKey {
            resource_type: resource_type.into(),
            scope: "acme".into(),
            external_id: external_id.into(),
        },
        platform: Platform::Github,
        kind: Kind::DeployKey,
        name: format!("{resource_type} {external_id}"),
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
        raw,
    }
}

async fn remediate(
    c: &GithubConnector,
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

/// Fails the test (on drop of the server) if any request other than the mocked ones arrives.
async fn nothing_else(server: &MockServer) {
    Mock::given(any())
        .respond_with(ResponseTemplate::new(418))
        .with_priority(10)
        .expect(0)
        .named("an unexpected request")
        .mount(server)
        .await;
}

fn deploy_key() -> Record {
    record(
        "github.deploy_key",
        "acme/web/12",
        json!({"repository": "acme/web"}),
    )
}

async fn mount_key_read(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/repos/acme/web/keys/12"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": 12, "title": "ci", "read_only": false, "key": "ssh-ed25519 AAAA"}),
        ))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn dry_run_reads_live_state_and_changes_nothing() {
    let server = MockServer::start().await;
    mount_key_read(&server).await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(204))
        .expect(0)
        .mount(&server)
        .await;
    nothing_else(&server).await;
    // A dry run works with remediation off.
    let c = connector(&server, false);
    let out = remediate(&c, &deploy_key(), "delete", false).await.unwrap();
    assert!(!out.executed);
    assert_eq!(out.calls, vec!["DELETE /repos/acme/web/keys/12"]);
    assert!(
        out.summary
            .contains("would delete deploy key `ci` (12, read-write) of `acme/web`"),
        "{}",
        out.summary
    );
}

#[tokio::test]
async fn execute_needs_remediation_enabled_and_sends_nothing_otherwise() {
    let server = MockServer::start().await;
    nothing_else(&server).await;
    let c = connector(&server, false);
    let err = remediate(&c, &deploy_key(), "delete", true)
        .await
        .unwrap_err();
    assert!(matches!(err, RemediationError::Disabled(_)), "{err}");
    assert!(
        err.to_string().contains("[connectors.remediation]"),
        "{err}"
    );
}

#[tokio::test]
async fn unknown_actions_and_types_are_refused_before_any_request() {
    let server = MockServer::start().await;
    nothing_else(&server).await;
    let c = connector(&server, true);
    assert_eq!(c.actions("github.deploy_key"), ["delete"]);
    assert_eq!(c.actions("github.webhook"), ["deactivate"]);
    // The same remediator through the connector, as the app's registry asks for it.
    let as_connector: &dyn Connector = &c;
    assert_eq!(
        as_connector
            .remediator()
            .map(|r| r.actions("github.webhook")),
        Some(&["deactivate"][..])
    );
    assert!(c.actions("github.org_actions_secret").is_empty());
    assert_eq!(c.previous_stage("delete"), None);
    for (r, action) in [
        (deploy_key(), "deactivate"),
        (deploy_key(), "revoke"),
        (
            record("github.org_actions_secret", "GH_TOKEN", json!({})),
            "delete",
        ),
        (record("aws.access_key", "AKIA", json!({})), "delete"),
    ] {
        let err = remediate(&c, &r, action, true).await.unwrap_err();
        assert!(matches!(err, RemediationError::Refused(_)), "{err}");
    }
    // A record of an org this connector does not manage, or with a crafted id.
    let mut other = deploy_key();
    other.key.scope = "evil".into();
    other.key.external_id = "evil/web/12".into();
    let err = remediate(&c, &other, "delete", true).await.unwrap_err();
    assert!(err.to_string().contains("not configured"), "{err}");
    let crafted = record("github.deploy_key", "acme/../orgs/acme/12", json!({}));
    let err = remediate(&c, &crafted, "delete", true).await.unwrap_err();
    assert!(matches!(err, RemediationError::Refused(_)), "{err}");
}

#[tokio::test]
async fn execute_deletes_a_deploy_key_with_exactly_the_documented_request() {
    let server = MockServer::start().await;
    mount_key_read(&server).await;
    Mock::given(method("DELETE"))
        .and(path("/repos/acme/web/keys/12"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    nothing_else(&server).await;
    let c = connector(&server, true);
    let out = remediate(&c, &deploy_key(), "delete", true).await.unwrap();
    assert!(out.executed);
    assert_eq!(out.calls, vec!["DELETE /repos/acme/web/keys/12"]);
    assert!(
        out.summary.starts_with("deleted deploy key `ci`"),
        "{}",
        out.summary
    );
    let received = server.received_requests().await.unwrap();
    let delete = received
        .iter()
        .find(|r| r.method.as_str() == "DELETE")
        .unwrap();
    assert_eq!(
        delete
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap(),
        "Bearer ghp_test"
    );
    assert_eq!(
        delete
            .headers
            .get("x-github-api-version")
            .unwrap()
            .to_str()
            .unwrap(),
        "2022-11-28"
    );
}

#[tokio::test]
async fn execute_revokes_a_fine_grained_pat_grant_found_on_a_later_page() {
    let server = MockServer::start().await;
    let next = format!(
        "{}/orgs/acme/personal-access-tokens?per_page=100&page=2",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/orgs/acme/personal-access-tokens"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 25381, "owner": {"login": "octocat"}, "token_name": "deploy bot"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/personal-access-tokens"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 1, "owner": {"login": "hubot"}}]))
                .insert_header("link", format!("<{next}>; rel=\"next\"").as_str()),
        )
        .with_priority(6)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/orgs/acme/personal-access-tokens/25381"))
        .and(body_json(json!({"action": "revoke"})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    nothing_else(&server).await;
    let c = connector(&server, true);
    let r = record("github.fine_grained_pat", "25381", json!({}));
    let out = remediate(&c, &r, "revoke", true).await.unwrap();
    assert!(out.executed);
    assert_eq!(
        out.calls,
        vec![r#"POST /orgs/acme/personal-access-tokens/25381 {"action":"revoke"}"#]
    );
    assert!(
        out.summary.contains("`deploy bot` of octocat"),
        "{}",
        out.summary
    );
}

#[tokio::test]
async fn execute_removes_a_saml_authorization_looked_up_by_login() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/credential-authorizations"))
        .and(query_param("login", "octocat"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"login": "octocat", "credential_id": 161195, "credential_type": "personal access token"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/orgs/acme/credential-authorizations/161195"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    nothing_else(&server).await;
    let c = connector(&server, true);
    let r = record(
        "github.credential_authorization",
        "161195",
        json!({"login": "octocat"}),
    );
    let out = remediate(&c, &r, "remove", true).await.unwrap();
    assert_eq!(
        out.calls,
        vec!["DELETE /orgs/acme/credential-authorizations/161195"]
    );
}

#[tokio::test]
async fn execute_removes_org_and_repo_runners() {
    let server = MockServer::start().await;
    for p in [
        "/orgs/acme/actions/runners/23",
        "/repos/acme/oss/actions/runners/7",
    ] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": 23, "name": "linux", "busy": false})),
            )
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("DELETE"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(204))
            .expect(1)
            .mount(&server)
            .await;
    }
    nothing_else(&server).await;
    let c = connector(&server, true);
    let out = remediate(
        &c,
        &record("github.org_runner", "23", json!({})),
        "remove",
        true,
    )
    .await
    .unwrap();
    assert_eq!(out.calls, vec!["DELETE /orgs/acme/actions/runners/23"]);
    let out = remediate(
        &c,
        &record("github.repo_runner", "acme/oss/7", json!({})),
        "remove",
        true,
    )
    .await
    .unwrap();
    assert_eq!(out.calls, vec!["DELETE /repos/acme/oss/actions/runners/7"]);
}

#[tokio::test]
async fn execute_deactivates_a_webhook_unless_already_inactive() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks/1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": 1, "active": true, "config": {"url": "https://u:pw@h.example.com/"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks/2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 2, "active": false})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/orgs/acme/hooks/1"))
        .and(body_json(json!({"active": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1, "active": false})))
        .expect(1)
        .mount(&server)
        .await;
    nothing_else(&server).await;
    let c = connector(&server, true);
    let out = remediate(
        &c,
        &record("github.webhook", "1", json!({})),
        "deactivate",
        true,
    )
    .await
    .unwrap();
    assert!(out.executed);
    assert_eq!(
        out.calls,
        vec![r#"PATCH /orgs/acme/hooks/1 {"active":false}"#]
    );
    assert!(!out.summary.contains("pw"), "{}", out.summary);
    let out = remediate(
        &c,
        &record("github.webhook", "2", json!({})),
        "deactivate",
        true,
    )
    .await
    .unwrap();
    assert!(!out.executed && out.calls.is_empty());
    assert!(out.summary.contains("already inactive"), "{}", out.summary);
}

#[tokio::test]
async fn an_object_github_no_longer_shows_is_left_alone() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/web/keys/12"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/personal-access-tokens"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    nothing_else(&server).await;
    let c = connector(&server, true);
    let out = remediate(&c, &deploy_key(), "delete", true).await.unwrap();
    assert!(!out.executed && out.calls.is_empty());
    assert!(out.summary.contains("nothing to do"), "{}", out.summary);
    let out = remediate(
        &c,
        &record("github.fine_grained_pat", "25381", json!({})),
        "revoke",
        true,
    )
    .await
    .unwrap();
    assert!(!out.executed && out.calls.is_empty());
}

#[tokio::test]
async fn a_refused_call_names_the_permission_it_needs() {
    let server = MockServer::start().await;
    mount_key_read(&server).await;
    Mock::given(method("DELETE"))
        .and(path("/repos/acme/web/keys/12"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "Forbidden"})))
        .expect(1)
        .mount(&server)
        .await;
    nothing_else(&server).await;
    let c = connector(&server, true);
    let err = remediate(&c, &deploy_key(), "delete", true)
        .await
        .unwrap_err();
    match err {
        RemediationError::Connector(ConnectorError::Forbidden { needs: Some(n), .. }) => {
            assert!(n.contains("administration:write"), "{n}");
        }
        other => panic!("{other:?}"),
    }
}
