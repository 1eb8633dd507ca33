//! Every Graph fixture is checked against Microsoft's published types (npm
//! `@microsoft/microsoft-graph-types` for v1.0, `-beta` for the reports API), following
//! `extends` chains: a field Graph does not have, or a value of the wrong type, fails — shown by
//! the invented-field tests below. Skips when `ROSTER_GRAPH_TYPES_DIR` is unset
//! (`eval "$(tests/azure/setup.sh)"` sets it); in CI (`CI=true`) a missing package fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use serde_json::{Value, json};
use support::GraphTypes;

fn types() -> Option<(GraphTypes, GraphTypes)> {
    let v1 = GraphTypes::load("microsoft-graph-types");
    let beta = GraphTypes::load("microsoft-graph-types-beta");
    match (v1, beta) {
        (Some(v1), Some(beta)) => Some((v1, beta)),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!(
                "ROSTER_GRAPH_TYPES_DIR is not set; CI checks the fixtures against the Graph types"
            )
        }
        _ => {
            println!(
                "skipped: ROSTER_GRAPH_TYPES_DIR not set (eval \"$(tests/azure/setup.sh)\" sets it)"
            );
            None
        }
    }
}

/// The items of a fixture body: a collection's `value`, or the single object.
fn items(body: &Value) -> Vec<&Value> {
    match body.get("value").and_then(Value::as_array) {
        Some(items) => items.iter().collect(),
        None => vec![body],
    }
}

#[test]
fn every_fixture_matches_the_published_graph_types() {
    let Some((v1, beta)) = types() else { return };
    let fixtures = support::fixtures();
    let mut checked = 0;
    let mut errors = Vec::new();
    for f in fixtures["fixtures"].as_array().unwrap() {
        let schema = f["schema"].as_str().unwrap();
        let types = if f["api"] == "beta" { &beta } else { &v1 };
        assert!(types.has_interface(schema), "{schema} is not a Graph type");
        let body = &f["body"];
        // A collection carries only `value` and annotations.
        if let Some(obj) = body.as_object()
            && obj.contains_key("value")
        {
            for k in obj.keys() {
                assert!(
                    k == "value" || k.starts_with("@odata."),
                    "{}: {k}",
                    f["path"]
                );
            }
        }
        for item in items(body) {
            for e in types.check(schema, item) {
                errors.push(format!("{} ({}): {e}", f["path"], f["api"]));
            }
            checked += 1;
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    assert!(checked >= 25, "only {checked} objects checked");
}

#[test]
fn an_invented_field_fails_the_check() {
    let Some((v1, beta)) = types() else { return };
    let mut app = support::body("/v1.0/applications")["value"][0].clone();
    assert!(v1.check("Application", &app).is_empty());
    app["passwordCredentials"][0]["secretValue"] = json!("invented");
    app["ownerEmail"] = json!("alice@contoso.com");
    let errors = v1.check("Application", &app);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("passwordCredentials[0].secretValue")
                && e.contains("PasswordCredential")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("`ownerEmail` is not a property of Application"))
    );

    // `extends` is followed (deletedDateTime is DirectoryObject's, id is Entity's) …
    let sp = json!({"id": "x", "deletedDateTime": null, "appId": "y"});
    assert!(v1.check("ServicePrincipal", &sp).is_empty());
    // … and a value of the wrong type fails too.
    let errors = v1.check("ServicePrincipal", &json!({"accountEnabled": "yes"}));
    assert_eq!(errors.len(), 1, "{errors:?}");

    // A beta-only field is not in v1.0: the fixture must name the right API.
    let fic = json!({"id": "f", "claimsMatchingExpression": {"value": "claims['sub'] matches 'repo:contoso/*'", "languageVersion": 1}});
    assert!(beta.check("FederatedIdentityCredential", &fic).is_empty());
    assert_eq!(v1.check("FederatedIdentityCredential", &fic).len(), 1);

    let mut report =
        support::body("/beta/reports/servicePrincipalSignInActivities")["value"][0].clone();
    report["lastSignInActivity"]["lastSignInIpAddress"] = json!("10.0.0.1");
    let errors = beta.check("ServicePrincipalSignInActivity", &report);
    assert!(
        errors.iter().any(|e| e.contains("lastSignInIpAddress")),
        "{errors:?}"
    );
}
