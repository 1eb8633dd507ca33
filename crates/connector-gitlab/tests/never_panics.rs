//! Issue 18: no response can panic the GitLab connector, end to end. The fixture estate on
//! wiremock (group and instance-wide) with one GET route's body mutated (a node replaced by any
//! JSON, or removed), replaced by any JSON, or by any bytes; every listing, with its project and
//! service-account walks and runner detail reads, gives records or an error that says what was
//! wrong.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use proptest::prelude::*;
use roster_connector_gitlab::testing::routes;
use roster_connector_gitlab::{GitlabConfig, GitlabConnector};
use roster_connector_sdk::{Connector, ConnectorError, FakeClock, Secret, list_all};
use serde_json::Value;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

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

/// The GET routes that have a body: the ones the listings read.
fn gets() -> Vec<Value> {
    routes()
        .into_iter()
        .filter(|r| r.get("method").and_then(Value::as_str).unwrap_or("GET") == "GET")
        .filter(|r| r.get("body").is_some_and(|b| !b.is_null()))
        .collect()
}

fn changed_estate() -> impl Strategy<Value = (usize, Answer)> {
    let n = gets().len();
    prop_oneof![
        6 => (0..n, prop::collection::vec(any::<usize>(), 0..7), json_value(), any::<bool>())
            .prop_map(|(i, path, new, remove)| {
                let mut body = gets()[i]["body"].clone();
                mutate(&mut body, &path, new, remove);
                (i, Answer::Json(body))
            }),
        2 => (0..n, json_value()).prop_map(|(i, v)| (i, Answer::Json(v))),
        1 => (0..n, prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(i, b)| (i, Answer::Bytes(b))),
    ]
}

/// Every route as `testing::mount` mounts it, GET route `changed` answering `answer`.
async fn mount(server: &MockServer, changed: Option<(usize, &Answer)>) {
    let base = server.uri();
    let changed_route = changed.map(|(i, _)| gets()[i].clone());
    for route in routes() {
        let m = route
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_string();
        let p = route
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or("/")
            .to_string();
        let status = route
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or(200);
        let mut response = ResponseTemplate::new(status);
        match changed.filter(|_| changed_route.as_ref() == Some(&route)) {
            Some((_, Answer::Json(v))) => response = response.set_body_json(v),
            Some((_, Answer::Bytes(b))) => {
                response = response
                    .insert_header("content-type", "application/json")
                    .set_body_bytes(b.clone());
            }
            None => {
                if let Some(body) = route.get("body") {
                    response = response.set_body_json(body);
                }
            }
        }
        if let Some(Value::Object(headers)) = route.get("headers") {
            for (name, value) in headers {
                let value = value.as_str().unwrap_or_default().replace("{base}", &base);
                response = response.insert_header(name.as_str(), value.as_str());
            }
        }
        let mut mock = Mock::given(method(m.as_str())).and(path(p.as_str()));
        let mut specific = false;
        if let Some(Value::Object(query)) = route.get("query") {
            for (name, value) in query {
                mock = mock.and(query_param(
                    name.as_str(),
                    value.as_str().unwrap_or_default(),
                ));
                specific = true;
            }
        }
        if let Some(Value::Array(missing)) = route.get("query_missing") {
            for name in missing.iter().filter_map(Value::as_str) {
                mock = mock.and(query_param_is_missing(name));
            }
        }
        mock.respond_with(response)
            .with_priority(if specific { 1 } else { 5 })
            .mount(server)
            .await;
    }
}

/// Every listing of the group and the instance: how many records each gave, or an error
/// naming nothing.
async fn every_listing(server: &MockServer) -> Result<Vec<usize>, String> {
    let mut config = GitlabConfig::new(server.uri(), &["acme"]);
    config.instance = true;
    let connector = GitlabConnector::with_token(
        config,
        Secret::new("glpat-test"),
        Arc::new(FakeClock::default()),
    )
    .map_err(|e| e.to_string())?;
    let mut counts = Vec::new();
    for listing in connector.plan().await.map_err(|e| e.to_string())? {
        let result = list_all(&connector, &listing, 100).await;
        counts.push(result.as_ref().map_or(0, Vec::len));
        match result {
            Ok(_) => {}
            Err(ConnectorError::Malformed { url, detail }) => {
                if url.is_empty() || detail.trim().is_empty() {
                    return Err(format!(
                        "{listing}: Malformed names nothing: `{url}` `{detail}`"
                    ));
                }
            }
            Err(e) if e.to_string().trim().is_empty() => {
                return Err(format!("{listing}: an empty error: {e:?}"));
            }
            Err(_) => {}
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
    fn any_changed_route_is_decoded_or_named((changed, answer) in changed_estate()) {
        let outcome = runtime().block_on(async {
            let server = MockServer::start().await;
            mount(&server, Some((changed, &answer))).await;
            every_listing(&server).await
        });
        prop_assert!(outcome.is_ok(), "{} answering {answer:?}: {outcome:?}", gets()[changed]["path"]);
    }
}

/// The unchanged estate lists records in every listing, so the mutations start from what the
/// connector takes.
#[test]
fn the_fixture_estate_lists() {
    runtime().block_on(async {
        let server = MockServer::start().await;
        mount(&server, None).await;
        let counts = every_listing(&server).await.unwrap();
        assert!(counts.iter().all(|n| *n > 0), "{counts:?}");
    });
}
