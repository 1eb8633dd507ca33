//! Test support shared by this crate's tests and the CLI test (`tests/azure.rs`, which includes
//! this file by path): the Graph fixtures (`tests/fixtures/graph.json`, one entry per endpoint
//! response) mounted on wiremock, and a checker of JSON against the Microsoft Graph TypeScript
//! types (npm `@microsoft/microsoft-graph-types`, `-beta`), which `tests/azure/setup.sh`
//! installs and points `ROSTER_GRAPH_TYPES_DIR` at.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const FIXTURES: &str = include_str!("../fixtures/graph.json");

/// The access token the fixture token endpoint hands out.
pub const ACCESS_TOKEN: &str = "eyJ0eXAiOiJKV1QifQ.fixture-access-token.sig";

pub fn fixtures() -> Value {
    serde_json::from_str(FIXTURES).unwrap()
}

pub fn tenant() -> String {
    fixtures()["tenant"].as_str().unwrap().to_string()
}

/// The token endpoint's path on the mock server for the fixture tenant.
pub fn token_path() -> String {
    format!("/{}/oauth2/v2.0/token", tenant())
}

/// Mounts the token endpoint and every fixture. Entries with a query are more specific, so
/// they win over the same path without one.
pub async fn mount(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(token_path()))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
            "access_token": ACCESS_TOKEN
        })))
        .with_priority(5)
        .mount(server)
        .await;
    for f in fixtures()["fixtures"].as_array().unwrap() {
        let p = f["path"].as_str().unwrap();
        let mut mock = Mock::given(method("GET")).and(path(p));
        let mut priority = 5;
        if let Some(q) = f.get("query").and_then(Value::as_object) {
            for (k, v) in q {
                mock = mock.and(query_param(k.as_str(), v.as_str().unwrap()));
            }
            priority = 3;
        }
        mock.respond_with(ResponseTemplate::new(200).set_body_json(f["body"].clone()))
            .with_priority(priority)
            .mount(server)
            .await;
    }
}

/// A fixture's body by path (the first entry with that path).
pub fn body(p: &str) -> Value {
    fixtures()["fixtures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == p)
        .unwrap_or_else(|| panic!("no fixture for {p}"))["body"]
        .clone()
}

/// One interface of the TypeScript types: its base interfaces and its properties' types.
#[derive(Debug, Default)]
struct Interface {
    bases: Vec<String>,
    properties: HashMap<String, String>,
}

/// The top-level interfaces and type aliases of one `microsoft-graph.d.ts`.
#[derive(Debug, Default)]
pub struct GraphTypes {
    interfaces: HashMap<String, Interface>,
    aliases: HashMap<String, String>,
}

impl GraphTypes {
    /// `ROSTER_GRAPH_TYPES_DIR/<package>/microsoft-graph.d.ts`; `None` when the variable is unset.
    pub fn load(package: &str) -> Option<GraphTypes> {
        let dir = std::env::var_os("ROSTER_GRAPH_TYPES_DIR")?;
        let file = Path::new(&dir).join(package).join("microsoft-graph.d.ts");
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        Some(Self::parse(&text))
    }

    /// Reads `export interface X extends Y {` blocks and `export type X = …;` at the top level
    /// (namespaced interfaces are indented and skipped: the v1.0/beta resources live at the top).
    pub fn parse(text: &str) -> GraphTypes {
        let mut types = GraphTypes::default();
        let mut current: Option<(String, Interface)> = None;
        let mut pending = String::new();
        for line in text.lines() {
            if let Some((name, iface)) = current.as_mut() {
                if line == "}" {
                    let (name, iface) = (name.clone(), std::mem::take(iface));
                    types.interfaces.insert(name, iface);
                    current = None;
                    pending.clear();
                    continue;
                }
                let trimmed = line.trim();
                if trimmed.starts_with("//")
                    || trimmed.starts_with("/*")
                    || trimmed.starts_with('*')
                {
                    continue;
                }
                if !line.starts_with("    ") {
                    continue;
                }
                pending.push_str(trimmed);
                if !pending.ends_with(';') {
                    continue;
                }
                let decl = std::mem::take(&mut pending);
                if let Some((prop, ty)) = decl.split_once(':') {
                    let prop = prop.trim().trim_end_matches('?').to_string();
                    let ty = ty.trim().trim_end_matches(';').trim().to_string();
                    iface.properties.insert(prop, ty);
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("export interface ") {
                let head = rest.trim_end_matches('{').trim();
                let (name, bases) = match head.split_once(" extends ") {
                    Some((n, b)) => (
                        n.trim().to_string(),
                        b.split(',').map(|s| s.trim().to_string()).collect(),
                    ),
                    None => (head.to_string(), Vec::new()),
                };
                if rest.trim_end().ends_with("{}") {
                    let name = name.trim_end_matches("{}").trim().to_string();
                    let bases = bases
                        .into_iter()
                        .map(|b: String| b.trim_end_matches("{}").trim().to_string())
                        .collect();
                    types.interfaces.insert(
                        name,
                        Interface {
                            bases,
                            properties: HashMap::new(),
                        },
                    );
                    continue;
                }
                current = Some((
                    name,
                    Interface {
                        bases,
                        properties: HashMap::new(),
                    },
                ));
            } else if let Some(rest) = line.strip_prefix("export type ")
                && let Some((name, def)) = rest.split_once('=')
            {
                types
                    .aliases
                    .insert(name.trim().to_string(), def.trim().to_string());
            }
        }
        types
    }

    pub fn has_interface(&self, name: &str) -> bool {
        self.interfaces.contains_key(name)
    }

    /// The type of `property` on `interface` or one of its bases (following `extends`).
    fn property(&self, interface: &str, property: &str) -> Option<&str> {
        let iface = self.interfaces.get(interface)?;
        if let Some(t) = iface.properties.get(property) {
            return Some(t);
        }
        iface.bases.iter().find_map(|b| self.property(b, property))
    }

    fn extends(&self, derived: &str, base: &str) -> bool {
        derived == base
            || self
                .interfaces
                .get(derived)
                .is_some_and(|i| i.bases.iter().any(|b| self.extends(b, base)))
    }

    /// Every way `value` breaks `interface`: a member the interface (with its bases) does not
    /// declare, or a value of the wrong JSON type. `@odata.*` annotations are not properties.
    pub fn check(&self, interface: &str, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.check_object(interface, value, interface, &mut errors);
        errors
    }

    fn check_object(&self, interface: &str, value: &Value, at: &str, errors: &mut Vec<String>) {
        let Some(map) = value.as_object() else {
            errors.push(format!("{at}: expected a {interface} object, got {value}"));
            return;
        };
        // A derived type named by `@odata.type` (an owner that is a user).
        let mut interface = interface.to_string();
        if let Some(t) = map.get("@odata.type").and_then(Value::as_str) {
            let derived = t.trim_start_matches("#microsoft.graph.");
            let derived = format!("{}{}", derived[..1].to_uppercase(), &derived[1..]);
            if !self.has_interface(&derived) || !self.extends(&derived, &interface) {
                errors.push(format!("{at}: @odata.type {t} is not a {interface}"));
                return;
            }
            interface = derived;
        }
        if !self.has_interface(&interface) {
            errors.push(format!("{at}: no interface {interface} in the types"));
            return;
        }
        for (key, v) in map {
            if key.contains("@odata.") {
                continue;
            }
            match self.property(&interface, key) {
                None => errors.push(format!(
                    "{at}.{key}: `{key}` is not a property of {interface} (or the interfaces it extends)"
                )),
                Some(ty) => self.check_type(ty, v, &format!("{at}.{key}"), errors),
            }
        }
    }

    fn check_type(&self, ty: &str, v: &Value, at: &str, errors: &mut Vec<String>) {
        let (ty, nullable) = match ty
            .strip_prefix("NullableOption<")
            .and_then(|t| t.strip_suffix('>'))
        {
            Some(inner) => (inner.trim(), true),
            None => (ty, false),
        };
        if v.is_null() {
            if !nullable {
                errors.push(format!(
                    "{at}: null, but the type is {ty} (not NullableOption)"
                ));
            }
            return;
        }
        if let Some(elem) = ty.strip_suffix("[]") {
            match v.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check_type(elem, item, &format!("{at}[{i}]"), errors);
                    }
                }
                None => errors.push(format!("{at}: expected an array of {elem}")),
            }
            return;
        }
        let ok = match ty {
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "number" => v.is_number(),
            "any" => true,
            t if self.interfaces.contains_key(t) => {
                self.check_object(t, v, at, errors);
                true
            }
            t if self.aliases.contains_key(t) => {
                let def = &self.aliases[t];
                if def.contains('"') {
                    match v.as_str() {
                        Some(s) => def.contains(&format!("\"{s}\"")),
                        None => false,
                    }
                } else {
                    true
                }
            }
            _ => true,
        };
        if !ok {
            errors.push(format!("{at}: {v} is not a {ty}"));
        }
    }
}
