//! The shared HTTP client against wiremock servers. Waits go through a `FakeClock`, which records
//! them instead of sleeping; the only real waiting is the timeout test's 50 ms per attempt.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use roster_connector_sdk::{
    Auth, Conditional, ConnectorError, FakeClock, HttpClient, HttpClientConfig, NextLinkPolicy,
    PageGuard, PathPattern, RequestBody, ValidatorCache, ValidatorLimits,
};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{
    any, body_json, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The fake clock's start, 2025-01-01T00:00:00Z, as epoch seconds.
const START: i64 = 1_735_689_600;

#[derive(Debug, Deserialize)]
struct Item {
    id: u32,
}

struct Harness {
    server: MockServer,
    clock: Arc<FakeClock>,
    client: HttpClient,
}

/// A client for `<server>/api/` with a bearer token, a fake clock and small bounds.
async fn harness(tweak: impl FnOnce(&mut HttpClientConfig)) -> Harness {
    let server = MockServer::start().await;
    let clock = Arc::new(FakeClock::default());
    let mut config = HttpClientConfig::new(Url::parse(&format!("{}/api/", server.uri())).unwrap());
    config.max_retries = 2;
    tweak(&mut config);
    let client = HttpClient::new(config, Some(Auth::bearer("tok-123")), clock.clone()).unwrap();
    Harness {
        server,
        clock,
        client,
    }
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn link_next(url: &str) -> String {
    format!(r#"<{url}>; rel="next", <{url}>; rel="last""#)
}

#[tokio::test]
async fn follows_link_headers_across_three_pages() {
    let h = harness(|_| {}).await;
    let uri = h.server.uri();
    Mock::given(method("GET"))
        .and(path("/api/items"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 1}, {"id": 2}]))
                .insert_header(
                    "link",
                    link_next(&format!("{uri}/api/items?page=2")).as_str(),
                ),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/items"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 3}]))
                // Relative targets resolve against the response URL.
                .insert_header("link", r#"</api/items?page=3>; rel="next""#),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/items"))
        .and(query_param("page", "3"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 4}]))
                .insert_header(
                    "link",
                    format!(r#"<{uri}/api/items?page=1>; rel="first""#).as_str(),
                ),
        )
        .expect(1)
        .mount(&h.server)
        .await;

    let mut ids = Vec::new();
    let mut guard = PageGuard::new("items", 10);
    let mut next = Some("items".to_string());
    while let Some(target) = next.take() {
        let page = h.client.get_json::<Vec<Item>>(&target).await.unwrap();
        ids.extend(page.body.iter().map(|i| i.id));
        if let Some(url) = page.next {
            guard.advance(url.as_str()).unwrap();
            next = Some(url.to_string());
        }
    }
    assert_eq!(ids, vec![1, 2, 3, 4]);
    assert_eq!(guard.pages(), 3);
    assert!(h.clock.slept().is_empty());
}

#[tokio::test]
async fn refuses_a_next_link_to_another_host() {
    let h = harness(|_| {}).await;
    let foreign = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&foreign)
        .await;
    Mock::given(path("/api/items"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 1}]))
                .insert_header(
                    "link",
                    link_next(&format!("{}/api/items?page=2", foreign.uri())).as_str(),
                ),
        )
        .mount(&h.server)
        .await;

    let err = h.client.get_json::<Vec<Item>>("items").await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::ForeignHost { url, .. } if url.starts_with(&foreign.uri())),
        "{err:?}"
    );
    // Handing the foreign URL to the client directly is refused the same way.
    let direct = h
        .client
        .get_json::<Value>(&format!("{}/api/items?page=2", foreign.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(direct, ConnectorError::ForeignHost { .. }),
        "{direct:?}"
    );
    assert_eq!(
        requests(&foreign).await,
        0,
        "the foreign host must never be contacted"
    );
    assert_eq!(requests(&h.server).await, 1);
}

#[tokio::test]
async fn does_not_follow_redirects() {
    let h = harness(|_| {}).await;
    let foreign = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&foreign)
        .await;
    Mock::given(path("/api/items"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/steal", foreign.uri()).as_str()),
        )
        .mount(&h.server)
        .await;

    let err = h.client.get_json::<Value>("items").await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::Status {
                status: 302,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(requests(&foreign).await, 0);
}

#[tokio::test]
async fn rebases_a_foreign_next_link_when_configured() {
    let h = harness(|c| c.next_link_policy = NextLinkPolicy::RebaseOntoBase).await;
    // As Graph behind a test double: the link names the upstream host.
    Mock::given(path("/api/users"))
        .and(query_param_is_missing("$skiptoken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "value": [{"id": 1}],
            "@odata.nextLink": "https://graph.microsoft.com/api/users?$skiptoken=abc"
        })))
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(path("/api/users"))
        .and(query_param("$skiptoken", "abc"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [{"id": 2}]})))
        .expect(1)
        .mount(&h.server)
        .await;

    let first = h
        .client
        .get_json::<roster_connector_sdk::pagination::ODataPage<Item>>("users")
        .await
        .unwrap();
    let link = first.body.next_link.unwrap();
    let rebased = h.client.resolve(&link).unwrap();
    assert_eq!(
        rebased.as_str(),
        format!("{}/api/users?$skiptoken=abc", h.server.uri())
    );
    let second = h
        .client
        .get_json::<roster_connector_sdk::pagination::ODataPage<Item>>(&link)
        .await
        .unwrap();
    assert_eq!(second.body.value[0].id, 2);
    assert_eq!(second.body.next_link, None);
}

#[tokio::test]
async fn rebases_a_foreign_link_header_when_configured() {
    let h = harness(|c| c.next_link_policy = NextLinkPolicy::RebaseOntoBase).await;
    Mock::given(path("/api/items"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .insert_header(
                    "link",
                    link_next("https://ghe.internal/api/items?page=2").as_str(),
                ),
        )
        .mount(&h.server)
        .await;
    let page = h.client.get_json::<Vec<Item>>("items").await.unwrap();
    assert_eq!(
        page.next.unwrap().as_str(),
        format!("{}/api/items?page=2", h.server.uri())
    );
}

#[tokio::test]
async fn honours_retry_after_in_seconds() {
    let h = harness(|_| {}).await;
    Mock::given(path("/api/items"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
        .up_to_n_times(1)
        .mount(&h.server)
        .await;
    Mock::given(path("/api/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
        .mount(&h.server)
        .await;

    let page = h.client.get_json::<Vec<Item>>("items").await.unwrap();
    assert_eq!(page.body.len(), 1);
    assert_eq!(h.clock.slept(), vec![secs(7)]);
    assert_eq!(requests(&h.server).await, 2);
}

#[tokio::test]
async fn honours_retry_after_as_an_http_date() {
    let h = harness(|_| {}).await;
    // GitHub's secondary limit: 403 with Retry-After.
    let at = std::time::UNIX_EPOCH + Duration::from_secs(START as u64 + 90);
    Mock::given(path("/api/items"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("retry-after", httpdate::fmt_http_date(at).as_str())
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit."})),
        )
        .up_to_n_times(1)
        .mount(&h.server)
        .await;
    Mock::given(path("/api/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&h.server)
        .await;

    h.client.get_json::<Vec<Item>>("items").await.unwrap();
    assert_eq!(h.clock.slept(), vec![secs(90)]);
}

#[tokio::test]
async fn github_primary_limit_403_waits_until_reset() {
    let h = harness(|_| {}).await;
    Mock::given(path("/api/items"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", (START + 120).to_string().as_str())
                .set_body_json(
                    json!({"message": "API rate limit exceeded for installation ID 1."}),
                ),
        )
        .up_to_n_times(1)
        .mount(&h.server)
        .await;
    Mock::given(path("/api/items"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "4999")
                .insert_header("x-ratelimit-reset", (START + 3720).to_string().as_str())
                .set_body_json(json!([])),
        )
        .mount(&h.server)
        .await;

    h.client.get_json::<Vec<Item>>("items").await.unwrap();
    assert_eq!(h.clock.slept(), vec![secs(120)]);
    // The window is open again: the next call does not wait.
    h.client.get_json::<Vec<Item>>("items").await.unwrap();
    assert_eq!(h.clock.slept(), vec![secs(120)]);
    assert_eq!(requests(&h.server).await, 3);
}

#[tokio::test]
async fn exhausted_window_on_a_success_holds_the_next_request_until_reset() {
    let h = harness(|_| {}).await;
    Mock::given(path("/api/first"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", (START + 45).to_string().as_str())
                .set_body_json(json!([])),
        )
        .mount(&h.server)
        .await;
    Mock::given(path("/api/second"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&h.server)
        .await;

    h.client.get_json::<Vec<Item>>("first").await.unwrap();
    assert!(
        h.clock.slept().is_empty(),
        "the successful call itself does not wait"
    );
    h.client.get_json::<Vec<Item>>("second").await.unwrap();
    // Waited before sending: the second request never met a 403.
    assert_eq!(h.clock.slept(), vec![secs(45)]);
    assert_eq!(requests(&h.server).await, 2);
}

#[tokio::test]
async fn exhausted_window_beyond_the_budget_fails_without_sending() {
    let h = harness(|c| c.max_rate_limit_wait = secs(60)).await;
    Mock::given(path("/api/first"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", (START + 3600).to_string().as_str())
                .set_body_json(json!([])),
        )
        .mount(&h.server)
        .await;

    h.client.get_json::<Vec<Item>>("first").await.unwrap();
    let err = h.client.get_json::<Vec<Item>>("second").await.unwrap_err();
    assert_eq!(
        err,
        ConnectorError::RateLimited {
            url: format!("{}/api/second", h.server.uri()),
            wait_secs: 3600,
            bound_secs: 60
        }
    );
    assert!(h.clock.slept().is_empty());
    assert_eq!(requests(&h.server).await, 1);
}

#[tokio::test]
async fn honours_gitlab_ratelimit_reset() {
    let h = harness(|_| {}).await;
    Mock::given(path("/api/projects"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("ratelimit-remaining", "0")
                .insert_header("ratelimit-reset", (START + 33).to_string().as_str()),
        )
        .up_to_n_times(1)
        .mount(&h.server)
        .await;
    Mock::given(path("/api/projects"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&h.server)
        .await;

    h.client.get_json::<Vec<Item>>("projects").await.unwrap();
    assert_eq!(h.clock.slept(), vec![secs(33)]);
}

#[tokio::test]
async fn headerless_429_backs_off_exponentially_from_a_minute() {
    let h = harness(|_| {}).await;
    Mock::given(path("/api/items"))
        .respond_with(ResponseTemplate::new(429))
        .up_to_n_times(2)
        .mount(&h.server)
        .await;
    Mock::given(path("/api/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&h.server)
        .await;

    h.client.get_json::<Vec<Item>>("items").await.unwrap();
    assert_eq!(h.clock.slept(), vec![secs(60), secs(120)]);
    assert_eq!(requests(&h.server).await, 3);
}

#[tokio::test]
async fn headerless_403_mentioning_a_rate_limit_is_a_rate_limit() {
    let h = harness(|_| {}).await;
    Mock::given(path("/api/items"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(json!({"message": "API rate limit exceeded"})),
        )
        .up_to_n_times(1)
        .mount(&h.server)
        .await;
    Mock::given(path("/api/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&h.server)
        .await;

    h.client.get_json::<Vec<Item>>("items").await.unwrap();
    assert_eq!(h.clock.slept(), vec![secs(60)]);
}

#[tokio::test]
async fn rate_limit_wait_past_the_bound_fails_early() {
    let h = harness(|c| c.max_rate_limit_wait = secs(100)).await;
    Mock::given(path("/api/items"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "60"))
        .mount(&h.server)
        .await;

    let err = h.client.get_json::<Vec<Item>>("items").await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::RateLimited {
                wait_secs: 60,
                bound_secs: 100,
                ..
            }
        ),
        "{err:?}"
    );
    // 60 s fitted; another 60 s would not, so it gave up instead of sleeping.
    assert_eq!(h.clock.slept(), vec![secs(60)]);
    assert_eq!(requests(&h.server).await, 2);
}

#[tokio::test]
async fn a_single_wait_past_the_bound_is_not_slept() {
    let h = harness(|c| c.max_rate_limit_wait = secs(100)).await;
    Mock::given(path("/api/items"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .mount(&h.server)
        .await;

    let err = h.client.get_json::<Vec<Item>>("items").await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::RateLimited {
                wait_secs: 3600,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(h.clock.slept().is_empty());
    assert_eq!(requests(&h.server).await, 1);
}

#[tokio::test]
async fn server_errors_are_retried_with_jittered_backoff() {
    let h = harness(|c| c.retry_base_delay = secs(1)).await;
    Mock::given(path("/api/items"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(2)
        .mount(&h.server)
        .await;
    Mock::given(path("/api/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 9}])))
        .mount(&h.server)
        .await;

    let page = h.client.get_json::<Vec<Item>>("items").await.unwrap();
    assert_eq!(page.body[0].id, 9);
    let slept = h.clock.slept();
    assert_eq!(slept.len(), 2);
    assert!(
        slept[0] >= secs(1) && slept[0] <= Duration::from_millis(1500),
        "{slept:?}"
    );
    assert!(slept[1] >= secs(2) && slept[1] <= secs(3), "{slept:?}");
    assert_eq!(requests(&h.server).await, 3);
}

#[tokio::test]
async fn persistent_server_errors_fail_after_max_retries() {
    let h = harness(|c| c.max_retries = 3).await;
    Mock::given(path("/api/items"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&h.server)
        .await;

    let err = h.client.get_json::<Vec<Item>>("items").await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::Status {
                status: 503,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(requests(&h.server).await, 4);
    assert_eq!(h.clock.slept().len(), 3);
}

#[tokio::test]
async fn a_post_is_not_retried_after_a_server_error() {
    let h = harness(|_| {}).await;
    Mock::given(method("POST"))
        .and(path("/api/keys/1/disable"))
        .and(body_json(json!({"reason": "campaign"})))
        .respond_with(ResponseTemplate::new(500))
        .mount(&h.server)
        .await;

    let body = RequestBody::json(&json!({"reason": "campaign"})).unwrap();
    let err = h
        .client
        .send(reqwest::Method::POST, "keys/1/disable", Some(body))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::Status {
                status: 500,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(requests(&h.server).await, 1);
}

#[tokio::test]
async fn send_returns_the_raw_response() {
    let h = harness(|_| {}).await;
    Mock::given(method("DELETE"))
        .and(path("/api/keys/1"))
        .and(header("authorization", "Bearer tok-123"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&h.server)
        .await;

    let raw = h
        .client
        .send(reqwest::Method::DELETE, "keys/1", None)
        .await
        .unwrap();
    assert_eq!(raw.status.as_u16(), 204);
    assert!(raw.body.is_empty());
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() {
    // The only real waiting in this file: 2 attempts × 50 ms.
    let h = harness(|c| {
        c.timeout = Duration::from_millis(50);
        c.max_retries = 1;
    })
    .await;
    Mock::given(path("/api/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(secs(2)),
        )
        .mount(&h.server)
        .await;

    let err = h.client.get_json::<Vec<Item>>("slow").await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Timeout { attempts: 2, .. }),
        "{err:?}"
    );
    assert_eq!(
        h.clock.slept().len(),
        1,
        "one backoff between the two attempts"
    );
    assert_eq!(requests(&h.server).await, 2);
}

#[tokio::test]
async fn connection_errors_are_retried_then_reported() {
    let clock = Arc::new(FakeClock::default());
    // Nothing listens on a port we just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config =
        HttpClientConfig::new(Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap());
    config.max_retries = 2;
    let client = HttpClient::new(config, None, clock.clone()).unwrap();

    let err = client.get_json::<Value>("x").await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Transport { detail, .. } if detail.contains("3 attempt")),
        "{err:?}"
    );
    assert_eq!(clock.slept().len(), 2);
}

#[tokio::test]
async fn plain_403_is_forbidden_at_once() {
    let h = harness(|_| {}).await;
    Mock::given(path("/api/orgs/acme/installations"))
        .respond_with(
            ResponseTemplate::new(403)
                .insert_header(
                    "x-accepted-github-permissions",
                    "organization_administration=read",
                )
                .set_body_json(json!({"message": "Resource not accessible by integration"})),
        )
        .mount(&h.server)
        .await;

    let err = h
        .client
        .get_json::<Value>("orgs/acme/installations")
        .await
        .unwrap_err();
    assert_eq!(
        err,
        ConnectorError::Forbidden {
            url: format!("{}/api/orgs/acme/installations", h.server.uri()),
            needs: Some("organization_administration=read".to_string()),
        }
    );
    assert_eq!(requests(&h.server).await, 1);
    assert!(h.clock.slept().is_empty());
}

#[tokio::test]
async fn unauthorized_and_not_found_fail_at_once() {
    let h = harness(|_| {}).await;
    Mock::given(path("/api/me"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&h.server)
        .await;
    Mock::given(path("/api/gone"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&h.server)
        .await;

    let err = h.client.get_json::<Value>("me").await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Unauthorized { .. }),
        "{err:?}"
    );
    let err = h.client.get_json::<Value>("gone").await.unwrap_err();
    assert!(matches!(err, ConnectorError::NotFound { .. }), "{err:?}");
    assert_eq!(requests(&h.server).await, 2);
    assert!(h.clock.slept().is_empty());
}

#[tokio::test]
async fn oversized_body_with_content_length_is_refused() {
    let h = harness(|c| c.max_response_bytes = 1024).await;
    Mock::given(path("/api/big"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(format!("[{}]", "1,".repeat(2000) + "1")),
        )
        .mount(&h.server)
        .await;

    let err = h.client.get_json::<Vec<u32>>("big").await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::TooLarge {
                limit_bytes: 1024,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(requests(&h.server).await, 1, "not retried");
}

#[tokio::test]
async fn oversized_chunked_body_is_refused_while_streaming() {
    let h = harness(|c| c.max_response_bytes = 1024).await;
    let body = format!("[{}]", "1,".repeat(2000) + "1");
    Mock::given(path("/api/big"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("transfer-encoding", "chunked")
                .set_body_string(body),
        )
        .mount(&h.server)
        .await;

    // Precondition: the body really arrives without a Content-Length.
    let plain = reqwest::get(format!("{}/api/big", h.server.uri()))
        .await
        .unwrap();
    assert_eq!(plain.content_length(), None);
    assert!(plain.headers().get("content-length").is_none());

    let err = h.client.get_json::<Vec<u32>>("big").await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::TooLarge {
                limit_bytes: 1024,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn malformed_json_names_the_url_not_the_body() {
    let h = harness(|_| {}).await;
    Mock::given(path("/api/keys"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"[{"id": "ghp_secretvalue"}]"#))
        .mount(&h.server)
        .await;

    let err = h.client.get_json::<Vec<Item>>("keys").await.unwrap_err();
    let ConnectorError::Malformed { url, detail } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(url, &format!("{}/api/keys", h.server.uri()));
    assert!(detail.contains("invalid type"), "{detail}");
    assert!(!err.to_string().contains("ghp_secretvalue"), "{err}");
}

#[tokio::test]
async fn sends_the_token_to_the_base_host_and_never_prints_it() {
    let h = harness(|_| {}).await;
    Mock::given(path("/api/user"))
        .and(header("authorization", "Bearer tok-123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1})))
        .expect(1)
        .mount(&h.server)
        .await;

    let user = h.client.get_json::<Item>("/user").await.unwrap();
    assert_eq!(user.body.id, 1);
    let debug = format!("{:?}", h.client);
    assert!(!debug.contains("tok-123"), "{debug}");
    assert!(debug.contains("[redacted]"), "{debug}");
    assert!(!format!("{:?}", Auth::bearer("tok-123")).contains("tok-123"));
}

#[tokio::test]
async fn sends_a_custom_auth_header() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v4/projects"))
        .and(header("private-token", "glpat-xyz"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let config = HttpClientConfig::new(Url::parse(&format!("{}/api/v4", server.uri())).unwrap());
    let auth = Auth::header(
        reqwest::header::HeaderName::from_static("private-token"),
        "glpat-xyz",
    );
    let client = HttpClient::new(config, Some(auth), Arc::new(FakeClock::default())).unwrap();
    client.get_json::<Vec<Item>>("projects").await.unwrap();
}

#[tokio::test]
async fn conditional_get_returns_not_modified_for_a_matching_etag() {
    let h = harness(|_| {}).await;
    Mock::given(path("/api/orgs/acme/hooks"))
        .and(header("if-none-match", "\"abc\""))
        .respond_with(ResponseTemplate::new(304).insert_header("etag", "\"abc\""))
        .mount(&h.server)
        .await;
    Mock::given(path("/api/orgs/acme/hooks"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"abc\"")
                .set_body_json(json!([{"id": 5}])),
        )
        .mount(&h.server)
        .await;

    let first = h
        .client
        .get_json_conditional::<Vec<Item>>("orgs/acme/hooks", None)
        .await
        .unwrap();
    let Conditional::Modified(first) = first else {
        panic!("expected a body")
    };
    assert_eq!(first.etag(), Some("\"abc\""));
    let again = h
        .client
        .get_json_conditional::<Vec<Item>>("orgs/acme/hooks", first.etag())
        .await
        .unwrap();
    assert!(
        matches!(again, Conditional::NotModified { .. }),
        "{again:?}"
    );
}

#[tokio::test]
async fn a_validator_cache_serves_304s_from_the_kept_body_and_link_on_its_paths_only() {
    let cache = Arc::new(ValidatorCache::new(
        vec![PathPattern::new("orgs/*/hooks")],
        ValidatorLimits::default(),
    ));
    let h = harness(|c| c.validator_cache = Some(cache.clone())).await;
    let next = format!("{}/api/orgs/acme/hooks?page=2", h.server.uri());
    Mock::given(path("/api/orgs/acme/hooks"))
        .and(header("if-none-match", "\"h1\""))
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&h.server)
        .await;
    Mock::given(path("/api/orgs/acme/hooks"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"h1\"")
                .insert_header("link", link_next(&next).as_str())
                .set_body_json(json!([{"id": 5}])),
        )
        .expect(1)
        .mount(&h.server)
        .await;
    // Not a cached path: a single item is read plainly every time, and never kept.
    Mock::given(path("/api/orgs/acme/hooks/5"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"i5\"")
                .set_body_json(json!({"id": 5})),
        )
        .expect(2)
        .mount(&h.server)
        .await;

    let first = h
        .client
        .get_json::<Vec<Item>>("orgs/acme/hooks")
        .await
        .unwrap();
    let again = h
        .client
        .get_json::<Vec<Item>>("orgs/acme/hooks")
        .await
        .unwrap();
    assert_eq!(again.status.as_u16(), 304);
    assert_eq!(again.body[0].id, first.body[0].id);
    assert_eq!(again.next.unwrap().as_str(), next, "the kept Link leads on");
    assert_eq!(cache.not_modified(), 1);
    for _ in 0..2 {
        h.client
            .get_json::<Item>("orgs/acme/hooks/5")
            .await
            .unwrap();
    }
    let kept: Vec<String> = cache.entries_in_use().into_iter().map(|e| e.url).collect();
    assert_eq!(
        kept,
        vec![format!("{}/api/orgs/acme/hooks", h.server.uri())]
    );
    let sent_validators = h
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.headers.contains_key("if-none-match"))
        .count();
    assert_eq!(sent_validators, 1);
}

#[tokio::test]
async fn page_guard_stops_a_pagination_loop() {
    let h = harness(|_| {}).await;
    let uri = h.server.uri();
    Mock::given(path("/api/items"))
        .and(query_param_is_missing("page"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 1}]))
                .insert_header(
                    "link",
                    link_next(&format!("{uri}/api/items?page=2")).as_str(),
                ),
        )
        .mount(&h.server)
        .await;
    // Page 2 points at itself forever.
    Mock::given(path("/api/items"))
        .and(query_param("page", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 2}]))
                .insert_header(
                    "link",
                    link_next(&format!("{uri}/api/items?page=2")).as_str(),
                ),
        )
        .mount(&h.server)
        .await;

    let mut guard = PageGuard::new("items in acme", 1000);
    let mut target = "items".to_string();
    let err = loop {
        let page = h.client.get_json::<Vec<Item>>(&target).await.unwrap();
        let next = page.next.expect("this server always has a next page");
        if let Err(e) = guard.advance(next.as_str()) {
            break e;
        }
        target = next.to_string();
    };
    assert!(
        matches!(&err, ConnectorError::PaginationLoop { listing, .. } if listing == "items in acme"),
        "{err:?}"
    );
    assert_eq!(requests(&h.server).await, 2);
}
