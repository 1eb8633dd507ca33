//! The GCP connector against wiremock: the fixture estate through a service-account key (JWT
//! bearer grant) and through workload identity federation, paging tokens across many pages,
//! 429 with and without `Retry-After` on a fake clock, a project that answers 403, an IAM
//! policy and activity API that answer 403, pagination loops and malformed bodies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use roster_connector_gcp::testing::estate::{ACCESS_TOKEN, Estate, permission_denied};
use roster_connector_gcp::testing::{PRIVATE_KEY_CANARY, fixture_json};
use roster_connector_gcp::{Credentials, GcpConfig, GcpConnector, read_credentials_file};
use roster_connector_sdk::{Connector, ConnectorError, FakeClock, Listing, Secret, list_all};
use roster_core::{Kind, Privilege, Record, Status, Usage};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const SA: &str = "gcp.service_account";
const KEY: &str = "gcp.service_account_key";
const POOL: &str = "gcp.workload_identity_pool";
const PROVIDER: &str = "gcp.workload_identity_provider";

fn token_connector(server: &MockServer, projects: &[&str], clock: Arc<FakeClock>) -> GcpConnector {
    let config = GcpConfig::with_base(&server.uri(), projects);
    GcpConnector::with_credentials(
        config,
        Credentials::AccessToken(Secret::new(ACCESS_TOKEN)),
        clock,
    )
    .unwrap()
}

async fn drain(
    c: &GcpConnector,
    resource_type: &str,
    project: &str,
) -> Result<Vec<Record>, ConnectorError> {
    list_all(c, &Listing::new(resource_type, project), 1000).await
}

fn by_name<'a>(records: &'a [Record], name: &str) -> &'a Record {
    records
        .iter()
        .find(|r| r.name == name || r.key.external_id == name)
        .unwrap_or_else(|| {
            panic!(
                "no {name} in {:?}",
                records.iter().map(|r| &r.name).collect::<Vec<_>>()
            )
        })
}

#[tokio::test]
async fn the_estate_through_a_service_account_key() {
    let estate = Estate::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.json");
    Estate::write_key_file(&key_file).unwrap();
    let mut config = GcpConfig::with_base(&estate.uri(), &["acme-prod", "acme-dev"]);
    config.credentials_file = Some(key_file.clone());
    let connector = GcpConnector::with_credentials(
        config,
        read_credentials_file(&key_file).unwrap(),
        Arc::new(FakeClock::default()),
    )
    .unwrap();
    let plan = connector.plan().await.unwrap();
    assert_eq!(plan.len(), 8);

    let accounts = drain(&connector, SA, "acme-prod").await.unwrap();
    assert_eq!(accounts.len(), 3, "both pages");
    let ci = by_name(&accounts, "ci-deployer@acme-prod.iam.gserviceaccount.com");
    assert_eq!(ci.key.external_id, "110000000000000000001");
    assert_eq!(ci.kind, Kind::ServiceAccount);
    assert_eq!(ci.privilege, Privilege::Admin);
    assert_eq!(
        ci.privilege_detail,
        vec![
            "roles/editor",
            "roles/storage.objectAdmin (condition: artifacts only)"
        ]
    );
    assert_eq!(ci.usage, Usage::Used);
    assert_eq!(
        ci.last_used_at.unwrap().to_rfc3339(),
        "2026-11-01T07:00:00+00:00"
    );
    assert_eq!(ci.owner.as_deref(), Some("team-platform"));
    assert_eq!(ci.owner_source.as_deref(), Some("gcp:description"));
    assert_eq!(ci.signals[0].rule, "gcp.service_account.basic_role");
    let reporting = by_name(&accounts, "reporting@acme-prod.iam.gserviceaccount.com");
    assert_eq!(reporting.privilege, Privilege::Read);
    assert_eq!(
        reporting.usage,
        Usage::NeverUsed,
        "the API answered and does not list it"
    );
    assert_eq!(reporting.owner.as_deref(), Some("alice@acme.com"));
    let legacy = by_name(&accounts, "legacy@acme-prod.iam.gserviceaccount.com");
    assert_eq!(legacy.status, Status::Disabled);
    assert_eq!(legacy.privilege, Privilege::Admin);

    let keys = drain(&connector, KEY, "acme-prod").await.unwrap();
    assert_eq!(keys.len(), 3);
    let k1 = by_name(&keys, "3f1e0a9b7c6d5e4f30211203a4b5c6d7e8f90a1b");
    assert_eq!(k1.kind, Kind::ServiceAccountKey);
    assert_eq!(
        k1.parent.as_ref().unwrap().external_id,
        "110000000000000000001"
    );
    assert_eq!(k1.parent.as_ref().unwrap().resource_type, SA);
    assert_eq!(k1.expires_at, None, "9999-12-31 means no expiry");
    assert_eq!(
        k1.created_at.unwrap().to_rfc3339(),
        "2023-03-01T09:00:00+00:00"
    );
    assert_eq!(k1.usage, Usage::Used);
    assert_eq!(k1.privilege, Privilege::Admin);
    assert_eq!(k1.owner.as_deref(), Some("team-platform"));
    // The fixture carries privateKeyData; nothing of it is kept.
    assert!(k1.raw.get("privateKeyData").is_none());
    let all = serde_json::to_string(&keys).unwrap();
    assert!(!all.contains(PRIVATE_KEY_CANARY), "private key data kept");
    let k2 = by_name(&keys, "9c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f0a2b4c6d");
    assert!(k2.expires_at.is_some());
    assert_eq!(k2.usage, Usage::NeverUsed);
    let k3 = by_name(&keys, "5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b");
    assert_eq!(k3.status, Status::Disabled);
    assert_eq!(k3.privilege, Privilege::Read);

    let pools = drain(&connector, POOL, "acme-prod").await.unwrap();
    assert_eq!(pools.len(), 2);
    assert_eq!(
        by_name(&pools, "ci-pool").owner.as_deref(),
        Some("team-platform")
    );
    let providers = drain(&connector, PROVIDER, "acme-prod").await.unwrap();
    let ids: Vec<_> = providers
        .iter()
        .map(|r| r.key.external_id.as_str())
        .collect();
    assert_eq!(
        ids,
        vec![
            "ci-pool/github-open",
            "ci-pool/github-acme",
            "ci-pool/github-app",
            "gitlab-pool/gitlab"
        ]
    );
    let rule = |r: &Record| r.signals.first().map(|s| s.rule.clone());
    assert_eq!(
        rule(&providers[0]).as_deref(),
        Some("gcp.wif_provider.no_condition")
    );
    assert_eq!(
        rule(&providers[1]).as_deref(),
        Some("gcp.wif_provider.wide_condition")
    );
    assert!(
        providers[1].signals[0]
            .message
            .contains("every repository of `acme`")
    );
    assert_eq!(rule(&providers[2]), None);
    assert!(
        providers[2]
            .privilege_detail
            .contains(&"admits: only `acme/app`".to_string())
    );
    assert_eq!(
        rule(&providers[3]).as_deref(),
        Some("gcp.wif_provider.wide_condition")
    );

    // The second project.
    let dev = drain(&connector, SA, "acme-dev").await.unwrap();
    assert_eq!(dev.len(), 1);
    assert_eq!(dev[0].privilege, Privilege::Read);
    assert!(
        drain(&connector, POOL, "acme-dev")
            .await
            .unwrap()
            .is_empty()
    );

    // One token was minted for all of it, at the configured endpoint (the file names another).
    let requests = estate.server.received_requests().await.unwrap();
    let minted = requests.iter().filter(|r| r.url.path() == "/token").count();
    assert_eq!(minted, 1);
}

/// `n` accounts cloned from the fixture's first, each with its own email and id.
fn accounts_page(from: usize, n: usize, next: Option<&str>) -> Value {
    let template = fixture_json("accounts.page1.json")["accounts"][0].clone();
    let accounts: Vec<Value> = (from..from + n)
        .map(|i| {
            let mut a = template.clone();
            let email = format!("sa-{i}@acme-prod.iam.gserviceaccount.com");
            a["email"] = json!(email);
            a["name"] = json!(format!("projects/acme-prod/serviceAccounts/{email}"));
            a["uniqueId"] = json!(format!("1{i:020}"));
            a
        })
        .collect();
    let mut body = json!({"accounts": accounts});
    if let Some(t) = next {
        body["nextPageToken"] = json!(t);
    }
    body
}

async fn mount_side_calls(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/v1/projects/acme-prod:getIamPolicy"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture_json("iam_policy.json")))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex("activities:query$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(server)
        .await;
}

#[tokio::test]
async fn paging_tokens_across_many_pages() {
    let server = MockServer::start().await;
    mount_side_calls(&server).await;
    const PAGES: usize = 25;
    for p in 0..PAGES {
        let next = (p + 1 < PAGES).then(|| format!("tok/{}+=", p + 1));
        let mock = Mock::given(method("GET"))
            .and(path("/v1/projects/acme-prod/serviceAccounts"))
            .and(query_param("pageSize", "2"))
            .and(header(
                "authorization",
                format!("Bearer {ACCESS_TOKEN}").as_str(),
            ));
        let mock = if p == 0 {
            mock.and(wiremock::matchers::query_param_is_missing("pageToken"))
        } else {
            // Tokens with `/`, `+` and `=` come back intact.
            mock.and(query_param("pageToken", format!("tok/{p}+=").as_str()))
        };
        mock.respond_with(ResponseTemplate::new(200).set_body_json(accounts_page(
            p * 2,
            2,
            next.as_deref(),
        )))
        .expect(1)
        .mount(&server)
        .await;
    }
    let clock = Arc::new(FakeClock::default());
    let mut config = GcpConfig::with_base(&server.uri(), &["acme-prod"]);
    config.page_size = 2;
    let c = GcpConnector::with_credentials(
        config,
        Credentials::AccessToken(Secret::new(ACCESS_TOKEN)),
        clock,
    )
    .unwrap();
    let records = drain(&c, SA, "acme-prod").await.unwrap();
    assert_eq!(records.len(), PAGES * 2);
    assert_eq!(records[0].name, "sa-0@acme-prod.iam.gserviceaccount.com");
    assert_eq!(records[49].name, "sa-49@acme-prod.iam.gserviceaccount.com");
    // The IAM policy and the activity were read once, not once per page.
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.url.path().ends_with(":getIamPolicy"))
            .count(),
        1
    );
}

#[tokio::test]
async fn keys_walk_accounts_across_pages() {
    let server = MockServer::start().await;
    mount_side_calls(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/projects/acme-prod/serviceAccounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(accounts_page(0, 30, None)))
        .mount(&server)
        .await;
    let template = fixture_json("keys.ci-deployer.json")["keys"][1].clone();
    for i in 0..30 {
        let email = format!("sa-{i}@acme-prod.iam.gserviceaccount.com");
        let mut k = template.clone();
        k["name"] = json!(format!(
            "projects/acme-prod/serviceAccounts/{email}/keys/{i:040x}"
        ));
        Mock::given(method("GET"))
            .and(path(
                format!("/v1/projects/acme-prod/serviceAccounts/{email}/keys").as_str(),
            ))
            .and(query_param("keyTypes", "USER_MANAGED"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": [k]})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let c = token_connector(&server, &["acme-prod"], Arc::new(FakeClock::default()));
    // Ten requests per page at most: the walk spans several pages and loses nothing.
    let listing = Listing::new(KEY, "acme-prod");
    let (mut keys, mut pages, mut token) = (Vec::new(), 0, None);
    loop {
        let page = c.list(&listing, token.as_ref()).await.unwrap();
        pages += 1;
        keys.extend(page.records);
        match page.next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert!(pages >= 4, "{pages} pages");
    assert_eq!(keys.len(), 30);
    assert!(
        keys.iter()
            .all(|k| k.parent.as_ref().unwrap().resource_type == SA)
    );
}

#[tokio::test]
async fn rate_limits_with_and_without_retry_after() {
    let server = MockServer::start().await;
    mount_side_calls(&server).await;
    let exhausted = || json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}});
    let pools = "/v1/projects/acme-prod/locations/global/workloadIdentityPools";
    Mock::given(method("GET"))
        .and(path(pools))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(exhausted()),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(pools))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture_json("pools.json")))
        .with_priority(2)
        .mount(&server)
        .await;
    let accounts = "/v1/projects/acme-prod/serviceAccounts";
    Mock::given(method("GET"))
        .and(path(accounts))
        .respond_with(ResponseTemplate::new(429).set_body_json(exhausted()))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(accounts))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture_json("accounts.page2.json")))
        .with_priority(2)
        .mount(&server)
        .await;
    let clock = Arc::new(FakeClock::default());
    let c = token_connector(&server, &["acme-prod"], clock.clone());
    // Retry-After honoured.
    assert_eq!(drain(&c, POOL, "acme-prod").await.unwrap().len(), 2);
    assert_eq!(clock.slept(), vec![Duration::from_secs(7)]);
    // Without it, the headerless backoff (60 s, doubling on each further 429 of one call).
    assert_eq!(drain(&c, SA, "acme-prod").await.unwrap().len(), 1);
    assert_eq!(
        clock.slept(),
        vec![Duration::from_secs(7), Duration::from_secs(60)]
    );
}

#[tokio::test]
async fn a_rate_limit_beyond_the_bound_fails_the_listing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "86400"))
        .mount(&server)
        .await;
    let c = token_connector(&server, &["acme-prod"], Arc::new(FakeClock::default()));
    let err = drain(&c, POOL, "acme-prod").await.unwrap_err();
    assert!(matches!(err, ConnectorError::RateLimited { .. }), "{err}");
}

#[tokio::test]
async fn a_project_that_answers_403_fails_its_listings_only() {
    let estate = Estate::start().await;
    estate.deny("acme-dev").await;
    let c = token_connector(
        &estate.server,
        &["acme-prod", "acme-dev"],
        Arc::new(FakeClock::default()),
    );
    for rt in [SA, KEY, POOL, PROVIDER] {
        let err = drain(&c, rt, "acme-dev").await.unwrap_err();
        match &err {
            ConnectorError::Forbidden { url, needs } => {
                assert!(url.contains("/v1/projects/acme-dev"), "{err}");
                assert!(needs.as_deref().unwrap().contains("iam."), "{err}");
            }
            other => panic!("{rt}: {other}"),
        }
    }
    assert_eq!(drain(&c, SA, "acme-prod").await.unwrap().len(), 3);
}

#[tokio::test]
async fn unreadable_policy_and_activity_mean_unknown_and_no_telemetry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/projects/acme-prod:getIamPolicy"))
        .respond_with(permission_denied())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex("activities:query$"))
        .respond_with(permission_denied())
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/projects/acme-prod/serviceAccounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture_json("accounts.page2.json")))
        .mount(&server)
        .await;
    let c = token_connector(&server, &["acme-prod"], Arc::new(FakeClock::default()));
    let records = drain(&c, SA, "acme-prod").await.unwrap();
    let r = &records[0];
    assert_eq!(r.privilege, Privilege::Unknown);
    assert!(
        r.privilege_detail[0].contains("not readable"),
        "{:?}",
        r.privilege_detail
    );
    assert_eq!(r.usage, Usage::NoTelemetry);
    assert_eq!(r.raw["lastAuthentication"]["read"], false);
}

#[tokio::test]
async fn activity_api_failures_other_than_403_fail_the_listing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/projects/acme-prod:getIamPolicy"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture_json("iam_policy.json")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex("activities:query$"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"activities\": [tru"))
        .mount(&server)
        .await;
    let c = token_connector(&server, &["acme-prod"], Arc::new(FakeClock::default()));
    let err = drain(&c, SA, "acme-prod").await.unwrap_err();
    assert!(matches!(err, ConnectorError::Malformed { .. }), "{err}");
}

#[tokio::test]
async fn malformed_bodies_are_clear_errors() {
    let server = MockServer::start().await;
    mount_side_calls(&server).await;
    let pools = "/v1/projects/acme-prod/locations/global/workloadIdentityPools";
    let c = token_connector(&server, &["acme-prod"], Arc::new(FakeClock::default()));
    for (body, expect) in [
        ("{\"workloadIdentityPools\": [", "line"),
        ("[]", "expected a JSON object"),
        ("{\"workloadIdentityPools\": {}}", "not an array"),
        (
            "{\"workloadIdentityPools\": [{\"displayName\": \"no name\"}]}",
            "WorkloadIdentityPool",
        ),
        (
            "{\"workloadIdentityPools\": [], \"nextPageToken\": 7}",
            "nextPageToken",
        ),
    ] {
        let guard = Mock::given(method("GET"))
            .and(path(pools))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .mount_as_scoped(&server)
            .await;
        let err = drain(&c, POOL, "acme-prod").await.unwrap_err();
        assert!(
            matches!(&err, ConnectorError::Malformed { detail, .. } if detail.contains(expect)),
            "{body}: {err}"
        );
        drop(guard);
    }
}

#[tokio::test]
async fn a_page_token_that_comes_back_is_a_loop() {
    let server = MockServer::start().await;
    mount_side_calls(&server).await;
    Mock::given(method("GET"))
        .and(path("/v1/projects/acme-prod/serviceAccounts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(accounts_page(
            0,
            1,
            Some("same-token"),
        )))
        .mount(&server)
        .await;
    let c = token_connector(&server, &["acme-prod"], Arc::new(FakeClock::default()));
    let err = drain(&c, SA, "acme-prod").await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::PaginationLoop { .. }),
        "{err}"
    );
}

/// A server that ignores `pageToken`: the same full page every time, with a next token that
/// is new each time (so only the page's items tell the loop).
fn ignores_page_token(body: Value) -> impl Fn(&Request) -> ResponseTemplate {
    move |r: &Request| {
        let n: u64 = r
            .url
            .query_pairs()
            .find(|(k, _)| k == "pageToken")
            .map_or(0, |(_, v)| v.trim_start_matches('t').parse().unwrap());
        let mut body = body.clone();
        body["nextPageToken"] = json!(format!("t{}", n + 1));
        ResponseTemplate::new(200).set_body_json(body)
    }
}

fn is_repeat(err: &ConnectorError) -> bool {
    matches!(err, ConnectorError::PaginationLoop { listing, detail }
        if listing.ends_with(" in acme-prod") && detail.contains("repeated the previous page"))
}

/// Page 2 with page 1's items is a loop at the second request, not at `max_pages`: for the
/// accounts, for the pools a providers walk goes through, and for one pool's providers.
#[tokio::test]
async fn a_server_that_ignores_the_page_token_is_stopped_at_the_second_request() {
    let server = MockServer::start().await;
    mount_side_calls(&server).await;
    let c = token_connector(&server, &["acme-prod"], Arc::new(FakeClock::default()));
    Mock::given(method("GET"))
        .and(path("/v1/projects/acme-prod/serviceAccounts"))
        .respond_with(ignores_page_token(accounts_page(0, 2, None)))
        .expect(2)
        .mount(&server)
        .await;
    let err = drain(&c, SA, "acme-prod").await.unwrap_err();
    assert!(is_repeat(&err), "{err}");
    server.verify().await;

    let pools = "/v1/projects/acme-prod/locations/global/workloadIdentityPools";
    let pool_page = fixture_json("pools.json");
    let guard = Mock::given(method("GET"))
        .and(path(pools))
        .respond_with(ignores_page_token(pool_page.clone()))
        .expect(2)
        .mount_as_scoped(&server)
        .await;
    for pool in ["ci-pool", "gitlab-pool"] {
        Mock::given(method("GET"))
            .and(path(format!("{pools}/{pool}/providers")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .expect(1)
            .mount(&server)
            .await;
    }
    let err = drain(&c, PROVIDER, "acme-prod").await.unwrap_err();
    assert!(is_repeat(&err), "{err}");
    drop(guard);
    server.verify().await;

    server.reset().await;
    Mock::given(method("GET"))
        .and(path(pools))
        .respond_with(ResponseTemplate::new(200).set_body_json(pool_page))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{pools}/ci-pool/providers")))
        .respond_with(ignores_page_token(fixture_json(
            "providers.ci-pool.page1.json",
        )))
        .expect(2)
        .mount(&server)
        .await;
    let err = drain(&c, PROVIDER, "acme-prod").await.unwrap_err();
    assert!(is_repeat(&err), "{err}");
    server.verify().await;
}

#[tokio::test]
async fn workload_identity_federation_with_impersonation() {
    let server = MockServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let subject = dir.path().join("oidc-token");
    std::fs::write(&subject, "eyJhbGciOiJSUzI1NiJ9.subject-token-canary.sig\n").unwrap();
    let file = dir.path().join("wif.json");
    std::fs::write(
        &file,
        json!({"type": "external_account",
            "audience": "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/ci-pool/providers/github-app",
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": "https://sts.googleapis.com/v1/token",
            "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/roster@acme-prod.iam.gserviceaccount.com:generateAccessToken",
            "credential_source": {"file": subject}})
        .to_string(),
    )
    .unwrap();
    Mock::given(method("POST"))
        .and(path("/v1/token"))
        .and(body_string_contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"))
        .and(body_string_contains("subject_token=eyJhbGciOiJSUzI1NiJ9.subject-token-canary.sig&"))
        .and(body_string_contains("audience=%2F%2Fiam.googleapis.com%2Fprojects%2F123456789012"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "federated-token", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer", "expires_in": 3600})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/projects/-/serviceAccounts/roster@acme-prod.iam.gserviceaccount.com:generateAccessToken"))
        .and(header("authorization", "Bearer federated-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accessToken": "impersonated-token", "expireTime": "2025-01-01T01:00:00Z"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/v1/projects/acme-prod/locations/global/workloadIdentityPools",
        ))
        .and(header("authorization", "Bearer impersonated-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture_json("pools.json")))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = GcpConfig::with_base(&server.uri(), &["acme-prod"]);
    config.credentials_file = Some(file.clone());
    let c = GcpConnector::with_credentials(
        config,
        read_credentials_file(&file).unwrap(),
        Arc::new(FakeClock::default()),
    )
    .unwrap();
    assert_eq!(drain(&c, POOL, "acme-prod").await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_refused_key_is_unauthorized_and_never_quoted() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_grant", "error_description": "Invalid JWT Signature."})))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.json");
    Estate::write_key_file(&key_file).unwrap();
    let c = GcpConnector::with_credentials(
        GcpConfig::with_base(&server.uri(), &["acme-prod"]),
        read_credentials_file(&key_file).unwrap(),
        Arc::new(FakeClock::default()),
    )
    .unwrap();
    let err = drain(&c, POOL, "acme-prod").await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unauthorized { .. }), "{err}");
}

#[tokio::test]
async fn tokens_are_minted_again_after_a_401_and_near_expiry() {
    let server = MockServer::start().await;
    let token = |t: &str| {
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": t, "expires_in": 3600, "token_type": "Bearer"}))
    };
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token("ya29.revoked"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token("ya29.good"))
        .with_priority(2)
        .mount(&server)
        .await;
    let pools = "/v1/projects/acme-prod/locations/global/workloadIdentityPools";
    Mock::given(method("GET"))
        .and(path(pools))
        .and(header("authorization", "Bearer ya29.good"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture_json("pools.json")))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(pools))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(2)
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("key.json");
    Estate::write_key_file(&key_file).unwrap();
    let clock = Arc::new(FakeClock::default());
    let c = GcpConnector::with_credentials(
        GcpConfig::with_base(&server.uri(), &["acme-prod"]),
        read_credentials_file(&key_file).unwrap(),
        clock.clone(),
    )
    .unwrap();
    let minted = || async {
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/token")
            .count()
    };
    assert_eq!(drain(&c, POOL, "acme-prod").await.unwrap().len(), 2);
    assert_eq!(minted().await, 2, "the refused token was replaced once");
    assert_eq!(drain(&c, POOL, "acme-prod").await.unwrap().len(), 2);
    assert_eq!(minted().await, 2, "a fresh token is reused");
    clock.advance(Duration::from_secs(3600 - 60));
    assert_eq!(drain(&c, POOL, "acme-prod").await.unwrap().len(), 2);
    assert_eq!(minted().await, 3, "a token about to expire is replaced");
}
