#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The AWS connector against wiremock, for what moto cannot produce: throttling storms, 5xx,
//! short and looping pages, URL-encoded policy documents as real IAM returns them, AccessDenied
//! on one call, truncated XML, and an unavailable credential report. IAM speaks the AWS Query
//! protocol: form-encoded POSTs answered with XML; mocks match on the `Action=` of the body.

use std::collections::HashMap;

use roster_connector_aws::{AccountConfig, AwsConfig, AwsConnector, RemediationConfig};
use roster_connector_sdk::{Connector, ConnectorError, list_all};
use roster_core::{Privilege, Record, Usage};
use wiremock::matchers::{body_string_contains, header_regex, method};
use wiremock::{Mock, MockBuilder, MockServer, Request, ResponseTemplate};

const ACCOUNT: &str = "123456789012";
const NS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";
const GITHUB: &str = "token.actions.githubusercontent.com";

// ---- configuration and collection ----

struct Setup {
    config: AwsConfig,
    _dir: tempfile::TempDir,
}

fn setup(endpoint: &str, max_attempts: u32) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let id = dir.path().join("key_id");
    let secret = dir.path().join("secret");
    std::fs::write(&id, "AKIAROSTERTEST000001").unwrap();
    std::fs::write(&secret, "not-a-real-secret").unwrap();
    let config = AwsConfig {
        accounts: vec![account(ACCOUNT, None)],
        region: "us-east-1".into(),
        endpoint_url: Some(endpoint.into()),
        access_key_id_env: None,
        secret_access_key_env: None,
        session_token_env: None,
        access_key_id_file: Some(id.display().to_string()),
        secret_access_key_file: Some(secret.display().to_string()),
        github_issuers: vec![],
        known_accounts: vec![],
        organization_id: None,
        gitlab_issuers: vec![],
        max_attempts,
        initial_backoff_ms: 1,
        max_backoff_secs: 1,
        timeout_secs: 20,
        concurrency: 4,
        page_size: 1000,
        max_pages: 100,
        remediation: RemediationConfig::default(),
    };
    Setup { config, _dir: dir }
}

fn account(id: &str, role_arn: Option<&str>) -> AccountConfig {
    AccountConfig {
        id: id.into(),
        role_arn: role_arn.map(str::to_owned),
        external_id: None,
    }
}

type Listed = HashMap<(String, String), Result<Vec<Record>, ConnectorError>>;

/// One sync: every planned listing, all pages; keyed by (resource type, account).
async fn sync(c: &AwsConnector) -> Listed {
    let mut out = HashMap::new();
    for l in c.plan().await.unwrap() {
        let result = list_all(c, &l, 100).await;
        out.insert((l.resource_type.clone(), l.scope.clone()), result);
    }
    out
}

fn ok<'a>(got: &'a Listed, rt: &str, account: &str) -> &'a [Record] {
    match &got[&(rt.to_owned(), account.to_owned())] {
        Ok(v) => v,
        Err(e) => panic!("{rt} in {account} failed: {e}"),
    }
}

fn failed<'a>(got: &'a Listed, rt: &str, account: &str) -> &'a ConnectorError {
    match &got[&(rt.to_owned(), account.to_owned())] {
        Err(e) => e,
        Ok(v) => panic!(
            "{rt} in {account} listed {} record(s), expected an error",
            v.len()
        ),
    }
}

const LISTINGS: [&str; 3] = ["aws.iam_user", "aws.access_key", "aws.role"];

fn names(records: &[Record]) -> Vec<&str> {
    let mut n: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
    n.sort_unstable();
    n
}

fn rules(r: &Record) -> Vec<&str> {
    r.signals.iter().map(|s| s.rule.as_str()).collect()
}

// ---- AWS Query XML ----

fn response(action: &str, result: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{NS}\"><{action}Result>{result}</{action}Result>\
         <ResponseMetadata><RequestId>req-{action}</RequestId></ResponseMetadata></{action}Response>"
    )
}

fn xml(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/xml")
}

fn ok_xml(action: &str, result: &str) -> ResponseTemplate {
    xml(response(action, result))
}

fn error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    ResponseTemplate::new(status).set_body_raw(
        format!(
            "<ErrorResponse xmlns=\"{NS}\"><Error><Type>{kind}</Type><Code>{code}</Code>\
             <Message>{message}</Message></Error><RequestId>req-err</RequestId></ErrorResponse>"
        ),
        "text/xml",
    )
}

/// Paging elements: `IsTruncated` and, when given, `Marker`.
fn paging(truncated: bool, marker: Option<&str>) -> String {
    let mut s = format!("<IsTruncated>{truncated}</IsTruncated>");
    if let Some(m) = marker {
        s.push_str(&format!("<Marker>{m}</Marker>"));
    }
    s
}

fn policy_list(tag: &str, inline: &[(&str, &str)]) -> String {
    let members: String = inline
        .iter()
        .map(|(name, doc)| {
            format!("<member><PolicyName>{name}</PolicyName><PolicyDocument>{doc}</PolicyDocument></member>")
        })
        .collect();
    format!("<{tag}>{members}</{tag}>")
}

fn user(name: &str) -> String {
    user_with(name, &[])
}

fn user_with(name: &str, inline: &[(&str, &str)]) -> String {
    format!(
        "<member><Path>/</Path><UserName>{name}</UserName><UserId>AIDA{}</UserId>\
         <Arn>arn:aws:iam::{ACCOUNT}:user/{name}</Arn><CreateDate>2026-01-05T10:00:00Z</CreateDate>\
         {}<GroupList/><AttachedManagedPolicies/><Tags/></member>",
        name.to_ascii_uppercase(),
        policy_list("UserPolicyList", inline)
    )
}

fn role(name: &str, trust: &str, inline: &[(&str, &str)]) -> String {
    role_in(ACCOUNT, name, trust, inline)
}

fn role_in(account: &str, name: &str, trust: &str, inline: &[(&str, &str)]) -> String {
    format!(
        "<member><Path>/</Path><RoleName>{name}</RoleName><RoleId>AROA{}</RoleId>\
         <Arn>arn:aws:iam::{account}:role/{name}</Arn><CreateDate>2026-01-05T10:00:00Z</CreateDate>\
         <AssumeRolePolicyDocument>{trust}</AssumeRolePolicyDocument><InstanceProfileList/>\
         {}<AttachedManagedPolicies/><Tags/><RoleLastUsed/></member>",
        name.to_ascii_uppercase(),
        policy_list("RolePolicyList", inline)
    )
}

fn gaad(users: &[String], roles: &[String], truncated: bool, marker: Option<&str>) -> String {
    response(
        "GetAccountAuthorizationDetails",
        &format!(
            "<UserDetailList>{}</UserDetailList><GroupDetailList/><RoleDetailList>{}</RoleDetailList>\
             <Policies/>{}",
            users.concat(),
            roles.concat(),
            paging(truncated, marker)
        ),
    )
}

fn key(user: &str, id: &str) -> String {
    format!(
        "<member><UserName>{user}</UserName><AccessKeyId>{id}</AccessKeyId><Status>Active</Status>\
         <CreateDate>2026-01-06T10:00:00Z</CreateDate></member>"
    )
}

fn keys(members: &[String], truncated: bool, marker: Option<&str>) -> String {
    response(
        "ListAccessKeys",
        &format!(
            "<AccessKeyMetadata>{}</AccessKeyMetadata>{}",
            members.concat(),
            paging(truncated, marker)
        ),
    )
}

/// A credential report with a row per user: no console password, no key columns in use.
fn credential_report(users: &[&str]) -> String {
    let mut csv = String::from(
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,\
         password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,\
         access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,\
         access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,\
         access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,\
         cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n",
    );
    for u in users {
        csv.push_str(&format!(
            "{u},arn:aws:iam::{ACCOUNT}:user/{u},2026-01-05T10:00:00+00:00,false,N/A,N/A,N/A,\
             false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A\n"
        ));
    }
    response(
        "GetCredentialReport",
        &format!(
            "<Content>{}</Content><ReportFormat>text/csv</ReportFormat>\
             <GeneratedTime>2026-01-07T00:00:00Z</GeneratedTime>",
            aws_smithy_types::base64::encode(csv.as_bytes())
        ),
    )
}

/// As IAM returns policy documents: percent-encoded JSON.
fn url_encoded(doc: &str) -> String {
    percent_encoding::utf8_percent_encode(doc, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn github_trust(sub_condition: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{sub_condition}}}]}}"#
    )
}

fn ec2_trust() -> String {
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#.to_owned()
}

const READ_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"}]}"#;

// ---- mocks ----

fn action(name: &str) -> MockBuilder {
    Mock::given(method("POST")).and(body_string_contains(format!("Action={name}&")))
}

/// The calls besides GAAD and ListAccessKeys, answered normally at a low priority so that a
/// test's own mocks take precedence: a complete credential report for `report_users`, no OIDC
/// providers, and no keys for any user not mocked otherwise.
async fn mount_basics(server: &MockServer, report_users: &[&str]) {
    action("GenerateCredentialReport")
        .respond_with(ok_xml(
            "GenerateCredentialReport",
            "<State>COMPLETE</State><Description>done</Description>",
        ))
        .with_priority(100)
        .mount(server)
        .await;
    action("GetCredentialReport")
        .respond_with(xml(credential_report(report_users)))
        .with_priority(100)
        .mount(server)
        .await;
    action("ListOpenIDConnectProviders")
        .respond_with(ok_xml(
            "ListOpenIDConnectProviders",
            "<OpenIDConnectProviderList/>",
        ))
        .with_priority(100)
        .mount(server)
        .await;
    action("ListAccessKeys")
        .respond_with(xml(keys(&[], false, None)))
        .with_priority(200)
        .mount(server)
        .await;
}

/// A small healthy account: two service users (one with a key), one role.
fn estate() -> String {
    gaad(
        &[user("ci-bot"), user("etl-bot")],
        &[role("ec2-reader", &url_encoded(&ec2_trust()), &[])],
        false,
        None,
    )
}

async fn mount_ci_bot_key(server: &MockServer) {
    action("ListAccessKeys")
        .and(body_string_contains("UserName=ci-bot"))
        .respond_with(xml(keys(
            &[key("ci-bot", "AKIACIBOT00000000001")],
            false,
            None,
        )))
        .mount(server)
        .await;
}

fn requests_for<'a>(all: &'a [Request], action: &str) -> Vec<&'a Request> {
    let needle = format!("Action={action}&");
    all.iter()
        .filter(|r| String::from_utf8_lossy(&r.body).contains(&needle))
        .collect()
}

async fn count(server: &MockServer, action: &str) -> usize {
    let all = server.received_requests().await.unwrap();
    requests_for(&all, action).len()
}

fn assert_healthy_estate(got: &Listed) {
    assert_eq!(
        names(ok(got, "aws.iam_user", ACCOUNT)),
        vec!["ci-bot", "etl-bot"]
    );
    assert_eq!(
        names(ok(got, "aws.access_key", ACCOUNT)),
        vec!["AKIACIBOT00000000001 (ci-bot)"]
    );
    assert_eq!(names(ok(got, "aws.role", ACCOUNT)), vec!["ec2-reader"]);
}

// ---- 1. throttling ----

#[tokio::test]
async fn a_throttling_storm_shorter_than_max_attempts_is_ridden_out() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    mount_ci_bot_key(&server).await;
    action("GetAccountAuthorizationDetails")
        .respond_with(error(400, "Throttling", "Rate exceeded"))
        .up_to_n_times(4)
        .with_priority(1)
        .expect(4)
        .mount(&server)
        .await;
    action("GetAccountAuthorizationDetails")
        .respond_with(xml(estate()))
        .expect(1)
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 6);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    assert_healthy_estate(&got);
    assert_eq!(count(&server, "GetAccountAuthorizationDetails").await, 5);
}

#[tokio::test]
async fn a_throttling_storm_longer_than_max_attempts_fails_the_account_as_rate_limited() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    mount_ci_bot_key(&server).await;
    action("GetAccountAuthorizationDetails")
        .respond_with(error(400, "Throttling", "Rate exceeded"))
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 3);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    for rt in LISTINGS {
        let e = failed(&got, rt, ACCOUNT);
        assert!(
            matches!(e, ConnectorError::RateLimited { url, .. }
                if url.contains("GetAccountAuthorizationDetails") && url.contains(ACCOUNT)),
            "{rt}: {e:?}"
        );
    }
    // Exactly max_attempts calls: the account is read once per sync, its failure shared by
    // the three listings rather than retried three times over.
    assert_eq!(count(&server, "GetAccountAuthorizationDetails").await, 3);
    // Nothing after the failed first call.
    assert_eq!(count(&server, "ListAccessKeys").await, 0);
}

// ---- 2. 5xx ----

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    action("GetAccountAuthorizationDetails")
        .respond_with(error(500, "ServiceFailure", "Internal failure"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    action("GetAccountAuthorizationDetails")
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(2)
        .expect(1)
        .mount(&server)
        .await;
    action("GetAccountAuthorizationDetails")
        .respond_with(xml(estate()))
        .expect(1)
        .mount(&server)
        .await;
    // A 5xx on one user's ListAccessKeys is retried as well.
    action("ListAccessKeys")
        .and(body_string_contains("UserName=ci-bot"))
        .respond_with(error(500, "ServiceFailure", "Internal failure"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    mount_ci_bot_key(&server).await;
    let s = setup(&server.uri(), 4);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    assert_healthy_estate(&got);
}

#[tokio::test]
async fn a_persistent_server_error_fails_the_listings_with_the_status() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    action("GetAccountAuthorizationDetails")
        .respond_with(error(500, "ServiceFailure", "Internal failure"))
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 3);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    for rt in LISTINGS {
        let e = failed(&got, rt, ACCOUNT);
        assert!(
            matches!(e, ConnectorError::Status { status: 500, url, .. }
                if url.contains("GetAccountAuthorizationDetails")),
            "{rt}: {e:?}"
        );
    }
    assert_eq!(count(&server, "GetAccountAuthorizationDetails").await, 3);
}

// ---- 3. Marker pagination ----

#[tokio::test]
async fn markers_are_followed_past_short_pages_on_gaad_and_list_access_keys() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot", "deploy-svc"]).await;
    // Page 1: one user although 1000 were asked for, and more to come.
    action("GetAccountAuthorizationDetails")
        .respond_with(xml(gaad(&[user("ci-bot")], &[], true, Some("gaad-m1"))))
        .expect(1)
        .mount(&server)
        .await;
    action("GetAccountAuthorizationDetails")
        .and(body_string_contains("Marker=gaad-m1"))
        .respond_with(xml(gaad(
            &[user("etl-bot"), user("deploy-svc")],
            &[role("ec2-reader", &url_encoded(&ec2_trust()), &[])],
            false,
            None,
        )))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    action("ListAccessKeys")
        .and(body_string_contains("UserName=ci-bot"))
        .respond_with(xml(keys(
            &[key("ci-bot", "AKIACIBOT00000000001")],
            true,
            Some("keys-m1"),
        )))
        .expect(1)
        .mount(&server)
        .await;
    action("ListAccessKeys")
        .and(body_string_contains("UserName=ci-bot"))
        .and(body_string_contains("Marker=keys-m1"))
        .respond_with(xml(keys(
            &[key("ci-bot", "AKIACIBOT00000000002")],
            false,
            None,
        )))
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    action("ListAccessKeys")
        .and(body_string_contains("UserName=deploy-svc"))
        .respond_with(xml(keys(
            &[key("deploy-svc", "AKIADEPLOY0000000001")],
            false,
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 2);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    assert_eq!(
        names(ok(&got, "aws.iam_user", ACCOUNT)),
        vec!["ci-bot", "deploy-svc", "etl-bot"]
    );
    assert_eq!(
        names(ok(&got, "aws.access_key", ACCOUNT)),
        vec![
            "AKIACIBOT00000000001 (ci-bot)",
            "AKIACIBOT00000000002 (ci-bot)",
            "AKIADEPLOY0000000001 (deploy-svc)"
        ]
    );
    assert_eq!(names(ok(&got, "aws.role", ACCOUNT)), vec!["ec2-reader"]);
    // Both of ci-bot's keys counted on its user record.
    let ci = ok(&got, "aws.iam_user", ACCOUNT)
        .iter()
        .find(|r| r.name == "ci-bot")
        .unwrap();
    assert_eq!(
        ci.raw["active_access_keys"].as_array().unwrap().len(),
        2,
        "{ci:?}"
    );
}

#[tokio::test]
async fn a_repeating_marker_is_a_pagination_loop() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    action("GetAccountAuthorizationDetails")
        .respond_with(xml(gaad(&[user("ci-bot")], &[], true, Some("same"))))
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 2);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    for rt in LISTINGS {
        let e = failed(&got, rt, ACCOUNT);
        assert!(
            matches!(e, ConnectorError::PaginationLoop { listing, detail }
                if listing.contains("GetAccountAuthorizationDetails") && detail.contains("already visited")),
            "{rt}: {e:?}"
        );
    }
    // Page 1, then the page `same` names, whose answer names `same` again: stop there.
    assert_eq!(count(&server, "GetAccountAuthorizationDetails").await, 2);
}

#[tokio::test]
async fn a_repeating_marker_on_one_users_keys_fails_only_the_key_listing() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    action("GetAccountAuthorizationDetails")
        .respond_with(xml(estate()))
        .mount(&server)
        .await;
    action("ListAccessKeys")
        .and(body_string_contains("UserName=ci-bot"))
        .respond_with(xml(keys(
            &[key("ci-bot", "AKIACIBOT00000000001")],
            true,
            Some("again"),
        )))
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 2);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    let e = failed(&got, "aws.access_key", ACCOUNT);
    assert!(
        matches!(e, ConnectorError::PaginationLoop { listing, .. }
            if listing.contains("ListAccessKeys") && listing.contains("ci-bot")),
        "{e:?}"
    );
    assert_eq!(ok(&got, "aws.iam_user", ACCOUNT).len(), 2);
    assert_eq!(ok(&got, "aws.role", ACCOUNT).len(), 1);
}

#[tokio::test]
async fn is_truncated_without_a_marker_is_malformed() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    action("GetAccountAuthorizationDetails")
        .respond_with(xml(gaad(&[user("ci-bot")], &[], true, None)))
        .expect(1)
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 2);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    for rt in LISTINGS {
        let e = failed(&got, rt, ACCOUNT);
        assert!(
            matches!(e, ConnectorError::Malformed { detail, .. } if detail.contains("no Marker")),
            "{rt}: {e:?}"
        );
    }
}

// ---- 4. URL-encoded policy documents ----

#[tokio::test]
async fn url_encoded_trust_and_inline_policies_are_analysed() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    mount_ci_bot_key(&server).await;
    let wild = github_trust(&format!(
        r#"{{"StringLike":{{"{GITHUB}:sub":"repo:acme/*"}},"StringEquals":{{"{GITHUB}:aud":"sts.amazonaws.com"}}}}"#
    ));
    let pinned = github_trust(&format!(
        r#"{{"StringEquals":{{"{GITHUB}:aud":"sts.amazonaws.com","{GITHUB}:sub":"repo:acme/web:ref:refs/heads/main"}}}}"#
    ));
    // Pretty-printed, as documents created from files are: newlines and spaces encoded too.
    let admin = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}\n  ]\n}";
    action("GetAccountAuthorizationDetails")
        .respond_with(xml(gaad(
            &[
                user_with("ci-bot", &[("everything", &url_encoded(admin))]),
                user_with("etl-bot", &[("read", &url_encoded(READ_ONLY))]),
            ],
            &[
                role(
                    "gha-wild",
                    &url_encoded(&wild),
                    &[("admin", &url_encoded(admin))],
                ),
                role(
                    "gha-pinned",
                    &url_encoded(&pinned),
                    &[("read", &url_encoded(READ_ONLY))],
                ),
            ],
            false,
            None,
        )))
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 2);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    let roles = ok(&got, "aws.role", ACCOUNT);
    let wild = roles.iter().find(|r| r.name == "gha-wild").unwrap();
    assert_eq!(rules(wild), vec!["aws.trust.wildcard_sub"], "{wild:?}");
    assert!(
        wild.signals[0]
            .message
            .contains("any repository under `acme`"),
        "{}",
        wild.signals[0].message
    );
    assert_eq!(
        wild.privilege,
        Privilege::Admin,
        "{:?}",
        wild.privilege_detail
    );
    // The raw record keeps the decoded document, not the percent-encoding.
    let doc = wild.raw["trust"]["document"].as_str().unwrap();
    assert!(doc.contains("repo:acme/*"), "{doc}");
    let pinned = roles.iter().find(|r| r.name == "gha-pinned").unwrap();
    assert!(rules(pinned).is_empty(), "{:?}", pinned.signals);
    assert_eq!(
        pinned.privilege,
        Privilege::Read,
        "{:?}",
        pinned.privilege_detail
    );
    let who = pinned.raw["trust"]["ci"][0]["who"][0].as_str().unwrap();
    assert!(who.contains("acme/web"), "{who}");

    let users = ok(&got, "aws.iam_user", ACCOUNT);
    let ci = users.iter().find(|r| r.name == "ci-bot").unwrap();
    assert_eq!(ci.privilege, Privilege::Admin, "{:?}", ci.privilege_detail);
    let etl = users.iter().find(|r| r.name == "etl-bot").unwrap();
    assert_eq!(etl.privilege, Privilege::Read, "{:?}", etl.privilege_detail);
    // A key acts with its user's privilege.
    let k = &ok(&got, "aws.access_key", ACCOUNT)[0];
    assert_eq!(k.privilege, Privilege::Admin);
}

// ---- 5. AccessDenied ----

#[tokio::test]
async fn access_denied_on_one_users_keys_fails_only_the_key_listing_and_names_the_user() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    action("GetAccountAuthorizationDetails")
        .respond_with(xml(estate()))
        .mount(&server)
        .await;
    mount_ci_bot_key(&server).await;
    action("ListAccessKeys")
        .and(body_string_contains("UserName=etl-bot"))
        .respond_with(error(
            403,
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/roster is not authorized to perform: iam:ListAccessKeys",
        ))
        .expect(1) // not retried
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 3);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    match failed(&got, "aws.access_key", ACCOUNT) {
        ConnectorError::Forbidden { url, needs } => {
            assert!(url.contains("etl-bot"), "{url}");
            assert!(!url.contains("ci-bot"), "{url}");
            assert_eq!(needs.as_deref(), Some("iam:ListAccessKeys"));
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(
        names(ok(&got, "aws.iam_user", ACCOUNT)),
        vec!["ci-bot", "etl-bot"]
    );
    assert_eq!(names(ok(&got, "aws.role", ACCOUNT)), vec!["ec2-reader"]);
}

const OTHER: &str = "210987654321";

fn assume_role_ok(key_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(
        format!(
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
             <Credentials><AccessKeyId>{key_id}</AccessKeyId><SecretAccessKey>secret</SecretAccessKey>\
             <SessionToken>token-{key_id}</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration>\
             </Credentials><AssumedRoleUser><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/roster/roster-sync</Arn>\
             <AssumedRoleId>AROAX:roster-sync</AssumedRoleId></AssumedRoleUser></AssumeRoleResult>\
             <ResponseMetadata><RequestId>sts</RequestId></ResponseMetadata></AssumeRoleResponse>"
        ),
        "text/xml",
    )
}

/// Two accounts through one endpoint, told apart by the credentials each account's assumed
/// role gets: account ACCOUNT is denied GAAD, account OTHER is read normally.
#[tokio::test]
async fn access_denied_on_gaad_fails_that_account_only_and_names_the_permission() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    for (acct, key_id) in [(ACCOUNT, "ASIADENIED"), (OTHER, "ASIAALLOWED")] {
        action("AssumeRole")
            .and(body_string_contains(format!(
                "RoleArn=arn%3Aaws%3Aiam%3A%3A{acct}%3Arole%2Froster"
            )))
            .respond_with(assume_role_ok(key_id))
            .mount(&server)
            .await;
    }
    action("GetAccountAuthorizationDetails")
        .and(header_regex("authorization", "Credential=ASIADENIED/"))
        .respond_with(error(
            403,
            "AccessDenied",
            "User: arn:aws:sts::123456789012:assumed-role/roster/roster-sync is not authorized to perform: iam:GetAccountAuthorizationDetails",
        ))
        .expect(1)
        .mount(&server)
        .await;
    action("GetAccountAuthorizationDetails")
        .and(header_regex("authorization", "Credential=ASIAALLOWED/"))
        .respond_with(xml(gaad(
            &[],
            &[role_in(OTHER, "ops", &url_encoded(&ec2_trust()), &[])],
            false,
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let mut s = setup(&server.uri(), 3);
    s.config.accounts = vec![
        account(
            ACCOUNT,
            Some(&format!("arn:aws:iam::{ACCOUNT}:role/roster")),
        ),
        account(OTHER, Some(&format!("arn:aws:iam::{OTHER}:role/roster"))),
    ];
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    for rt in LISTINGS {
        match failed(&got, rt, ACCOUNT) {
            ConnectorError::Forbidden { url, needs } => {
                assert!(url.contains(ACCOUNT), "{url}");
                assert_eq!(needs.as_deref(), Some("iam:GetAccountAuthorizationDetails"));
            }
            e => panic!("{rt}: {e:?}"),
        }
    }
    assert_eq!(names(ok(&got, "aws.role", OTHER)), vec!["ops"]);
    assert!(ok(&got, "aws.iam_user", OTHER).is_empty());
    assert!(ok(&got, "aws.access_key", OTHER).is_empty());
    assert!(ok(&got, "aws.role", OTHER)[0].key.scope == OTHER);
}

// ---- 6. truncated XML ----

#[tokio::test]
async fn a_truncated_xml_body_is_an_error_not_a_panic_nor_records() {
    // The SDK's XML reader alone accepts this body: it listed `ci-bot` and a user `etl`, and
    // without `IsTruncated` took the page for the last one, so the role after the cut would
    // have been swept as deleted. The connector's client checks the document is whole.
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    let full = estate();
    let cut = &full[..full.find("<UserName>etl-bot").unwrap() + "<UserName>etl".len()];
    action("GetAccountAuthorizationDetails")
        .respond_with(xml(cut.to_owned()))
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 2);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    for rt in LISTINGS {
        let e = failed(&got, rt, ACCOUNT);
        assert!(
            matches!(e, ConnectorError::Malformed { url, detail }
                if url.contains("GetAccountAuthorizationDetails") && detail.contains("cut short")),
            "{rt}: {e:?}"
        );
    }
    // Reported on the first answer (the check is not a retryable error for the SDK).
    assert_eq!(count(&server, "GetAccountAuthorizationDetails").await, 1);
    assert_eq!(count(&server, "ListAccessKeys").await, 0);
}

#[tokio::test]
async fn a_truncated_list_access_keys_body_fails_only_the_key_listing() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    action("GetAccountAuthorizationDetails")
        .respond_with(xml(estate()))
        .mount(&server)
        .await;
    let full = keys(&[key("ci-bot", "AKIACIBOT00000000001")], false, None);
    let cut = &full[..full.find("</AccessKeyId>").unwrap()];
    action("ListAccessKeys")
        .and(body_string_contains("UserName=ci-bot"))
        .respond_with(xml(cut.to_owned()))
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 2);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    let e = failed(&got, "aws.access_key", ACCOUNT);
    assert!(
        matches!(e, ConnectorError::Malformed { url, detail }
            if url.contains("ListAccessKeys") && detail.contains("</ListAccessKeysResponse>")),
        "{e:?}"
    );
    assert_eq!(ok(&got, "aws.iam_user", ACCOUNT).len(), 2);
    assert_eq!(ok(&got, "aws.role", ACCOUNT).len(), 1);
}

// ---- 7. credential report unavailable ----

#[tokio::test]
async fn without_the_credential_report_usage_comes_from_get_access_key_last_used() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    action("GetCredentialReport")
        .respond_with(error(
            403,
            "AccessDenied",
            "not authorized to perform: iam:GetCredentialReport",
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    action("GetAccountAuthorizationDetails")
        .respond_with(xml(estate()))
        .mount(&server)
        .await;
    action("ListAccessKeys")
        .and(body_string_contains("UserName=ci-bot"))
        .respond_with(xml(keys(
            &[key("ci-bot", "AKIACIBOT00000000001")],
            false,
            None,
        )))
        .mount(&server)
        .await;
    action("ListAccessKeys")
        .and(body_string_contains("UserName=etl-bot"))
        .respond_with(xml(keys(
            &[key("etl-bot", "AKIAETLBOT0000000001")],
            false,
            None,
        )))
        .mount(&server)
        .await;
    action("GetAccessKeyLastUsed")
        .and(body_string_contains("AccessKeyId=AKIACIBOT00000000001"))
        .respond_with(ok_xml(
            "GetAccessKeyLastUsed",
            "<UserName>ci-bot</UserName><AccessKeyLastUsed><LastUsedDate>2026-02-01T12:00:00Z</LastUsedDate>\
             <ServiceName>s3</ServiceName><Region>us-east-1</Region></AccessKeyLastUsed>",
        ))
        .expect(1)
        .mount(&server)
        .await;
    action("GetAccessKeyLastUsed")
        .and(body_string_contains("AccessKeyId=AKIAETLBOT0000000001"))
        .respond_with(ok_xml(
            "GetAccessKeyLastUsed",
            "<UserName>etl-bot</UserName><AccessKeyLastUsed><ServiceName>N/A</ServiceName>\
             <Region>N/A</Region></AccessKeyLastUsed>",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 2);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    assert!(count(&server, "GetCredentialReport").await >= 1);
    assert_eq!(count(&server, "GetAccessKeyLastUsed").await, 2);
    let keys = ok(&got, "aws.access_key", ACCOUNT);
    let used = keys
        .iter()
        .find(|k| k.name.starts_with("AKIACIBOT"))
        .unwrap();
    assert_eq!(used.usage, Usage::Used);
    assert_eq!(
        used.last_used_at.map(|t| t.to_rfc3339()),
        Some("2026-02-01T12:00:00+00:00".to_owned())
    );
    assert_eq!(used.raw["usage_source"], "get_access_key_last_used");
    assert_eq!(used.raw["last_used_service"], "s3");
    let never = keys
        .iter()
        .find(|k| k.name.starts_with("AKIAETLBOT"))
        .unwrap();
    assert_eq!(never.usage, Usage::NeverUsed);
    assert_eq!(never.raw["usage_source"], "get_access_key_last_used");
    // The users follow their keys.
    let users = ok(&got, "aws.iam_user", ACCOUNT);
    let ci = users.iter().find(|u| u.name == "ci-bot").unwrap();
    assert_eq!(ci.usage, Usage::Used);
    let etl = users.iter().find(|u| u.name == "etl-bot").unwrap();
    assert_eq!(etl.usage, Usage::NeverUsed);
}

#[tokio::test]
async fn with_the_credential_report_no_key_is_asked_about_one_by_one() {
    let server = MockServer::start().await;
    mount_basics(&server, &["ci-bot", "etl-bot"]).await;
    mount_ci_bot_key(&server).await;
    action("GetAccountAuthorizationDetails")
        .respond_with(xml(estate()))
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 2);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    assert_healthy_estate(&got);
    assert_eq!(count(&server, "GetCredentialReport").await, 1);
    assert_eq!(count(&server, "GetAccessKeyLastUsed").await, 0);
    // The report has no column for the key: nothing says, and nothing is guessed.
    let key = &ok(&got, "aws.access_key", ACCOUNT)[0];
    assert_eq!(key.usage, Usage::NoTelemetry);
    assert_eq!(key.raw["usage_source"], "none");
    assert_eq!(
        key.raw["usage_detail"],
        "no credential report column matches the key"
    );
}

// ---- 8. keys the credential report cannot tell apart ----

fn key_created(user: &str, id: &str, created: &str) -> String {
    format!(
        "<member><UserName>{user}</UserName><AccessKeyId>{id}</AccessKeyId><Status>Active</Status>\
         <CreateDate>{created}</CreateDate></member>"
    )
}

/// A credential report with one row for `user` whose two key columns were rotated at the given
/// times (to the second, as IAM writes them) and last used at the given times (`N/A`: never).
fn report_with_keys(user: &str, columns: [(&str, &str); 2]) -> ResponseTemplate {
    let [(rotated1, used1), (rotated2, used2)] = columns;
    let service = |used: &str| if used == "N/A" { "N/A" } else { "s3" };
    let csv = format!(
        "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,\
         password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,\
         access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,\
         access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,\
         access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,\
         cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n\
         {user},arn:aws:iam::{ACCOUNT}:user/{user},2026-01-05T10:00:00+00:00,false,N/A,N/A,N/A,\
         false,true,{rotated1},{used1},us-east-1,{},true,{rotated2},{used2},us-east-1,{},\
         false,N/A,false,N/A\n",
        service(used1),
        service(used2),
    );
    xml(response(
        "GetCredentialReport",
        &format!(
            "<Content>{}</Content><ReportFormat>text/csv</ReportFormat>\
             <GeneratedTime>2026-03-07T00:00:00Z</GeneratedTime>",
            aws_smithy_types::base64::encode(csv.as_bytes())
        ),
    ))
}

const FIRST: &str = "AKIACIBOT00000000001";
const SECOND: &str = "AKIACIBOT00000000002";

/// ci-bot with two keys created at `created`, a report saying `columns`, and the rest of a
/// small healthy account.
async fn mount_two_keys(server: &MockServer, created: [&str; 2], columns: [(&str, &str); 2]) {
    mount_basics(server, &["ci-bot", "etl-bot"]).await;
    action("GetCredentialReport")
        .respond_with(report_with_keys("ci-bot", columns))
        .with_priority(1)
        .mount(server)
        .await;
    action("GetAccountAuthorizationDetails")
        .respond_with(xml(estate()))
        .mount(server)
        .await;
    action("ListAccessKeys")
        .and(body_string_contains("UserName=ci-bot"))
        .respond_with(xml(keys(
            &[
                key_created("ci-bot", FIRST, created[0]),
                key_created("ci-bot", SECOND, created[1]),
            ],
            false,
            None,
        )))
        .mount(server)
        .await;
}

fn key_by_id<'a>(keys: &'a [Record], id: &str) -> &'a Record {
    keys.iter()
        .find(|k| k.key.external_id == id)
        .unwrap_or_else(|| panic!("no key {id} in {:?}", names(keys)))
}

/// Two keys created in one second match the same report column: the report would say the used
/// one's usage of both. Each is asked about instead.
#[tokio::test]
async fn keys_created_in_the_same_second_are_asked_about_one_by_one() {
    let server = MockServer::start().await;
    mount_two_keys(
        &server,
        ["2026-01-06T10:00:00.100Z", "2026-01-06T10:00:00.900Z"],
        [
            ("2026-01-06T10:00:00+00:00", "2026-02-01T12:00:00+00:00"),
            ("2026-01-06T10:00:00+00:00", "N/A"),
        ],
    )
    .await;
    action("GetAccessKeyLastUsed")
        .and(body_string_contains(format!("AccessKeyId={FIRST}")))
        .respond_with(ok_xml(
            "GetAccessKeyLastUsed",
            "<UserName>ci-bot</UserName><AccessKeyLastUsed><ServiceName>N/A</ServiceName>\
             <Region>N/A</Region></AccessKeyLastUsed>",
        ))
        .expect(1)
        .mount(&server)
        .await;
    action("GetAccessKeyLastUsed")
        .and(body_string_contains(format!("AccessKeyId={SECOND}")))
        .respond_with(ok_xml(
            "GetAccessKeyLastUsed",
            "<UserName>ci-bot</UserName><AccessKeyLastUsed><LastUsedDate>2026-03-01T08:00:00Z</LastUsedDate>\
             <ServiceName>sts</ServiceName><Region>us-east-1</Region></AccessKeyLastUsed>",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 2);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    assert_eq!(count(&server, "GetAccessKeyLastUsed").await, 2);
    let keys = ok(&got, "aws.access_key", ACCOUNT);
    let first = key_by_id(keys, FIRST);
    assert_eq!(first.usage, Usage::NeverUsed, "{}", first.raw);
    assert_eq!(first.raw["usage_source"], "get_access_key_last_used");
    assert_eq!(first.raw["last_used_service"], serde_json::Value::Null);
    let second = key_by_id(keys, SECOND);
    assert_eq!(second.usage, Usage::Used, "{}", second.raw);
    assert_eq!(
        second.last_used_at.map(|t| t.to_rfc3339()),
        Some("2026-03-01T08:00:00+00:00".to_owned())
    );
    assert_eq!(second.raw["usage_source"], "get_access_key_last_used");
    assert_eq!(second.raw["last_used_service"], "sts");
    assert!(
        second.raw["usage_detail"]
            .as_str()
            .is_some_and(|d| d.contains("same second")),
        "{}",
        second.raw
    );
}

/// Clean twin: keys created in different seconds are matched from the report, with no call per
/// key.
#[tokio::test]
async fn keys_created_in_different_seconds_are_matched_from_the_report() {
    let server = MockServer::start().await;
    mount_two_keys(
        &server,
        ["2026-01-06T10:00:00.900Z", "2026-01-06T10:00:01.100Z"],
        [
            ("2026-01-06T10:00:00+00:00", "N/A"),
            ("2026-01-06T10:00:01+00:00", "2026-03-01T08:00:00+00:00"),
        ],
    )
    .await;
    let s = setup(&server.uri(), 2);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    assert_eq!(count(&server, "GetAccessKeyLastUsed").await, 0);
    let keys = ok(&got, "aws.access_key", ACCOUNT);
    let first = key_by_id(keys, FIRST);
    assert_eq!(first.usage, Usage::NeverUsed, "{}", first.raw);
    assert_eq!(first.raw["usage_source"], "credential_report");
    let second = key_by_id(keys, SECOND);
    assert_eq!(second.usage, Usage::Used, "{}", second.raw);
    assert_eq!(
        second.last_used_at.map(|t| t.to_rfc3339()),
        Some("2026-03-01T08:00:00+00:00".to_owned())
    );
    assert_eq!(second.raw["usage_source"], "credential_report");
    assert_eq!(second.raw["last_used_service"], "s3");
}

/// When IAM refuses GetAccessKeyLastUsed, the keys the report cannot tell apart are reported
/// as not seen — not given the report's guess — and the sync lists (and so keeps) every key.
#[tokio::test]
async fn access_denied_on_get_access_key_last_used_leaves_usage_unknown_and_keeps_the_keys() {
    let server = MockServer::start().await;
    mount_two_keys(
        &server,
        ["2026-01-06T10:00:00.100Z", "2026-01-06T10:00:00.900Z"],
        [
            ("2026-01-06T10:00:00+00:00", "2026-02-01T12:00:00+00:00"),
            ("2026-01-06T10:00:00+00:00", "N/A"),
        ],
    )
    .await;
    action("GetAccessKeyLastUsed")
        .respond_with(error(
            403,
            "AccessDenied",
            "not authorized to perform: iam:GetAccessKeyLastUsed",
        ))
        .mount(&server)
        .await;
    let s = setup(&server.uri(), 2);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let got = sync(&c).await;
    // Refusals are not retried.
    assert_eq!(count(&server, "GetAccessKeyLastUsed").await, 2);
    let keys = ok(&got, "aws.access_key", ACCOUNT);
    assert_eq!(
        names(keys),
        vec![
            "AKIACIBOT00000000001 (ci-bot)",
            "AKIACIBOT00000000002 (ci-bot)"
        ]
    );
    for k in keys {
        assert_eq!(k.usage, Usage::NoTelemetry, "{}", k.raw);
        assert_eq!(k.last_used_at, None);
        assert_eq!(k.raw["usage_source"], "get_access_key_last_used");
        assert_eq!(k.raw["last_used_service"], serde_json::Value::Null);
        let detail = k.raw["usage_detail"].as_str().unwrap_or("");
        assert!(
            detail.contains("GetAccessKeyLastUsed failed")
                && detail.contains("iam:GetAccessKeyLastUsed"),
            "{detail}"
        );
    }
    // The user's usage is unknown too: the report's column cannot vouch for either key.
    let users = ok(&got, "aws.iam_user", ACCOUNT);
    let ci = users.iter().find(|u| u.name == "ci-bot").unwrap();
    assert_eq!(ci.usage, Usage::NoTelemetry);
    assert_eq!(ci.last_used_at, None);
    assert_eq!(ok(&got, "aws.role", ACCOUNT).len(), 1);
}

/// The connector answers for its remediation, as the app's registry asks for it.
#[tokio::test]
async fn the_connector_hands_out_its_remediator() {
    let server = MockServer::start().await;
    let s = setup(&server.uri(), 1);
    let c = AwsConnector::new(s.config.clone()).unwrap();
    let as_connector: &dyn Connector = &c;
    let remediator = as_connector.remediator().unwrap();
    assert_eq!(
        remediator.actions("aws.access_key"),
        ["deactivate", "delete"]
    );
    assert!(remediator.actions("aws.iam_user").is_empty());
}
