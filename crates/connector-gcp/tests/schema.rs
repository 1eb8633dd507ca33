//! Every fixture the GCP tests serve, checked against the response schema of its method in
//! Google's discovery documents (shipped in PyPI `google-api-python-client`, pinned in
//! `tests/gcp/setup.sh`): no member the schema does not declare, every type and enum as
//! declared, every request path matching the method's `flatPath`. An invented field fails.
//!
//! Needs `ROSTER_GCP_DISCOVERY_DIR` (the directory holding `iam.v1.json`,
//! `policyanalyzer.v1.json`, `cloudresourcemanager.v1.json`): `eval "$(tests/gcp/setup.sh)"`.
//! Without it the checks against Google's documents are skipped (in CI, `CI=true`, they fail).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use roster_connector_gcp::testing::{FIXTURES, fixture_json, manifest};
use serde_json::{Value, json};

const DOCUMENTS: &[&str] = &["iam", "policyanalyzer", "cloudresourcemanager"];

/// Google's discovery documents, by API name.
struct Discovery(HashMap<String, Value>);

impl Discovery {
    fn load() -> Option<Discovery> {
        let Some(dir) = std::env::var_os("ROSTER_GCP_DISCOVERY_DIR") else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "ROSTER_GCP_DISCOVERY_DIR is not set; CI checks every fixture against Google's discovery documents"
                );
            }
            println!(
                "skipped: ROSTER_GCP_DISCOVERY_DIR not set (eval \"$(tests/gcp/setup.sh)\" sets it)"
            );
            return None;
        };
        let dir = PathBuf::from(dir);
        let mut docs = HashMap::new();
        for name in DOCUMENTS {
            let file = dir.join(format!("{name}.v1.json"));
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            docs.insert(name.to_string(), serde_json::from_str(&text).unwrap());
        }
        Some(Discovery(docs))
    }

    fn doc_of(&self, method_id: &str) -> &Value {
        let api = method_id.split('.').next().unwrap();
        self.0
            .get(api)
            .unwrap_or_else(|| panic!("no discovery document for {method_id}"))
    }

    fn method(&self, id: &str) -> &Value {
        fn find<'a>(resources: &'a Value, id: &str) -> Option<&'a Value> {
            for r in resources.as_object()?.values() {
                if let Some(m) = r["methods"]
                    .as_object()
                    .and_then(|ms| ms.values().find(|m| m["id"] == id))
                {
                    return Some(m);
                }
                if let Some(m) = find(&r["resources"], id) {
                    return Some(m);
                }
            }
            None
        }
        find(&self.doc_of(id)["resources"], id).unwrap_or_else(|| panic!("no method {id}"))
    }

    /// Every way `value` departs from the response schema of `method_id`.
    fn check_response(&self, method_id: &str, value: &Value) -> Vec<String> {
        let doc = self.doc_of(method_id);
        let schema = &self.method(method_id)["response"];
        let mut errors = Vec::new();
        check(doc, schema, value, "$", &mut errors);
        errors
    }
}

/// Checks `value` against a discovery-document schema (`$ref`, `type`, `format`, `enum`,
/// `properties`, `additionalProperties`, `items`).
fn check(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema["$ref"].as_str() {
        let target = &doc["schemas"][r];
        if target.is_null() {
            errors.push(format!("{at}: schema {r} is not in the document"));
            return;
        }
        return check(doc, target, value, at, errors);
    }
    let ty = schema["type"]
        .as_str()
        .unwrap_or(if schema.get("properties").is_some() {
            "object"
        } else {
            "any"
        });
    match (ty, value) {
        ("any", _) => {}
        ("object", Value::Object(map)) => {
            for (k, v) in map {
                let here = format!("{at}.{k}");
                if let Some(p) = schema["properties"].get(k) {
                    check(doc, p, v, &here, errors);
                } else if let Some(extra) = schema.get("additionalProperties") {
                    check(doc, extra, v, &here, errors);
                } else {
                    errors.push(format!(
                        "{here}: `{k}` is not a field of {}",
                        schema["id"].as_str().unwrap_or("this object")
                    ));
                }
            }
        }
        ("array", Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                check(doc, &schema["items"], v, &format!("{at}[{i}]"), errors);
            }
        }
        ("string", Value::String(s)) => {
            if let Some(allowed) = schema["enum"].as_array()
                && !allowed.iter().any(|a| a == s)
            {
                errors.push(format!("{at}: `{s}` is not one of the enum's values"));
            }
            match schema["format"].as_str() {
                Some("google-datetime") if s.parse::<chrono::DateTime<chrono::Utc>>().is_err() => {
                    errors.push(format!("{at}: `{s}` is not an RFC 3339 timestamp"))
                }
                Some("int64" | "uint64") if s.parse::<i128>().is_err() => {
                    errors.push(format!("{at}: `{s}` is not an integer string"))
                }
                _ => {}
            }
        }
        ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        ("number", Value::Number(_)) | ("boolean", Value::Bool(_)) => {}
        (ty, v) => errors.push(format!("{at}: expected {ty}, found {v}")),
    }
}

/// Whether `path` fits a `flatPath` template (`v1/projects/{projectsId}/serviceAccounts`): each
/// `{placeholder}` stands for one or more characters other than `/`.
fn fits(template: &str, path: &str) -> bool {
    match template.find('{') {
        None => template == path,
        Some(open) => {
            let Some(close) = template[open..].find('}') else {
                return false;
            };
            let (lit, rest) = (&template[..open], &template[open + close + 1..]);
            let Some(after) = path.strip_prefix(lit) else {
                return false;
            };
            (1..=after.len()).any(|n| {
                after.is_char_boundary(n) && !after[..n].contains('/') && fits(rest, &after[n..])
            })
        }
    }
}

#[test]
fn every_fixture_file_is_listed_and_every_listed_file_exists() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "manifest.json")
        .collect();
    let compiled: BTreeSet<String> = FIXTURES.iter().map(|(n, _)| n.to_string()).collect();
    assert_eq!(on_disk, compiled, "testing::FIXTURES and fixtures/ differ");
    let listed: BTreeSet<String> = manifest().unwrap().into_iter().map(|e| e.file).collect();
    assert_eq!(
        on_disk, listed,
        "a fixture is not in the manifest, or the reverse"
    );
    for (name, text) in FIXTURES {
        serde_json::from_str::<Value>(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn every_fixture_matches_its_methods_response_schema_and_path() {
    let Some(discovery) = Discovery::load() else {
        return;
    };
    let entries = manifest().unwrap();
    let mut methods = BTreeSet::new();
    for e in &entries {
        let m = discovery.method(&e.method);
        assert_eq!(
            m["httpMethod"],
            e.http.as_str(),
            "{}: HTTP method",
            e.method
        );
        let flat = m["flatPath"].as_str().unwrap();
        assert!(
            fits(flat, &e.path),
            "{} is not a path of {} ({flat})",
            e.path,
            e.method
        );
        let errors = discovery.check_response(&e.method, &fixture_json(&e.file));
        assert!(
            errors.is_empty(),
            "{} against {}: {errors:#?}",
            e.file,
            e.method
        );
        methods.insert(e.method.as_str());
    }
    // Every endpoint the connector calls has a checked fixture.
    for m in [
        "iam.projects.serviceAccounts.list",
        "iam.projects.serviceAccounts.keys.list",
        "iam.projects.serviceAccounts.keys.get",
        "iam.projects.serviceAccounts.keys.disable",
        "iam.projects.serviceAccounts.keys.delete",
        "iam.projects.locations.workloadIdentityPools.list",
        "iam.projects.locations.workloadIdentityPools.providers.list",
        "cloudresourcemanager.projects.getIamPolicy",
        "policyanalyzer.projects.locations.activityTypes.activities.query",
    ] {
        assert!(methods.contains(m), "no fixture for {m}");
    }
}

#[test]
fn an_invented_field_or_enum_value_fails_the_check() {
    let Some(discovery) = Discovery::load() else {
        return;
    };
    let list = "iam.projects.serviceAccounts.list";
    let mut accounts = fixture_json("accounts.page1.json");
    assert!(discovery.check_response(list, &accounts).is_empty());
    accounts["accounts"][0]["ownerEmail"] = json!("alice@acme.com");
    let errors = discovery.check_response(list, &accounts);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("$.accounts[0].ownerEmail") && errors[0].contains("ServiceAccount"),
        "{errors:?}"
    );

    let keys = "iam.projects.serviceAccounts.keys.list";
    let mut body = fixture_json("keys.ci-deployer.json");
    body["keys"][0]["keyType"] = json!("USER_OWNED");
    body["keys"][1]["validAfterTime"] = json!("last tuesday");
    body["keys"][1]["lastUsedTime"] = json!("2026-01-01T00:00:00Z");
    let errors = discovery.check_response(keys, &body);
    assert_eq!(errors.len(), 3, "{errors:?}");

    let mut policy = fixture_json("iam_policy.json");
    policy["bindings"][0]["members"] = json!("serviceAccount:x");
    let errors = discovery.check_response("cloudresourcemanager.projects.getIamPolicy", &policy);
    assert!(errors[0].contains("expected array"), "{errors:?}");
}

#[test]
fn the_checker_itself_on_a_small_document() {
    let doc = json!({"schemas": {
        "Thing": {"id": "Thing", "type": "object", "properties": {
            "name": {"type": "string"},
            "state": {"type": "string", "enum": ["ON", "OFF"]},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "parts": {"type": "array", "items": {"$ref": "Thing"}},
            "count": {"type": "integer"},
            "big": {"type": "string", "format": "int64"}}}}});
    let schema = json!({"$ref": "Thing"});
    let mut errors = Vec::new();
    check(
        &doc,
        &schema,
        &json!({"name": "a", "state": "ON", "labels": {"x": "y"}, "parts": [{"name": "b"}],
                "count": 3, "big": "12345678901234567890"}),
        "$",
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    check(
        &doc,
        &schema,
        &json!({"name": 1, "state": "MAYBE", "labels": {"x": 2}, "parts": [{"nam": "b"}],
                "count": 1.5, "big": "many"}),
        "$",
        &mut errors,
    );
    assert_eq!(errors.len(), 6, "{errors:#?}");
    assert!(errors.iter().any(|e| e.starts_with("$.parts[0].nam:")));
    assert!(fits(
        "v1/projects/{projectsId}/serviceAccounts/{serviceAccountsId}/keys",
        "v1/projects/acme-prod/serviceAccounts/ci@acme-prod.iam.gserviceaccount.com/keys"
    ));
    assert!(fits(
        "v1/projects/{resource}:getIamPolicy",
        "v1/projects/acme-prod:getIamPolicy"
    ));
    assert!(!fits(
        "v1/projects/{projectsId}/serviceAccounts",
        "v1/projects/a/b/serviceAccounts"
    ));
}
