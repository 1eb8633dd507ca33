//! The GitHub connector against wiremock: paging, both rate limits on a fake clock, off-host
//! links, repositories deleted mid-sync, refusals, malformed bodies and GitHub App auth.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use roster_connector_github::{Credentials, GithubConfig, GithubConnector};
use roster_connector_sdk::{Connector, ConnectorError, FakeClock, Listing, Secret, list_all};
use roster_core::{Kind, Privilege, Record, Status, Usage};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// The fake clock's start, 2025-01-01T00:00:00Z, as epoch seconds.
const START: i64 = 1_735_689_600;

struct Harness {
    server: MockServer,
    clock: Arc<FakeClock>,
    connector: GithubConnector,
}

async fn harness(page_size: u32) -> Harness {
    let server = MockServer::start().await;
    let clock = Arc::new(FakeClock::default());
    let mut config = GithubConfig::new(server.uri(), &["acme"]);
    config.page_size = page_size;
    let connector = GithubConnector::with_credentials(
        config,
        Credentials::Token(Secret::new("ghp_test")),
        clock.clone(),
    )
    .unwrap();
    Harness {
        server,
        clock,
        connector,
    }
}

/// Every page of a listing; checks that each record belongs to the listing.
async fn drain(c: &GithubConnector, resource_type: &str) -> Result<Vec<Record>, ConnectorError> {
    list_all(c, &Listing::new(resource_type, "acme"), 1000).await
}

fn link(url: &str) -> String {
    format!(r#"<{url}>; rel="next", <{url}>; rel="last""#)
}

fn hook(id: u64) -> Value {
    json!({"id": id, "name": "web", "active": true, "events": ["push"],
        "config": {"url": format!("https://h{id}.example.com/"), "insecure_ssl": "0", "secret": "********"},
        "created_at": "2011-09-06T17:26:27Z"})
}

async fn requests_to(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

#[tokio::test]
async fn plan_lists_every_resource_type_per_org() {
    let h = harness(100).await;
    let plan = h.connector.plan().await.unwrap();
    assert_eq!(plan.len(), roster_connector_github::resource_types().len());
    assert!(plan.iter().all(|l| l.scope == "acme"));
    assert!(plan.contains(&Listing::new("github.deploy_key", "acme")));
}

#[tokio::test]
async fn follows_link_pages_with_github_headers() {
    let h = harness(2).await;
    let uri = h.server.uri();
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .and(query_param("per_page", "2"))
        .and(query_param_is_missing("page"))
        .and(header("x-github-api-version", "2022-11-28"))
        .and(header("authorization", "Bearer ghp_test"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([hook(1), hook(2)]))
                .insert_header(
                    "link",
                    link(&format!("{uri}/orgs/acme/hooks?per_page=2&page=2")).as_str(),
                ),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([hook(3), hook(4)]))
                .insert_header(
                    "link",
                    link(&format!("{uri}/orgs/acme/hooks?per_page=2&page=3")).as_str(),
                ),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .and(query_param("page", "3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([hook(5)])))
        .expect(1)
        .mount(&h.server)
        .await;
    let records = drain(&h.connector, "github.webhook").await.unwrap();
    let ids: Vec<_> = records.iter().map(|r| r.key.external_id.as_str()).collect();
    assert_eq!(ids, vec!["1", "2", "3", "4", "5"]);
    assert!(records.iter().all(|r| r.kind == Kind::Webhook));
    let first = &h.server.received_requests().await.unwrap()[0];
    let ua = first.headers["user-agent"].to_str().unwrap();
    assert!(ua.starts_with("roster/"), "{ua}");
    assert_eq!(
        first.headers["accept"].to_str().unwrap(),
        "application/vnd.github+json, application/json;q=0.9"
    );
}

#[tokio::test]
async fn primary_rate_limit_waits_for_the_reset() {
    let h = harness(100).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", (START + 120).to_string().as_str())
                .set_body_json(json!({"message": "API rate limit exceeded for installation."})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([hook(1)]))
                .insert_header("x-ratelimit-remaining", "4999"),
        )
        .mount(&h.server)
        .await;
    let records = drain(&h.connector, "github.webhook").await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(h.clock.slept(), vec![Duration::from_secs(120)]);
    assert_eq!(requests_to(&h.server, "/orgs/acme/hooks").await, 2);
}

#[tokio::test]
async fn exhausted_window_on_a_success_holds_the_next_request() {
    let h = harness(1).await;
    let uri = h.server.uri();
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([hook(1)]))
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", (START + 600).to_string().as_str())
                .insert_header(
                    "link",
                    link(&format!("{uri}/orgs/acme/hooks?per_page=1&page=2")).as_str(),
                ),
        )
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([hook(2)])))
        .mount(&h.server)
        .await;
    let records = drain(&h.connector, "github.webhook").await.unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(h.clock.slept(), vec![Duration::from_secs(600)]);
}

#[tokio::test]
async fn secondary_rate_limit_honours_retry_after() {
    let h = harness(100).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/actions/runners"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("retry-after", "30")
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit."})),
        )
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/actions/runners"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"total_count": 1, "runners": [{"id": 23, "name": "r1", "os": "linux",
                "status": "online", "busy": false, "labels": []}]}),
        ))
        .mount(&h.server)
        .await;
    let records = drain(&h.connector, "github.org_runner").await.unwrap();
    assert_eq!(records[0].kind, Kind::Runner);
    assert_eq!(
        h.clock.slept(),
        vec![Duration::from_secs(30), Duration::from_secs(30)]
    );
}

#[tokio::test]
async fn secondary_rate_limit_without_retry_after_backs_off_from_a_minute() {
    let h = harness(100).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit."})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&h.server)
        .await;
    assert!(
        drain(&h.connector, "github.webhook")
            .await
            .unwrap()
            .is_empty()
    );
    let slept = h.clock.slept();
    assert_eq!(slept.len(), 1);
    assert!(slept[0] >= Duration::from_secs(60), "{slept:?}");
}

#[tokio::test]
async fn a_link_to_another_host_is_rebased_and_the_other_host_gets_nothing() {
    let h = harness(1).await;
    let foreign = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([hook(666)])))
        .mount(&foreign)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([hook(1)]))
                .insert_header(
                    "link",
                    link(&format!(
                        "{}/orgs/acme/hooks?per_page=1&page=2",
                        foreign.uri()
                    ))
                    .as_str(),
                ),
        )
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .and(query_param("page", "2"))
        .and(header("authorization", "Bearer ghp_test"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([hook(2)])))
        .expect(1)
        .mount(&h.server)
        .await;
    let records = drain(&h.connector, "github.webhook").await.unwrap();
    let ids: Vec<_> = records.iter().map(|r| r.key.external_id.as_str()).collect();
    assert_eq!(ids, vec!["1", "2"]);
    assert_eq!(foreign.received_requests().await.unwrap().len(), 0);
}

#[tokio::test]
async fn a_link_naming_its_own_page_is_a_loop() {
    let h = harness(1).await;
    let uri = h.server.uri();
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([hook(1)]))
                .insert_header(
                    "link",
                    link(&format!("{uri}/orgs/acme/hooks?per_page=1")).as_str(),
                ),
        )
        .mount(&h.server)
        .await;
    let err = drain(&h.connector, "github.webhook").await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::PaginationLoop { .. }),
        "{err}"
    );
}

/// A server that ignores `page`: the same full page every time, with a next link one page on.
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
            .insert_header("link", format!(r#"<{next}>; rel="next""#).as_str())
    }
}

fn is_repeat(err: &ConnectorError) -> bool {
    matches!(err, ConnectorError::PaginationLoop { listing, detail }
        if listing.ends_with(" in acme") && detail.contains("repeated the previous page"))
}

/// Page 2 with page 1's items is a loop at the second request, not at `max_pages`: for an
/// org listing, the repo walk itself and a repository's own pages.
#[tokio::test]
async fn a_server_that_ignores_the_page_parameter_is_stopped_at_the_second_request() {
    let h = harness(2).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(ignores_page(json!([hook(1), hook(2)])))
        .expect(2)
        .mount(&h.server)
        .await;
    let err = drain(&h.connector, "github.webhook").await.unwrap_err();
    assert!(is_repeat(&err), "{err}");
    h.server.verify().await;

    // The repositories listing repeats (each repository, asked once, answers no keys).
    let h = harness(2).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/repos"))
        .respond_with(ignores_page(json!([
            repo("web", "private"),
            repo("api", "private")
        ])))
        .expect(2)
        .mount(&h.server)
        .await;
    for name in ["web", "api"] {
        Mock::given(method("GET"))
            .and(path(format!("/repos/acme/{name}/keys")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .expect(1)
            .mount(&h.server)
            .await;
    }
    let err = drain(&h.connector, "github.deploy_key").await.unwrap_err();
    assert!(is_repeat(&err), "{err}");
    h.server.verify().await;

    // One repository's keys repeat.
    let h = harness(2).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/repos"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([repo("web", "private")])))
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/web/keys"))
        .respond_with(ignores_page(json!([key(1, true), key(2, true)])))
        .expect(2)
        .mount(&h.server)
        .await;
    let err = drain(&h.connector, "github.deploy_key").await.unwrap_err();
    assert!(is_repeat(&err), "{err}");
    h.server.verify().await;
}

fn repo(name: &str, visibility: &str) -> Value {
    json!({"id": 1, "name": name, "full_name": format!("acme/{name}"),
        "private": visibility != "public", "visibility": visibility})
}

fn key(id: u64, read_only: bool) -> Value {
    json!({"id": id, "key": "ssh-ed25519 AAAA", "title": format!("key{id}"), "verified": true,
        "created_at": "2024-01-02T03:04:05Z", "read_only": read_only, "added_by": "octocat",
        "last_used": null, "enabled": true})
}

/// Repos over two pages: `web` (keys over two pages), `gone` (deleted mid-sync), `api`, `docs`.
async fn mount_repos(server: &MockServer) {
    let uri = server.uri();
    Mock::given(method("GET"))
        .and(path("/orgs/acme/repos"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([repo("web", "private"), repo("gone", "private")]))
                .insert_header(
                    "link",
                    link(&format!("{uri}/orgs/acme/repos?per_page=2&page=2")).as_str(),
                ),
        )
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/repos"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([repo("api", "internal"), repo("docs", "public")])),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn deploy_keys_walk_every_repository_and_skip_one_deleted_mid_sync() {
    let h = harness(2).await;
    let uri = h.server.uri();
    mount_repos(&h.server).await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/web/keys"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([key(1, true), key(2, false)]))
                .insert_header(
                    "link",
                    link(&format!("{uri}/repos/acme/web/keys?per_page=2&page=2")).as_str(),
                ),
        )
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/web/keys"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([key(3, true)])))
        .mount(&h.server)
        .await;
    for gone in ["/repos/acme/gone/keys", "/repos/acme/gone"] {
        Mock::given(method("GET"))
            .and(path(gone))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
            .expect(1)
            .mount(&h.server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/repos/acme/api/keys"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/docs/keys"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([key(4, false)])))
        .mount(&h.server)
        .await;

    let records = drain(&h.connector, "github.deploy_key").await.unwrap();
    let ids: Vec<_> = records.iter().map(|r| r.key.external_id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["acme/web/1", "acme/web/2", "acme/web/3", "acme/docs/4"]
    );
    let write: Vec<_> = records
        .iter()
        .filter(|r| r.privilege == Privilege::Write)
        .map(|r| r.signals[0].rule.as_str())
        .collect();
    assert_eq!(write, vec!["github.deploy_key.write"; 2]);
    assert!(records.iter().all(|r| r.usage == Usage::NeverUsed
        && r.owner.as_deref() == Some("octocat")
        && r.kind == Kind::DeployKey));
}

#[tokio::test]
async fn a_404_on_a_repository_that_still_exists_fails_the_listing_as_forbidden() {
    let h = harness(100).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/repos"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([repo("web", "private")])))
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/web/keys"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/web"))
        .respond_with(ResponseTemplate::new(200).set_body_json(repo("web", "private")))
        .mount(&h.server)
        .await;
    let err = drain(&h.connector, "github.deploy_key").await.unwrap_err();
    match err {
        ConnectorError::Forbidden { needs, .. } => {
            assert!(needs.unwrap().contains("administration:read"));
        }
        other => panic!("expected Forbidden, got {other}"),
    }
}

#[tokio::test]
async fn runners_of_public_repositories_are_signalled() {
    let h = harness(100).await;
    mount_repos(&h.server).await;
    for (name, n) in [("web", 0), ("gone", 0), ("api", 1), ("docs", 1)] {
        let runners: Vec<Value> = (0..n)
            .map(|i| json!({"id": 100 + i, "name": format!("{name}-runner"), "os": "linux",
                "status": "online", "busy": false, "labels": [{"id": 1, "name": "self-hosted", "type": "read-only"}]}))
            .collect();
        Mock::given(method("GET"))
            .and(path(format!("/repos/acme/{name}/actions/runners")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"total_count": runners.len(), "runners": runners})),
            )
            .mount(&h.server)
            .await;
    }
    let records = drain(&h.connector, "github.repo_runner").await.unwrap();
    assert_eq!(records.len(), 2);
    let public: Vec<_> = records
        .iter()
        .filter(|r| !r.signals.is_empty())
        .map(|r| r.key.external_id.as_str())
        .collect();
    assert_eq!(public, vec!["acme/docs/100"]);
}

#[tokio::test]
async fn malformed_json_is_a_malformed_error() {
    let h = harness(100).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/installations"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(r#"{"total_count": 1, "installations": [{"id": 1,"#),
        )
        .mount(&h.server)
        .await;
    let err = drain(&h.connector, "github.app_installation")
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Malformed { .. }), "{err}");
    // Valid JSON of the wrong shape is malformed too, not an empty listing.
    let h = harness(100).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/installations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"total_count": 1})))
        .mount(&h.server)
        .await;
    let err = drain(&h.connector, "github.app_installation")
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Malformed { .. }), "{err}");
}

#[tokio::test]
async fn refusals_are_forbidden_with_the_permission_needed() {
    let h = harness(100).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-accepted-github-permissions", "organization_hooks=read")
                .set_body_json(json!({"message": "Resource not accessible by integration"})),
        )
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/personal-access-tokens"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(
                json!({"message": "Resource not accessible by personal access token"}),
            ),
        )
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/credential-authorizations"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"message": "Not Found"})))
        .mount(&h.server)
        .await;
    let needs = |e: ConnectorError| match e {
        ConnectorError::Forbidden { needs, .. } => needs.unwrap(),
        other => panic!("expected Forbidden, got {other}"),
    };
    let e = drain(&h.connector, "github.webhook").await.unwrap_err();
    assert_eq!(needs(e), "organization_hooks=read");
    let e = drain(&h.connector, "github.fine_grained_pat")
        .await
        .unwrap_err();
    assert!(needs(e).contains("GitHub App"));
    let e = drain(&h.connector, "github.credential_authorization")
        .await
        .unwrap_err();
    assert!(needs(e).contains("read:org"));
    // A 401 stays a 401: the credentials are wrong, not short of a permission.
    Mock::given(method("GET"))
        .and(path("/orgs/acme/actions/secrets"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&h.server)
        .await;
    let e = drain(&h.connector, "github.org_actions_secret")
        .await
        .unwrap_err();
    assert!(matches!(e, ConnectorError::Unauthorized { .. }), "{e}");
}

#[tokio::test]
async fn app_installations_pats_and_authorizations_map_githubs_fields() {
    let h = harness(100).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/installations"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"total_count": 1,
            "installations": [{"id": 25381, "app_id": 2218, "app_slug": "octoapp",
                "repository_selection": "all", "target_type": "Organization",
                "permissions": {"deployments": "write", "metadata": "read"},
                "created_at": "2017-05-16T08:47:09.000-07:00", "suspended_at": null}]})),
        )
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/personal-access-tokens"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1,
            "owner": {"login": "octocat"}, "repository_selection": "selected",
            "permissions": {"repository": {"metadata": "read"}},
            "access_granted_at": "2023-05-16T08:47:09Z", "token_id": 9, "token_name": "deploy",
            "token_expired": false, "token_expires_at": null,
            "token_last_used_at": "2024-06-01T00:00:00Z"}])))
        .mount(&h.server)
        .await;
    let apps = drain(&h.connector, "github.app_installation")
        .await
        .unwrap();
    assert_eq!(apps[0].name, "octoapp");
    assert_eq!(apps[0].signals[0].rule, "github.app.all_repos_write");
    assert_eq!(apps[0].status, Status::Active);
    let pats = drain(&h.connector, "github.fine_grained_pat")
        .await
        .unwrap();
    assert_eq!(pats[0].usage, Usage::Used);
    assert_eq!(pats[0].privilege, Privilege::Read);
    assert!(pats[0].expires_at.is_none());
}

/// A fresh RSA key as PKCS#1 PEM in a temp file, with its public half.
fn app_key() -> (tempfile::NamedTempFile, rsa::RsaPublicKey) {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let pem = private.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, pem.as_bytes()).unwrap();
    (file, private.to_public_key())
}

fn verify_jwt(request: &Request, public: &rsa::RsaPublicKey) -> Value {
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::sha2::Sha256;
    use rsa::signature::Verifier;
    let auth = request.headers["authorization"].to_str().unwrap();
    let jwt = auth.strip_prefix("Bearer ").unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    let sig = Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
    VerifyingKey::<Sha256>::new(public.clone())
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
        .unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

#[tokio::test]
async fn github_app_auth_exchanges_a_jwt_and_refreshes_before_expiry() {
    let server = MockServer::start().await;
    let clock = Arc::new(FakeClock::default());
    let (key_file, public) = app_key();
    let mut config = GithubConfig::new(server.uri(), &["acme"]);
    config.app_id = Some("2218".into());
    config.installation_id = Some("42".into());
    config.private_key_file = Some(key_file.path().to_path_buf());
    let credentials = config.credentials(|_| None).unwrap();
    assert!(!format!("{credentials:?}").contains("PRIVATE KEY"));
    let connector = GithubConnector::with_credentials(config, credentials, clock.clone()).unwrap();

    let expires = |secs: i64| {
        chrono::DateTime::from_timestamp(secs, 0)
            .unwrap()
            .to_rfc3339()
    };
    Mock::given(method("POST"))
        .and(path("/app/installations/42/access_tokens"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({"token": "ghs_first", "expires_at": expires(START + 3600),
                "permissions": {"organization_hooks": "read"}}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/app/installations/42/access_tokens"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"token": "ghs_second", "expires_at": expires(START + 7200)})),
        )
        .mount(&server)
        .await;
    for token in ["ghs_first", "ghs_second"] {
        Mock::given(method("GET"))
            .and(path("/orgs/acme/hooks"))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([hook(1)])))
            .mount(&server)
            .await;
    }

    assert_eq!(drain(&connector, "github.webhook").await.unwrap().len(), 1);
    assert_eq!(drain(&connector, "github.webhook").await.unwrap().len(), 1);
    let posts = |reqs: &[Request]| {
        reqs.iter()
            .filter(|r| r.method.as_str() == "POST")
            .cloned()
            .collect::<Vec<_>>()
    };
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(posts(&reqs).len(), 1, "the token is reused while fresh");
    let claims = verify_jwt(&posts(&reqs)[0], &public);
    assert_eq!(claims["iss"], "2218");
    assert_eq!(claims["iat"], START - 60);
    assert!(claims["exp"].as_i64().unwrap() - START <= 600);

    // 56 minutes later the token has less than five minutes left: a new one is minted.
    clock.advance(Duration::from_secs(56 * 60));
    assert_eq!(drain(&connector, "github.webhook").await.unwrap().len(), 1);
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(posts(&reqs).len(), 2);
    let last_get = reqs
        .iter()
        .rev()
        .find(|r| r.method.as_str() == "GET")
        .unwrap();
    assert_eq!(
        last_get.headers["authorization"].to_str().unwrap(),
        "Bearer ghs_second"
    );
    let claims = verify_jwt(&posts(&reqs)[1], &public);
    assert_eq!(claims["iat"], START + 56 * 60 - 60);
}

#[tokio::test]
async fn a_revoked_installation_token_is_replaced_once() {
    let server = MockServer::start().await;
    let (key_file, _) = app_key();
    let mut config = GithubConfig::new(server.uri(), &["acme"]);
    config.app_id = Some("1".into());
    config.installation_id = Some("7".into());
    config.private_key_file = Some(key_file.path().to_path_buf());
    let credentials = config.credentials(|_| None).unwrap();
    let connector =
        GithubConnector::with_credentials(config, credentials, Arc::new(FakeClock::default()))
            .unwrap();
    Mock::given(method("POST"))
        .and(path("/app/installations/7/access_tokens"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"token": "ghs_x", "expires_at": "2025-01-01T01:00:00Z"})),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let err = drain(&connector, "github.webhook").await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unauthorized { .. }), "{err}");
}
