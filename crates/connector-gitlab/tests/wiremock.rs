//! The GitLab connector against wiremock: the fixture estate (group and instance-wide), paging
//! past 10,000 rows without totals, keyset paging, 429 with and without headers on a fake
//! clock, refusals, malformed bodies, off-host links, and remediation's exact requests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use roster_connector_gitlab::testing::{PLANTED_SECRETS, mount};
use roster_connector_gitlab::{GitlabConfig, GitlabConnector, INSTANCE_SCOPE};
use roster_connector_sdk::{
    Connector, ConnectorError, FakeClock, Listing, RemediationError, RemediationRequest,
    Remediator, Secret, list_all,
};
use roster_core::{Kind, Privilege, Record, Status, Usage};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The fake clock's start, 2025-01-01T00:00:00Z, as epoch seconds.
const START: i64 = 1_735_689_600;

fn connector(
    server: &MockServer,
    config: impl FnOnce(&mut GitlabConfig),
) -> (GitlabConnector, Arc<FakeClock>) {
    let clock = Arc::new(FakeClock::default());
    let mut c = GitlabConfig::new(server.uri(), &["acme"]);
    config(&mut c);
    let connector =
        GitlabConnector::with_token(c, Secret::new("glpat-test"), clock.clone()).unwrap();
    (connector, clock)
}

async fn run_all(c: &GitlabConnector) -> Vec<Record> {
    let mut out = Vec::new();
    for listing in c.plan().await.unwrap() {
        out.extend(
            list_all(c, &listing, 1000)
                .await
                .unwrap_or_else(|e| panic!("{listing}: {e}")),
        );
    }
    out
}

fn of<'a>(records: &'a [Record], resource_type: &str) -> Vec<&'a Record> {
    records
        .iter()
        .filter(|r| r.key.resource_type == resource_type)
        .collect()
}

fn rules(r: &Record) -> Vec<&str> {
    r.signals.iter().map(|s| s.rule.as_str()).collect()
}

fn token(id: u64) -> Value {
    json!({"id": id, "name": format!("t{id}"), "user_id": 100 + id, "scopes": ["read_api"],
        "access_level": 30, "active": true, "revoked": false, "created_at": "2024-01-01T00:00:00Z"})
}

#[tokio::test]
async fn group_estate_yields_every_kind_without_secrets() {
    let server = MockServer::start().await;
    mount(&server).await;
    let (c, _) = connector(&server, |_| {});
    let records = run_all(&c).await;
    let types: std::collections::BTreeSet<_> = records
        .iter()
        .map(|r| r.key.resource_type.as_str())
        .collect();
    assert_eq!(
        types,
        roster_connector_gitlab::group_resource_types()
            .into_iter()
            .collect(),
        "every group resource type yields records"
    );
    assert!(records.iter().all(|r| r.key.scope == "acme"));

    let group_token = of(&records, "gitlab.group_access_token")[0];
    assert_eq!(group_token.kind, Kind::GroupToken);
    assert_eq!(group_token.privilege, Privilege::Admin);
    assert_eq!(group_token.usage, Usage::Used);
    assert_eq!(group_token.expires_at, None);
    assert_eq!(rules(group_token), ["gitlab.bot_token.high_role"]);

    let tokens = of(&records, "gitlab.project_access_token");
    let deploy = tokens.iter().find(|r| r.key.external_id == "7/42").unwrap();
    assert_eq!(deploy.name, "acme/web: deploy");
    assert_eq!(deploy.usage, Usage::NeverUsed);
    assert_eq!(rules(deploy), ["gitlab.bot_token.high_role"]);
    let dashboards = tokens.iter().find(|r| r.key.external_id == "7/43").unwrap();
    assert_eq!(dashboards.privilege, Privilege::Read);
    assert_eq!(
        rules(dashboards),
        ["gitlab.token.api_scope", "gitlab.token.lifetime_over_max"]
    );

    let account = of(&records, "gitlab.service_account")[0];
    assert_eq!(account.kind, Kind::ServiceAccount);
    let pat = of(&records, "gitlab.personal_access_token")[0];
    assert_eq!(pat.parent.as_ref().unwrap().external_id, "90");
    assert_eq!(pat.privilege, Privilege::Write);
    assert_eq!(pat.usage, Usage::Used);

    let keys = of(&records, "gitlab.deploy_key");
    let push = keys.iter().find(|r| r.key.external_id == "7/13").unwrap();
    assert_eq!(push.privilege, Privilege::Write);
    assert_eq!(rules(push), ["gitlab.deploy_key.can_push"]);
    let read = keys.iter().find(|r| r.key.external_id == "8/14").unwrap();
    assert_eq!(read.privilege, Privilege::Read);
    assert!(read.signals.is_empty());
    assert!(push.raw.get("key").is_none(), "public key body kept");
    // Key 13 is enabled on both projects: one fingerprint, from GitLab's `fingerprint_sha256`.
    let again = keys.iter().find(|r| r.key.external_id == "8/13").unwrap();
    assert_eq!(
        push.credential_fingerprint.as_deref(),
        Some("ssh-sha256:Jrs3LD1Ji30xNLtTVf9NDCj7kkBgPBb2pjvTZ3HfIgU")
    );
    assert_eq!(again.credential_fingerprint, push.credential_fingerprint);
    assert_ne!(read.credential_fingerprint, push.credential_fingerprint);

    let deploy_tokens = of(&records, "gitlab.project_deploy_token");
    assert_eq!(deploy_tokens[0].privilege, Privilege::Write);
    assert_eq!(
        of(&records, "gitlab.group_deploy_token")[0].privilege,
        Privilege::Read
    );

    let triggers = of(&records, "gitlab.pipeline_trigger");
    let nightly = triggers
        .iter()
        .find(|r| r.key.external_id == "7/10")
        .unwrap();
    assert_eq!(nightly.owner.as_deref(), Some("bob"));
    assert_eq!(
        nightly.owner_source.as_deref(),
        Some("gitlab:trigger_owner")
    );
    assert_eq!(nightly.usage, Usage::Used);
    assert_eq!(rules(nightly), ["gitlab.trigger.owner_inactive"]);
    let docs = triggers
        .iter()
        .find(|r| r.key.external_id == "7/11")
        .unwrap();
    assert_eq!(docs.usage, Usage::NeverUsed);
    assert!(docs.signals.is_empty());

    let runner = of(&records, "gitlab.group_runner")[0];
    assert_eq!(runner.kind, Kind::Runner);
    assert_eq!(runner.usage, Usage::Used);
    assert!(
        runner.expires_at.is_some(),
        "token expiry from the detail read"
    );
    assert!(
        runner
            .privilege_detail
            .contains(&"type:group_type".to_string())
    );
    assert!(runner.privilege_detail.contains(&"group:acme".to_string()));

    let vars = of(&records, "gitlab.project_variable");
    let db = vars
        .iter()
        .find(|r| r.name == "acme/web: DB_PASSWORD")
        .unwrap();
    assert_eq!(db.kind, Kind::CiSecret);
    assert_eq!(
        rules(db),
        [
            "gitlab.variable.secret_unmasked",
            "gitlab.variable.secret_unprotected"
        ]
    );
    assert!(db.privilege_detail.contains(&"masked:false".to_string()));
    let env = vars.iter().find(|r| r.name.contains("DEPLOY_ENV")).unwrap();
    assert!(env.signals.is_empty());
    let group_var = of(&records, "gitlab.group_variable")[0];
    assert_eq!(rules(group_var), ["gitlab.variable.secret_unmasked"]);

    // No planted value anywhere in what the connector produced.
    let all = serde_json::to_string(&records).unwrap();
    for secret in PLANTED_SECRETS {
        assert!(!all.contains(secret), "{secret} reached a record");
    }
    assert!(!all.contains("\"value\""), "a `value` member survived");
}

#[tokio::test]
async fn instance_estate_uses_the_admin_api_and_keyset_paging() {
    let server = MockServer::start().await;
    mount(&server).await;
    let (c, _) = connector(&server, |c| {
        c.groups.clear();
        c.instance = true;
    });
    let records = run_all(&c).await;
    assert!(records.iter().all(|r| r.key.scope == INSTANCE_SCOPE));
    let types: std::collections::BTreeSet<_> = records
        .iter()
        .map(|r| r.key.resource_type.as_str())
        .collect();
    assert_eq!(
        types,
        roster_connector_gitlab::instance_resource_types()
            .into_iter()
            .collect()
    );
    // Keyset: the second page of projects came from the Link, and both projects were walked.
    let requests = server.received_requests().await.unwrap();
    let keyset: Vec<_> = requests
        .iter()
        .filter(|r| r.url.path() == "/api/v4/projects")
        .map(|r| r.url.query().unwrap_or_default().to_string())
        .collect();
    // Four per-project listings, each walking two keyset pages.
    assert_eq!(keyset.len(), 8, "{keyset:?}");
    assert!(
        keyset
            .iter()
            .all(|q| q.contains("pagination=keyset") && q.contains("order_by=id")),
        "{keyset:?}"
    );
    assert_eq!(
        keyset.iter().filter(|q| q.contains("id_after=7")).count(),
        4
    );
    assert_eq!(of(&records, "gitlab.project_access_token").len(), 2);

    let keys = of(&records, "gitlab.instance_deploy_key");
    let argo = keys.iter().find(|r| r.key.external_id == "13").unwrap();
    assert_eq!(argo.privilege_detail[0], "push:acme/web");
    assert_eq!(rules(argo), ["gitlab.deploy_key.can_push"]);
    let mirror = keys.iter().find(|r| r.key.external_id == "14").unwrap();
    assert_eq!(mirror.privilege, Privilege::Read);

    let runners = of(&records, "gitlab.runner");
    let shared = runners.iter().find(|r| r.key.external_id == "1").unwrap();
    assert_eq!(shared.status, Status::Disabled, "paused");
    assert!(shared.privilege_detail.contains(&"shared".to_string()));

    let var = of(&records, "gitlab.instance_variable")[0];
    assert_eq!(var.key.external_id, "SENTRY_AUTH_TOKEN");
    assert!(var.signals.is_empty(), "masked and protected");

    let pat = of(&records, "gitlab.personal_access_token")[0];
    assert_eq!(pat.privilege, Privilege::Admin, "sudo scope");
    assert_eq!(pat.expires_at, None);
    assert_eq!(pat.usage, Usage::NeverUsed);

    let all = serde_json::to_string(&records).unwrap();
    for secret in PLANTED_SECRETS {
        assert!(!all.contains(secret), "{secret} reached a record");
    }
}

#[tokio::test]
async fn pages_past_ten_thousand_rows_without_totals() {
    // Past 10,000 rows GitLab omits X-Total and X-Total-Pages; X-Next-Page and Link remain.
    let server = MockServer::start().await;
    let uri = server.uri();
    let (c, _) = connector(&server, |c| c.page_size = 2);
    let p = "/api/v4/groups/acme/access_tokens";
    Mock::given(method("GET"))
        .and(path(p))
        .and(query_param_is_missing("page"))
        .and(header("private-token", "glpat-test"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([token(1), token(2)]))
                .insert_header("x-next-page", "5001")
                .insert_header("x-page", "5000")
                .insert_header(
                    "link",
                    format!(r#"<{uri}{p}?per_page=2&page=5001>; rel="next""#).as_str(),
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    // No Link: X-Next-Page alone carries the listing on.
    Mock::given(method("GET"))
        .and(path(p))
        .and(query_param("page", "5001"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([token(3), token(4)]))
                .insert_header("x-next-page", "5002"),
        )
        .expect(1)
        .mount(&server)
        .await;
    // No paging header at all and a full page: there may be more.
    Mock::given(method("GET"))
        .and(path(p))
        .and(query_param("page", "5002"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([token(5), token(6)])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(p))
        .and(query_param("page", "5003"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([token(7)]))
                .insert_header("x-next-page", ""),
        )
        .expect(1)
        .mount(&server)
        .await;
    let records = list_all(&c, &Listing::new("gitlab.group_access_token", "acme"), 100)
        .await
        .unwrap();
    let ids: Vec<_> = records.iter().map(|r| r.key.external_id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6", "7"]);
}

async fn rate_limited_once(server: &MockServer, limited: ResponseTemplate) {
    let p = "/api/v4/groups/acme/access_tokens";
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(limited)
        .up_to_n_times(1)
        .with_priority(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([token(1)])))
        .mount(server)
        .await;
}

#[tokio::test]
async fn rate_limits_honour_ratelimit_reset_retry_after_or_back_off() {
    let listing = Listing::new("gitlab.group_access_token", "acme");
    // RateLimit-Reset (epoch seconds, GitLab's form).
    let server = MockServer::start().await;
    rate_limited_once(
        &server,
        ResponseTemplate::new(429)
            .insert_header("ratelimit-remaining", "0")
            .insert_header("ratelimit-reset", (START + 90).to_string().as_str())
            .set_body_string("Retry later"),
    )
    .await;
    let (c, clock) = connector(&server, |_| {});
    assert_eq!(list_all(&c, &listing, 10).await.unwrap().len(), 1);
    assert_eq!(clock.slept(), vec![Duration::from_secs(90)]);

    // Retry-After wins.
    let server = MockServer::start().await;
    rate_limited_once(
        &server,
        ResponseTemplate::new(429)
            .insert_header("retry-after", "7")
            .insert_header("ratelimit-reset", (START + 90).to_string().as_str()),
    )
    .await;
    let (c, clock) = connector(&server, |_| {});
    assert_eq!(list_all(&c, &listing, 10).await.unwrap().len(), 1);
    assert_eq!(clock.slept(), vec![Duration::from_secs(7)]);

    // Neither: back off (a minute, doubling).
    let server = MockServer::start().await;
    rate_limited_once(&server, ResponseTemplate::new(429)).await;
    let (c, clock) = connector(&server, |_| {});
    assert_eq!(list_all(&c, &listing, 10).await.unwrap().len(), 1);
    assert_eq!(clock.slept(), vec![Duration::from_secs(60)]);
}

#[tokio::test]
async fn forbidden_group_is_not_seen_and_others_still_list() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/secret/access_tokens"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "403 Forbidden"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/acme/access_tokens"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([token(1)])))
        .mount(&server)
        .await;
    let (c, _) = connector(&server, |c| c.groups.push("secret".into()));
    let err = list_all(&c, &Listing::new("gitlab.group_access_token", "secret"), 10)
        .await
        .unwrap_err();
    match &err {
        ConnectorError::Forbidden { needs, .. } => {
            assert!(needs.as_deref().unwrap().contains("Owner"), "{err}")
        }
        other => panic!("{other}"),
    }
    let ok = list_all(&c, &Listing::new("gitlab.group_access_token", "acme"), 10)
        .await
        .unwrap();
    assert_eq!(ok.len(), 1);
}

#[tokio::test]
async fn malformed_json_and_foreign_links_and_loops_are_errors() {
    let server = MockServer::start().await;
    let uri = server.uri();
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/acme/access_tokens"))
        .respond_with(ResponseTemplate::new(200).set_body_string("[{\"id\": 1, \"name\":"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/acme/deploy_tokens"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 1, "name": "x", "scopes": []}]))
                .insert_header(
                    "link",
                    r#"<https://evil.example.com/api/v4/groups/acme/deploy_tokens?page=2>; rel="next""#,
                ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/acme/variables"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"key": "A", "value": "rosterPlantedCiValue7f3a9c"}]))
                .insert_header(
                    "link",
                    format!(r#"<{uri}/api/v4/groups/acme/variables?per_page=100>; rel="next""#)
                        .as_str(),
                ),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/acme/service_accounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"message": "not a list"})))
        .mount(&server)
        .await;
    let (c, _) = connector(&server, |_| {});
    let l = |t: &str| Listing::new(t, "acme");
    let err = list_all(&c, &l("gitlab.group_access_token"), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Malformed { .. }), "{err}");
    let err = list_all(&c, &l("gitlab.group_deploy_token"), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::ForeignHost { .. }), "{err}");
    let err = list_all(&c, &l("gitlab.group_variable"), 10)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::PaginationLoop { .. }),
        "{err}"
    );
    assert!(!err.to_string().contains("rosterPlanted"), "{err}");
    let err = list_all(&c, &l("gitlab.service_account"), 10)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Malformed { .. }), "{err}");
    // A listing that is not the plan's is refused, not guessed at.
    assert!(
        list_all(&c, &Listing::new("gitlab.runner", "acme"), 10)
            .await
            .is_err()
    );
    assert!(
        list_all(&c, &Listing::new("gitlab.group_runner", "other"), 10)
            .await
            .is_err()
    );
}

/// A server that ignores `page`: the same full page every time, with a `Link` one page on.
fn ignores_page(body: Value) -> impl Fn(&Request) -> ResponseTemplate {
    move |r: &Request| {
        let page: u64 = r
            .url
            .query_pairs()
            .find(|(k, _)| k == "page")
            .map_or(1, |(_, v)| v.parse().unwrap());
        let mut next = r.url.clone();
        next.query_pairs_mut()
            .clear()
            .append_pair("per_page", "2")
            .append_pair("page", &(page + 1).to_string());
        ResponseTemplate::new(200)
            .set_body_json(body.clone())
            .insert_header(
                "link",
                format!(r#"<{}?{}>; rel="next""#, next.path(), next.query().unwrap()).as_str(),
            )
    }
}

fn is_repeat(err: &ConnectorError) -> bool {
    matches!(err, ConnectorError::PaginationLoop { listing, detail }
        if listing.ends_with(" in acme") && detail.contains("repeated the previous page"))
}

/// Page 2 with page 1's items is a loop at the second request, not at `max_pages`: with a
/// `Link`, with no paging header at all (a full page: ask for the next number), for the
/// projects a walk goes through and for one project's own pages.
#[tokio::test]
async fn a_server_that_ignores_the_page_parameter_is_stopped_at_the_second_request() {
    let server = MockServer::start().await;
    let (c, _) = connector(&server, |c| c.page_size = 2);
    let listing = |t: &str| Listing::new(t, "acme");
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/acme/access_tokens"))
        .respond_with(ignores_page(json!([token(1), token(2)])))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/acme/deploy_tokens"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "name": "a", "scopes": []}, {"id": 2, "name": "b", "scopes": []}
        ])))
        .expect(2)
        .mount(&server)
        .await;
    for t in ["gitlab.group_access_token", "gitlab.group_deploy_token"] {
        let err = list_all(&c, &listing(t), 1000).await.unwrap_err();
        assert!(is_repeat(&err), "{t}: {err}");
    }
    server.verify().await;

    // The walk's projects repeat (each project, asked once, has no tokens).
    server.reset().await;
    let project = |id: u64| json!({"id": id, "path_with_namespace": format!("acme/p{id}")});
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/acme/projects"))
        .respond_with(ignores_page(json!([project(1), project(2)])))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(
            "^/api/v4/projects/[12]/access_tokens$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(2)
        .mount(&server)
        .await;
    let err = list_all(&c, &listing("gitlab.project_access_token"), 1000)
        .await
        .unwrap_err();
    assert!(is_repeat(&err), "{err}");
    server.verify().await;

    // One project's tokens repeat.
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/acme/projects"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([project(1)])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v4/projects/1/access_tokens"))
        .respond_with(ignores_page(json!([token(1), token(2)])))
        .expect(2)
        .mount(&server)
        .await;
    let err = list_all(&c, &listing("gitlab.project_access_token"), 1000)
        .await
        .unwrap_err();
    assert!(is_repeat(&err), "{err}");
    server.verify().await;
}

fn request<'a>(record: &'a Record, action: &'a str, execute: bool) -> RemediationRequest<'a> {
    RemediationRequest {
        record,
        action,
        execute,
        now: chrono::Utc::now(),
        previous_stage_at: None,
    }
}

async fn deletes(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .map(|r| r.url.path().to_string())
        .collect()
}

#[tokio::test]
async fn remediation_dry_run_then_run_issue_exactly_the_documented_requests() {
    let server = MockServer::start().await;
    mount(&server).await;
    let (c, _) = connector(&server, |_| {});
    let records = run_all(&c).await;
    let token = *of(&records, "gitlab.project_access_token")
        .iter()
        .find(|r| r.key.external_id == "7/42")
        .unwrap();
    let trigger = *of(&records, "gitlab.pipeline_trigger")
        .iter()
        .find(|r| r.key.external_id == "7/10")
        .unwrap();
    assert_eq!(c.actions("gitlab.project_access_token"), ["revoke"]);
    assert_eq!(c.actions("gitlab.pipeline_trigger"), ["delete"]);
    // The same remediator through the connector, as the app's registry asks for it.
    let as_connector: &dyn Connector = &c;
    assert_eq!(
        as_connector
            .remediator()
            .map(|r| r.actions("gitlab.pipeline_trigger")),
        Some(&["delete"][..])
    );
    assert!(c.actions("gitlab.project_variable").is_empty());

    let dry = c.remediate(&request(token, "revoke", false)).await.unwrap();
    assert!(!dry.executed);
    assert_eq!(dry.calls, ["DELETE /projects/7/access_tokens/42"]);
    assert!(dry.summary.starts_with("would revoke"), "{}", dry.summary);
    assert!(
        deletes(&server).await.is_empty(),
        "a dry run changed something"
    );

    let off = c
        .remediate(&request(token, "revoke", true))
        .await
        .unwrap_err();
    assert!(matches!(off, RemediationError::Disabled(_)), "{off}");
    let wrong = c
        .remediate(&request(token, "delete", false))
        .await
        .unwrap_err();
    assert!(wrong.to_string().contains("offered: revoke"), "{wrong}");

    let (c, _) = connector(&server, |c| c.remediation.enabled = true);
    let done = c.remediate(&request(token, "revoke", true)).await.unwrap();
    assert!(done.executed);
    assert_eq!(done.calls, ["DELETE /projects/7/access_tokens/42"]);
    let done = c
        .remediate(&request(trigger, "delete", true))
        .await
        .unwrap();
    assert_eq!(done.calls, ["DELETE /projects/7/triggers/10"]);
    assert!(!done.summary.contains("rosterPlanted"), "{}", done.summary);
    assert_eq!(
        deletes(&server).await,
        [
            "/api/v4/projects/7/access_tokens/42",
            "/api/v4/projects/7/triggers/10"
        ]
    );
}

#[tokio::test]
async fn remediation_leaves_gone_or_revoked_tokens_alone() {
    let server = MockServer::start().await;
    mount(&server).await;
    let (c, _) = connector(&server, |c| c.remediation.enabled = true);
    let records = run_all(&c).await;
    let group_token = of(&records, "gitlab.group_access_token")[0];
    // No live route for group token 300: GitLab answers 404, nothing is deleted.
    let outcome = c
        .remediate(&request(group_token, "revoke", true))
        .await
        .unwrap();
    assert!(!outcome.executed && outcome.calls.is_empty(), "{outcome:?}");
    Mock::given(method("GET"))
        .and(path("/api/v4/groups/acme/deploy_tokens/60"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": 60, "name": "registry-pull", "revoked": true, "expired": false, "scopes": []}),
        ))
        .mount(&server)
        .await;
    let deploy = of(&records, "gitlab.group_deploy_token")[0];
    let outcome = c.remediate(&request(deploy, "revoke", true)).await.unwrap();
    assert!(outcome.summary.contains("already revoked"), "{outcome:?}");
    assert!(deletes(&server).await.is_empty());
}
