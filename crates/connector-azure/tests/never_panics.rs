//! Issue 18: no response can panic the Entra ID connector. Its decoders are async and read
//! owners, permissions and sign-ins as they map, so they are driven whole: the Graph fixture
//! estate on wiremock with one endpoint's body mutated (a node replaced by any JSON, or
//! removed), replaced by any JSON, or by any bytes; every listing gives records or an error
//! that says what was wrong. And any issuer and subject through `federation_scope`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use proptest::prelude::*;
use roster_connector_azure::{AzureConfig, AzureConnector, Credentials, federation_scope};
use roster_connector_sdk::{ConnectorError, FakeClock, Listing, Secret, list_all};
use serde_json::Value;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// What one fixture endpoint answers instead of its body.
#[derive(Debug, Clone)]
enum Answer {
    Json(Value),
    Bytes(Vec<u8>),
}

/// Any JSON value, a few levels deep, with the field names Graph items have.
fn json_value() -> impl Strategy<Value = Value> + Clone {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[ -~]{0,10}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
        prop::sample::select(
            &[
                "",
                "2024-01-31T10:00:00Z",
                "+262143-12-31T23:59:59Z",
                "9999-12-31T23:59:59Z",
                "0001-01-01T00:00:00Z",
                "00000003-0000-0000-c000-000000000000",
                "repo:acme/web:ref:refs/heads/main",
                "https://token.actions.githubusercontent.com",
                "Directory.ReadWrite.All",
                "AsymmetricX509Cert",
            ][..]
        )
        .prop_map(|s| Value::String(s.into())),
    ];
    let field = prop_oneof![
        4 => prop::sample::select(&[
            "id", "appId", "displayName", "createdDateTime", "passwordCredentials",
            "keyCredentials", "keyId", "endDateTime", "startDateTime", "customKeyIdentifier",
            "type", "usage", "issuer", "subject", "audiences", "servicePrincipalType",
            "appOwnerOrganizationId", "accountEnabled", "appRoleId", "resourceId", "value",
            "lastSignInActivity", "lastSignInDateTime", "roleDefinitionId", "principalId",
            "userPrincipalName", "mail", "@odata.type", "@odata.nextLink",
            "disabledByMicrosoftStatus", "requiredResourceAccess", "resourceAppId",
            "resourceAccess", "appRoles", "signInAudience", "tags", "notes",
        ][..])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z@.]{0,10}",
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(field.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `v` with the node at `path` replaced by `new`, or removed when `remove`.
fn mutate(v: &mut Value, path: &[usize], new: Value, remove: bool) {
    let Some((&step, rest)) = path.split_first() else {
        *v = new;
        return;
    };
    match v {
        Value::Object(m) if !m.is_empty() => {
            let key = m.keys().nth(step % m.len()).cloned().unwrap();
            if rest.is_empty() && remove {
                m.remove(&key);
            } else {
                mutate(m.get_mut(&key).unwrap(), rest, new, remove);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = step % a.len();
            if rest.is_empty() && remove {
                a.remove(i);
            } else {
                mutate(&mut a[i], rest, new, remove);
            }
        }
        _ => *v = new,
    }
}

fn fixture_count() -> usize {
    support::fixtures()["fixtures"].as_array().unwrap().len()
}

/// Which fixture endpoint answers differently, and what it answers.
fn changed_estate() -> impl Strategy<Value = (usize, Answer)> {
    let n = fixture_count();
    prop_oneof![
        6 => (
            0..n,
            prop::collection::vec(any::<usize>(), 0..7),
            json_value(),
            any::<bool>(),
        )
            .prop_map(|(i, path, new, remove)| {
                let mut body = support::fixtures()["fixtures"][i]["body"].clone();
                mutate(&mut body, &path, new, remove);
                (i, Answer::Json(body))
            }),
        2 => (0..n, json_value()).prop_map(|(i, v)| (i, Answer::Json(v))),
        1 => (0..n, prop::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(i, b)| (i, Answer::Bytes(b))),
    ]
}

/// The token endpoint and every fixture, fixture `changed` answering `answer`.
async fn mount(server: &MockServer, changed: usize, answer: &Answer) {
    Mock::given(method("POST"))
        .and(path(support::token_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer", "expires_in": 3599, "access_token": support::ACCESS_TOKEN
        })))
        .mount(server)
        .await;
    for (i, f) in support::fixtures()["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let mut mock = Mock::given(method("GET")).and(path(f["path"].as_str().unwrap()));
        let mut priority = 5;
        if let Some(q) = f.get("query").and_then(Value::as_object) {
            for (k, v) in q {
                mock = mock.and(query_param(k.as_str(), v.as_str().unwrap()));
            }
            priority = 3;
        }
        let response = match (i == changed, answer) {
            (false, _) => ResponseTemplate::new(200).set_body_json(f["body"].clone()),
            (true, Answer::Json(v)) => ResponseTemplate::new(200).set_body_json(v.clone()),
            (true, Answer::Bytes(b)) => ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_bytes(b.clone()),
        };
        mock.respond_with(response)
            .with_priority(priority)
            .mount(server)
            .await;
    }
}

/// Every listing of the connector against `server`: records, or an error naming what was
/// wrong. How many records each gave (0 for a refused listing).
async fn every_listing(server: &MockServer) -> Result<Vec<usize>, String> {
    let mut config = AzureConfig::new(
        support::tenant(),
        "99999999-0000-4000-8000-000000000099",
        server.uri(),
    );
    config.token_url = Some(format!("{}{}", server.uri(), support::token_path()));
    let connector = AzureConnector::with_credentials(
        config,
        Credentials::Secret(Secret::new("client-s3cret")),
        Arc::new(FakeClock::default()),
    )
    .map_err(|e| e.to_string())?;
    let mut counts = Vec::new();
    for resource in roster_connector_azure::resource_types() {
        let listing = Listing::new(resource, support::tenant());
        let result = list_all(&connector, &listing, 100).await;
        counts.push(result.as_ref().map_or(0, Vec::len));
        match result {
            Ok(_) => {}
            Err(ConnectorError::Malformed { url, detail }) => {
                if url.is_empty() || detail.trim().is_empty() {
                    return Err(format!(
                        "{resource}: Malformed names nothing: `{url}` `{detail}`"
                    ));
                }
            }
            Err(e) => {
                if e.to_string().trim().is_empty() {
                    return Err(format!("{resource}: an empty error: {e:?}"));
                }
            }
        }
    }
    Ok(counts)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    // Each case serves the whole estate and drains every listing over loopback: few cases.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_changed_endpoint_is_decoded_or_named((changed, answer) in changed_estate()) {
        let rt = runtime();
        let outcome = rt.block_on(async {
            let server = MockServer::start().await;
            mount(&server, changed, &answer).await;
            every_listing(&server).await
        });
        prop_assert!(outcome.is_ok(), "fixture {changed} answering {answer:?}: {outcome:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any issuer and subject: a scope or none, never a panic.
    #[test]
    fn any_federated_subject(
        issuer in prop_oneof![
            Just("https://token.actions.githubusercontent.com".to_owned()),
            Just("https://gitlab.com".to_owned()),
            Just("https://token.actions.githubusercontent.com/acme".to_owned()),
            any::<String>(),
        ],
        subject in prop_oneof![
            prop::collection::vec(prop::sample::select(&[
                "repo", "acme/web", "ref", "refs/heads/main", "environment", "prod",
                "pull_request", "project_path", "acme/*", "ref_type", "branch", "*", "",
                "job_workflow_ref", "é", "::",
            ][..]), 0..8).prop_map(|p| p.join(":")),
            any::<String>(),
        ],
    ) {
        let _ = federation_scope(&issuer, &subject);
    }
}

/// The unchanged estate lists cleanly, so the mutations start from what the connector takes.
#[test]
fn the_fixture_estate_lists() {
    let rt = runtime();
    rt.block_on(async {
        let server = MockServer::start().await;
        support::mount(&server).await;
        let counts = every_listing(&server).await.unwrap();
        assert!(counts.iter().all(|n| *n > 0), "{counts:?}");
    });
}

/// PEM-shaped text: the labels the reader looks for around any base64 or bytes.
fn pem_text() -> impl Strategy<Value = String> {
    let label = prop::sample::select(
        &[
            "CERTIFICATE",
            "PRIVATE KEY",
            "RSA PRIVATE KEY",
            "PUBLIC KEY",
            "",
        ][..],
    );
    let body = prop_oneof![
        "[A-Za-z0-9+/=\n]{0,80}",
        any::<String>(),
        Just("MIIB".to_owned()),
    ];
    prop_oneof![
        prop::collection::vec((label, body, any::<bool>()), 0..3).prop_map(|blocks| {
            blocks
                .into_iter()
                .map(|(l, b, closed)| {
                    let end = if closed {
                        format!("-----END {l}-----\n")
                    } else {
                        String::new()
                    };
                    format!("-----BEGIN {l}-----\n{b}\n{end}")
                })
                .collect()
        }),
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A certificate file, any text: a key or an error that says what is missing.
    #[test]
    fn any_certificate_pem(cert in pem_text(), key in pem_text()) {
        if let Err(e) = roster_connector_azure::CertificateKey::from_pem(&cert, &key) {
            prop_assert!(!e.trim().is_empty());
        }
    }
}
