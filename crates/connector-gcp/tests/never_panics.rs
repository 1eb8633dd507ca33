//! Issue 18: no response can panic the GCP connector, end to end. The fixture estate on
//! wiremock with one GET endpoint's body mutated (a node replaced by any JSON, or removed),
//! replaced by any JSON, or by any bytes; every listing of both projects (with the IAM policy,
//! the activity API and the per-account and per-pool walks) gives records or an error that says
//! what was wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use proptest::prelude::*;
use roster_connector_gcp::testing::estate::{ACCESS_TOKEN, Estate};
use roster_connector_gcp::testing::{PROJECTS, fixture_json, manifest};
use roster_connector_gcp::{Credentials, GcpConfig, GcpConnector, resource_types};
use roster_connector_sdk::{ConnectorError, FakeClock, Listing, Secret, list_all};
use serde_json::Value;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, ResponseTemplate};

#[derive(Debug, Clone)]
enum Answer {
    Json(Value),
    Bytes(Vec<u8>),
}

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
                "0001-01-01T00:00:00Z",
                "roles/owner",
                "serviceAccount:ci@acme-prod.iam.gserviceaccount.com",
                "USER_MANAGED",
                "SYSTEM_MANAGED",
                "DELETED",
                "assertion.repository == 'acme/web'",
            ][..]
        )
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z.]{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

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

/// The fixtures the listings read: every GET but remediation's key read, and the IAM policy.
fn gets() -> Vec<roster_connector_gcp::testing::FixtureEntry> {
    manifest()
        .unwrap()
        .into_iter()
        .filter(|e| {
            (e.http == "GET" && e.method != "iam.projects.serviceAccounts.keys.get")
                || e.path.ends_with(":getIamPolicy")
        })
        .collect()
}

fn changed_estate() -> impl Strategy<Value = (usize, Answer)> {
    let n = gets().len();
    prop_oneof![
        6 => (0..n, prop::collection::vec(any::<usize>(), 0..7), json_value(), any::<bool>())
            .prop_map(|(i, path, new, remove)| {
                let mut body = fixture_json(&gets()[i].file);
                mutate(&mut body, &path, new, remove);
                (i, Answer::Json(body))
            }),
        2 => (0..n, json_value()).prop_map(|(i, v)| (i, Answer::Json(v))),
        1 => (0..n, prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(i, b)| (i, Answer::Bytes(b))),
    ]
}

/// Every listing of both projects: how many records each gave, or an error naming nothing.
async fn every_listing(estate: &Estate) -> Result<Vec<usize>, String> {
    let connector = GcpConnector::with_credentials(
        GcpConfig::with_base(&estate.uri(), PROJECTS),
        Credentials::AccessToken(Secret::new(ACCESS_TOKEN)),
        Arc::new(FakeClock::default()),
    )
    .map_err(|e| e.to_string())?;
    let mut counts = Vec::new();
    for project in PROJECTS {
        for resource in resource_types() {
            let result = list_all(&connector, &Listing::new(resource, *project), 100).await;
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
                Err(e) if e.to_string().trim().is_empty() => {
                    return Err(format!("{resource}: an empty error: {e:?}"));
                }
                Err(_) => {}
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
        let outcome = runtime().block_on(async {
            let estate = Estate::start().await;
            // Mounted over the estate's own answer for the same request.
            let entry = &gets()[changed];
            let p = format!("/{}", entry.path);
            let mock = Mock::given(method(entry.http.as_str())).and(path(p.as_str()));
            let mock = match &entry.page_token {
                None => mock,
                Some(None) => mock.and(query_param_is_missing("pageToken")),
                Some(Some(t)) => mock.and(query_param("pageToken", t.as_str())),
            };
            let response = match &answer {
                Answer::Json(v) => ResponseTemplate::new(200).set_body_json(v.clone()),
                Answer::Bytes(b) => ResponseTemplate::new(200)
                    .insert_header("content-type", "application/json")
                    .set_body_bytes(b.clone()),
            };
            mock.respond_with(response).with_priority(1).mount(&estate.server).await;
            every_listing(&estate).await
        });
        prop_assert!(outcome.is_ok(), "{} answering {answer:?}: {outcome:?}", gets()[changed].file);
    }
}

/// The unchanged estate lists records in the first project's every listing, so the mutations
/// start from what the connector takes.
#[test]
fn the_fixture_estate_lists() {
    runtime().block_on(async {
        let estate = Estate::start().await;
        let counts = every_listing(&estate).await.unwrap();
        let first = &counts[..resource_types().len()];
        assert!(first.iter().all(|n| *n > 0), "{counts:?}");
    });
}
