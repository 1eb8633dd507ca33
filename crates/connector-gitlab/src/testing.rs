//! Test support (feature `testing`): the wiremock fixtures of a GitLab estate
//! (`fixtures/estate.json`), mounted on a server for this crate's tests and the CLI's end-to-end
//! test, and the secrets planted in them.

use serde_json::Value;
use wiremock::matchers::{method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The fixture document: `{"routes": [{method?, path, query?, query_missing?, status?, headers?,
/// schema?, nested?, body?}]}`.
pub const ESTATE: &str = include_str!("../fixtures/estate.json");

/// Values planted in the fixtures (CI/CD variable values, a trigger token) that must never reach
/// a record, the database or a log.
pub const PLANTED_SECRETS: &[&str] = &[
    "rosterPlantedCiValue7f3a9c",
    "rosterPlantedTriggerToken5be1",
];

/// The parsed fixture routes.
pub fn routes() -> Vec<Value> {
    serde_json::from_str::<Value>(ESTATE)
        .ok()
        .and_then(|v| v.get("routes").and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// Mounts every fixture route on `server`. Routes with query matchers win over those without.
pub async fn mount(server: &MockServer) {
    let base = server.uri();
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
        if let Some(body) = route.get("body") {
            response = response.set_body_json(body);
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
