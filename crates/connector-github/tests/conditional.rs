//! Conditional requests on re-sync, against wiremock: the second sync of an unchanged org sends
//! `If-None-Match` for every listing page, is answered 304 and gives exactly the records of the
//! first; a changed page (200, new ETag) is picked up; a 304 for which nothing is cached is
//! asked again rather than read as an empty listing. Also runner groups: paging without a
//! `Link`, their runners, and org runners linked to their group.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use roster_connector_github::{Credentials, GithubConfig, GithubConnector};
use roster_connector_sdk::{Connector, ConnectorError, FakeClock, Listing, Secret, list_all};
use roster_core::Record;
use serde_json::{Value, json};
use wiremock::matchers::{header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn connector(server: &MockServer, page_size: u32) -> GithubConnector {
    let mut config = GithubConfig::new(server.uri(), &["acme"]);
    config.page_size = page_size;
    GithubConnector::with_credentials(
        config,
        Credentials::Token(Secret::new("ghp_test")),
        Arc::new(FakeClock::default()),
    )
    .unwrap()
}

/// What the sync engine does between runs: the first connector's validators, saved and
/// restored into the next run's connector.
fn carry_over(from: &GithubConnector, to: &GithubConnector) {
    let saved = from.validator_cache().unwrap().entries_in_use();
    to.validator_cache().unwrap().restore(saved);
}

async fn hooks(c: &GithubConnector) -> Result<Vec<Record>, ConnectorError> {
    list_all(c, &Listing::new("github.webhook", "acme"), 100).await
}

fn hook(id: u64, active: bool) -> Value {
    json!({"id": id, "name": "web", "active": active, "events": ["push"],
        "config": {"url": format!("https://h{id}.example.com/"), "insecure_ssl": "0", "secret": "********"},
        "created_at": "2011-09-06T17:26:27Z"})
}

fn page(body: Value, etag: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(body)
        .insert_header("etag", etag)
}

/// Two pages of hooks, each with its ETag; page 1 links to page 2.
async fn mount_two_pages(server: &MockServer) {
    let next = format!(
        r#"<{}/orgs/acme/hooks?per_page=2&page=2>; rel="next""#,
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .and(query_param("page", "2"))
        .respond_with(page(json!([hook(3, true)]), r#"W/"p2""#))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(
            page(json!([hook(1, true), hook(2, true)]), r#"W/"p1""#)
                .insert_header("link", next.as_str()),
        )
        .expect(1)
        .mount(server)
        .await;
}

/// Any GET that carried no validator: fails the test through `expect(0)`.
async fn refuse_unconditional(server: &MockServer) {
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .with_priority(10)
        .mount(server)
        .await;
}

#[tokio::test]
async fn an_unchanged_org_is_answered_304_page_by_page_with_the_same_records() {
    let server = MockServer::start().await;
    mount_two_pages(&server).await;
    let first_run = connector(&server, 2);
    let first = hooks(&first_run).await.unwrap();
    assert_eq!(first.len(), 3);
    assert_eq!(first_run.validator_cache().unwrap().not_modified(), 0);
    server.verify().await;

    server.reset().await;
    // Page 1 is not modified; its cached Link still has to lead to page 2, which is asked
    // for with its own validator.
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .and(query_param("page", "2"))
        .and(header("if-none-match", r#"W/"p2""#))
        .respond_with(ResponseTemplate::new(304).insert_header("etag", r#"W/"p2""#))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .and(header("if-none-match", r#"W/"p1""#))
        .respond_with(ResponseTemplate::new(304).insert_header("etag", r#"W/"p1""#))
        .expect(1)
        .mount(&server)
        .await;
    refuse_unconditional(&server).await;
    let second_run = connector(&server, 2);
    carry_over(&first_run, &second_run);
    let second = hooks(&second_run).await.unwrap();
    assert_eq!(second, first, "a 304 must give the records of a full fetch");
    assert_eq!(second_run.validator_cache().unwrap().not_modified(), 2);
    // Both validators stay for the run after.
    assert_eq!(
        second_run.validator_cache().unwrap().entries_in_use().len(),
        2
    );
}

#[tokio::test]
async fn a_changed_page_is_picked_up_and_its_new_etag_kept() {
    let server = MockServer::start().await;
    mount_two_pages(&server).await;
    let first_run = connector(&server, 2);
    let first = hooks(&first_run).await.unwrap();

    server.reset().await;
    let next = format!(
        r#"<{}/orgs/acme/hooks?per_page=2&page=2>; rel="next""#,
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .and(query_param("page", "2"))
        .and(header("if-none-match", r#"W/"p2""#))
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&server)
        .await;
    // Hook 2 was deactivated: page 1 changed.
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .and(header("if-none-match", r#"W/"p1""#))
        .respond_with(
            page(json!([hook(1, true), hook(2, false)]), r#"W/"p1b""#)
                .insert_header("link", next.as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    refuse_unconditional(&server).await;
    let second_run = connector(&server, 2);
    carry_over(&first_run, &second_run);
    let second = hooks(&second_run).await.unwrap();
    assert_eq!(second.len(), 3);
    let active = |records: &[Record], id: &str| {
        records
            .iter()
            .find(|r| r.key.external_id == id)
            .unwrap()
            .raw["active"]
            .clone()
    };
    assert_eq!(active(&first, "2"), json!(true));
    assert_eq!(active(&second, "2"), json!(false));
    assert_eq!(
        active(&second, "3"),
        json!(true),
        "page 2 came from the cache"
    );
    let cache = second_run.validator_cache().unwrap();
    assert_eq!(cache.not_modified(), 1);
    let etags: Vec<String> = cache.entries_in_use().into_iter().map(|e| e.etag).collect();
    assert!(etags.contains(&r#"W/"p1b""#.to_string()), "{etags:?}");
}

#[tokio::test]
async fn a_304_without_a_cached_body_is_asked_again_not_read_as_empty() {
    let server = MockServer::start().await;
    // A confused proxy answers 304 to a request that named no ETag, once.
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(ResponseTemplate::new(304))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(page(json!([hook(1, true)]), r#""v1""#))
        .expect(1)
        .mount(&server)
        .await;
    let c = connector(&server, 100);
    let records = hooks(&c).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(c.validator_cache().unwrap().not_modified(), 0);
    let requests = server.received_requests().await.unwrap();
    assert!(
        requests
            .iter()
            .all(|r| !r.headers.contains_key("if-none-match")),
        "nothing was cached, so no validator may be sent"
    );
}

#[tokio::test]
async fn a_304_that_persists_without_a_cached_body_fails_the_listing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(ResponseTemplate::new(304))
        .expect(2)
        .mount(&server)
        .await;
    let c = connector(&server, 100);
    let err = hooks(&c).await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Status { status: 304, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn conditional_requests_can_be_switched_off() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .and(header_exists("if-none-match"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/hooks"))
        .respond_with(page(json!([hook(1, true)]), r#""v1""#))
        .expect(2)
        .mount(&server)
        .await;
    let mut config = GithubConfig::new(server.uri(), &["acme"]);
    config.conditional_requests = false;
    let c = GithubConnector::with_credentials(
        config,
        Credentials::Token(Secret::new("ghp_test")),
        Arc::new(FakeClock::default()),
    )
    .unwrap();
    assert!(c.validator_cache().is_none());
    assert_eq!(hooks(&c).await.unwrap(), hooks(&c).await.unwrap());
}

fn group(id: u64, name: &str, public: bool) -> Value {
    json!({"id": id, "name": name, "visibility": "all", "default": id == 1,
        "runners_url": format!("https://api.github.com/orgs/acme/actions/runner_groups/{id}/runners"),
        "inherited": false, "allows_public_repositories": public,
        "restricted_to_workflows": false, "selected_workflows": []})
}

fn runner(id: u64, name: &str) -> Value {
    json!({"id": id, "name": name, "os": "linux", "status": "online", "busy": false,
        "labels": [{"id": 1, "name": "self-hosted", "type": "read-only"}]})
}

#[tokio::test]
async fn runner_groups_page_without_link_and_carry_their_runners() {
    let server = MockServer::start().await;
    // GitHub documents no Link here: a full page (2 of per_page=2) means ask for page 2.
    Mock::given(method("GET"))
        .and(path("/orgs/acme/actions/runner-groups"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 3, "runner_groups": [group(3, "oss", true)]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/actions/runner-groups"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"total_count": 3,
            "runner_groups": [group(1, "Default", false), group(2, "gpu", false)]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let next = format!(
        r#"<{}/orgs/acme/actions/runner-groups/1/runners?per_page=2&page=2>; rel="next""#,
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/orgs/acme/actions/runner-groups/1/runners"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"total_count": 3, "runners": [runner(13, "c")]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/actions/runner-groups/1/runners"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(
                    json!({"total_count": 3, "runners": [runner(11, "a"), runner(12, "b")]}),
                )
                .insert_header("link", next.as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    for (id, runners) in [(2, json!([])), (3, json!([runner(31, "public-box")]))] {
        Mock::given(method("GET"))
            .and(path(format!(
                "/orgs/acme/actions/runner-groups/{id}/runners"
            )))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"total_count": 0, "runners": runners})),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let c = connector(&server, 2);
    let groups = list_all(&c, &Listing::new("github.runner_group", "acme"), 100)
        .await
        .unwrap();
    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "runner group: Default",
            "runner group: gpu",
            "runner group: oss"
        ]
    );
    let default = &groups[0];
    assert_eq!(
        default.raw["runners"],
        json!([{"id": 11, "name": "a"}, {"id": 12, "name": "b"}, {"id": 13, "name": "c"}])
    );
    assert!(default.signals.is_empty());
    let oss = &groups[2];
    assert!(
        oss.privilege_detail
            .contains(&"runner:public-box".to_string())
    );
    assert_eq!(oss.signals[0].rule, "github.runner_group.public_repos");
}

/// Without a `Link`, a full page means "ask for the next page number": a server that ignores
/// `page` answers page 1 again, which stops the listing at the second request.
#[tokio::test]
async fn runner_groups_from_a_server_that_ignores_the_page_stop_at_the_second_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/actions/runner-groups"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"total_count": 9,
            "runner_groups": [group(1, "Default", false), group(2, "gpu", false)]})),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(
            "^/orgs/acme/actions/runner-groups/[12]/runners$",
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"total_count": 0, "runners": []})),
        )
        .mount(&server)
        .await;
    let err = list_all(
        &connector(&server, 2),
        &Listing::new("github.runner_group", "acme"),
        100,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::PaginationLoop { detail, .. } if detail.contains("repeated")),
        "{err}"
    );
    server.verify().await;
}

#[tokio::test]
async fn runner_groups_a_token_may_not_read_are_not_seen() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/actions/runner-groups"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "nope"})))
        .mount(&server)
        .await;
    let c = connector(&server, 100);
    let err = list_all(&c, &Listing::new("github.runner_group", "acme"), 100)
        .await
        .unwrap_err();
    match err {
        ConnectorError::Forbidden { needs, .. } => {
            assert!(needs.unwrap().contains("organization_self_hosted_runners"));
        }
        other => panic!("{other}"),
    }
}

async fn mount_org_runners(server: &MockServer, runners: Value) {
    Mock::given(method("GET"))
        .and(path("/orgs/acme/actions/runners"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"total_count": 2, "runners": runners})),
        )
        .mount(server)
        .await;
}

async fn org_runners(c: &GithubConnector) -> Vec<Record> {
    list_all(c, &Listing::new("github.org_runner", "acme"), 100)
        .await
        .unwrap()
}

fn parent_of(records: &[Record], id: &str) -> Option<String> {
    records
        .iter()
        .find(|r| r.key.external_id == id)
        .unwrap()
        .parent
        .as_ref()
        .map(|p| format!("{}/{}", p.resource_type, p.external_id))
}

#[tokio::test]
async fn org_runners_are_linked_to_their_group() {
    let server = MockServer::start().await;
    // Runner 11 says which group it is in; runner 12 (an older GitHub) does not.
    let mut with_group = runner(11, "a");
    with_group["runner_group_id"] = json!(2);
    mount_org_runners(&server, json!([with_group, runner(12, "b")])).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/actions/runner-groups"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"total_count": 2,
            "runner_groups": [group(1, "Default", false), group(2, "gpu", false)]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    for (id, runners) in [(1, json!([runner(12, "b")])), (2, json!([runner(11, "a")]))] {
        Mock::given(method("GET"))
            .and(path(format!(
                "/orgs/acme/actions/runner-groups/{id}/runners"
            )))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"total_count": 1, "runners": runners})),
            )
            .mount(&server)
            .await;
    }
    let records = org_runners(&connector(&server, 100)).await;
    assert_eq!(
        parent_of(&records, "11").as_deref(),
        Some("github.runner_group/2")
    );
    assert_eq!(
        parent_of(&records, "12").as_deref(),
        Some("github.runner_group/1")
    );
}

#[tokio::test]
async fn runners_that_name_their_group_need_no_group_requests_and_unreadable_groups_only_unlink() {
    let server = MockServer::start().await;
    let mut a = runner(11, "a");
    a["runner_group_id"] = json!(1);
    mount_org_runners(&server, json!([a])).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/actions/runner-groups"))
        .respond_with(ResponseTemplate::new(403))
        .expect(0)
        .mount(&server)
        .await;
    let records = org_runners(&connector(&server, 100)).await;
    assert_eq!(
        parent_of(&records, "11").as_deref(),
        Some("github.runner_group/1")
    );
    server.verify().await;

    server.reset().await;
    mount_org_runners(&server, json!([runner(12, "b")])).await;
    Mock::given(method("GET"))
        .and(path("/orgs/acme/actions/runner-groups"))
        .respond_with(ResponseTemplate::new(403))
        .expect(1)
        .mount(&server)
        .await;
    let records = org_runners(&connector(&server, 100)).await;
    assert_eq!(records.len(), 1, "the runner listing itself completes");
    assert_eq!(parent_of(&records, "12"), None);
}
