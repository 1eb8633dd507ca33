//! The fixtures cannot drift into invention: every object of every fixture body carries only
//! fields that the response schemas of npm `@gitbeaker/core` (a maintained GitLab API client,
//! pinned in `tests/gitlab/setup.sh`) declare, nested objects included.
//!
//! A few fields GitLab returns are missing from gitbeaker's types; they are allowed only through
//! [`DOCUMENTED_BY_GITLAB`], each with the GitLab documentation or merge request that defines it,
//! so the exceptions stay few, explicit and reviewed.
//!
//! Needs `ROSTER_GITLAB_SCHEMAS` (the extracted field lists): `eval "$(tests/gitlab/setup.sh)"`.
//! Without it the test says it is skipped and passes, unless `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use roster_connector_gitlab::testing::routes;
use serde_json::{Value, json};

/// Fields GitLab returns that gitbeaker 43.8.0's types lack: (schema, field, where GitLab
/// defines it).
const DOCUMENTED_BY_GITLAB: &[(&str, &str, &str)] = &[
    (
        "AccessTokenSchema",
        "last_used_at",
        "docs.gitlab.com/api/project_access_tokens and /api/group_access_tokens: list and get responses",
    ),
    (
        "ExpandedRunnerSchema",
        "token_expires_at",
        "docs.gitlab.com/api/runners, get runner's details (gitlab-org/gitlab MR 253821)",
    ),
];

type Schemas = BTreeMap<String, BTreeSet<String>>;

fn load() -> Option<Schemas> {
    let Ok(path) = std::env::var("ROSTER_GITLAB_SCHEMAS") else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("ROSTER_GITLAB_SCHEMAS is not set; CI runs tests/gitlab/setup.sh");
        }
        println!(
            "skipped: ROSTER_GITLAB_SCHEMAS not set (eval \"$(tests/gitlab/setup.sh)\" sets it)"
        );
        return None;
    };
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        doc["source"]
            .as_str()
            .unwrap()
            .starts_with("@gitbeaker/core@"),
        "{path} was not extracted from @gitbeaker/core"
    );
    let mut schemas: Schemas = serde_json::from_value(doc["schemas"].clone()).unwrap();
    for (schema, field, _) in DOCUMENTED_BY_GITLAB {
        let fields = schemas
            .get_mut(*schema)
            .unwrap_or_else(|| panic!("{schema} is not in gitbeaker's types"));
        assert!(
            fields.insert((*field).to_string()),
            "{schema}.{field} is in gitbeaker's types now: drop it from DOCUMENTED_BY_GITLAB"
        );
    }
    Some(schemas)
}

/// Every field of `route`'s body that its schema (or a nested schema) does not define, as
/// `path: field`.
fn undefined_fields(schemas: &Schemas, route: &Value) -> Vec<String> {
    let name = route["path"].as_str().unwrap_or("?");
    let Some(schema) = route.get("schema").and_then(Value::as_str) else {
        return if route.get("body").is_some() {
            vec![format!("{name}: a body without a schema")]
        } else {
            vec![]
        };
    };
    let nested: BTreeMap<String, String> = route
        .get("nested")
        .map(|n| serde_json::from_value(n.clone()).unwrap())
        .unwrap_or_default();
    let mut out = Vec::new();
    let objects: Vec<&Value> = match route.get("body") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        Some(other) => {
            return vec![format!(
                "{name}: body is neither an object nor an array: {other}"
            )];
        }
        None => vec![],
    };
    let Some(fields) = schemas.get(schema) else {
        return vec![format!("{name}: unknown schema {schema}")];
    };
    for obj in objects {
        check(schemas, &nested, schema, fields, obj, name, &mut out);
    }
    out
}

fn check(
    schemas: &Schemas,
    nested: &BTreeMap<String, String>,
    schema: &str,
    fields: &BTreeSet<String>,
    obj: &Value,
    at: &str,
    out: &mut Vec<String>,
) {
    let Value::Object(map) = obj else {
        out.push(format!("{at}: {schema} item is not an object"));
        return;
    };
    for (key, value) in map {
        if !fields.contains(key) {
            out.push(format!("{at}: {schema} has no field `{key}`"));
            continue;
        }
        let inner: Vec<&Value> = match value {
            Value::Object(_) => vec![value],
            Value::Array(items) => items.iter().filter(|v| v.is_object()).collect(),
            _ => continue,
        };
        if inner.is_empty() {
            continue;
        }
        match nested.get(key).and_then(|n| schemas.get(n).map(|f| (n, f))) {
            Some((n, f)) => {
                for v in inner {
                    check(schemas, nested, n, f, v, &format!("{at} .{key}"), out);
                }
            }
            None => out.push(format!("{at}: nested object `{key}` has no schema named")),
        }
    }
}

#[test]
fn every_fixture_field_is_defined_by_gitbeakers_schemas() {
    let Some(schemas) = load() else { return };
    let routes = routes();
    assert!(routes.len() >= 25, "fixtures not loaded");
    let mut problems = Vec::new();
    let mut checked = 0;
    for route in &routes {
        checked += usize::from(route.get("schema").is_some());
        problems.extend(undefined_fields(&schemas, route));
    }
    assert!(
        problems.is_empty(),
        "fixtures carry undefined fields:\n{}",
        problems.join("\n")
    );
    assert!(checked >= 25, "{checked}");
}

#[test]
fn an_invented_field_fails_the_check() {
    let Some(schemas) = load() else { return };
    let invented = json!({"path": "/api/v4/projects/7/access_tokens", "schema": "AccessTokenSchema",
        "body": [{"id": 1, "name": "t", "scopes": ["api"], "access_level": 40, "owner_email": "x@example.com"}]});
    assert_eq!(
        undefined_fields(&schemas, &invented),
        ["/api/v4/projects/7/access_tokens: AccessTokenSchema has no field `owner_email`"]
    );
    let nested = json!({"path": "/api/v4/projects/7/triggers", "schema": "PipelineTriggerTokenSchema",
        "nested": {"owner": "SimpleUserSchema"},
        "body": [{"id": 1, "owner": {"id": 2, "username": "bob", "departed": true}}]});
    assert_eq!(
        undefined_fields(&schemas, &nested),
        ["/api/v4/projects/7/triggers .owner: SimpleUserSchema has no field `departed`"]
    );
    let unnamed = json!({"path": "/x", "schema": "PipelineTriggerTokenSchema",
        "body": [{"id": 1, "owner": {"id": 2}}]});
    assert_eq!(undefined_fields(&schemas, &unnamed).len(), 1);
    // The documented exceptions are the only additions: a field of another schema still fails.
    let other = json!({"path": "/x", "schema": "DeployTokenSchema",
        "body": [{"id": 1, "name": "t", "last_used_at": null}]});
    assert_eq!(undefined_fields(&schemas, &other).len(), 1);
}
