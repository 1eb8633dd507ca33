//! Test support: the fixtures of a small GCP estate (`fixtures/`, each checked against Google's
//! discovery documents by `tests/schema.rs`) and, with the `testing` feature, a wiremock server
//! that serves them the way Google's APIs would ([`estate::Estate`]), for this crate's tests and
//! the CLI's end-to-end test.

use serde::Deserialize;

/// `fixtures/manifest.json`: which discovery method each fixture answers and the request it
/// answers.
pub const MANIFEST: &str = include_str!("../fixtures/manifest.json");

/// Every fixture file, by name.
pub const FIXTURES: &[(&str, &str)] = &[
    (
        "accounts.page1.json",
        include_str!("../fixtures/accounts.page1.json"),
    ),
    (
        "accounts.page2.json",
        include_str!("../fixtures/accounts.page2.json"),
    ),
    (
        "activity.accounts.json",
        include_str!("../fixtures/activity.accounts.json"),
    ),
    (
        "activity.keys.json",
        include_str!("../fixtures/activity.keys.json"),
    ),
    (
        "dev.accounts.json",
        include_str!("../fixtures/dev.accounts.json"),
    ),
    (
        "dev.iam_policy.json",
        include_str!("../fixtures/dev.iam_policy.json"),
    ),
    ("empty.json", include_str!("../fixtures/empty.json")),
    (
        "iam_policy.json",
        include_str!("../fixtures/iam_policy.json"),
    ),
    ("key.get.json", include_str!("../fixtures/key.get.json")),
    (
        "keys.ci-deployer.json",
        include_str!("../fixtures/keys.ci-deployer.json"),
    ),
    (
        "keys.reporting.json",
        include_str!("../fixtures/keys.reporting.json"),
    ),
    ("pools.json", include_str!("../fixtures/pools.json")),
    (
        "providers.ci-pool.page1.json",
        include_str!("../fixtures/providers.ci-pool.page1.json"),
    ),
    (
        "providers.ci-pool.page2.json",
        include_str!("../fixtures/providers.ci-pool.page2.json"),
    ),
    (
        "providers.gitlab-pool.json",
        include_str!("../fixtures/providers.gitlab-pool.json"),
    ),
];

/// The text of fixture `name`.
pub fn fixture(name: &str) -> Option<&'static str> {
    FIXTURES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The parsed fixture `name` (`Null` if there is none, which the schema test catches).
pub fn fixture_json(name: &str) -> serde_json::Value {
    fixture(name)
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(serde_json::Value::Null)
}

/// One entry of the manifest.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureEntry {
    pub file: String,
    /// The discovery method id, e.g. `iam.projects.serviceAccounts.list`.
    pub method: String,
    pub http: String,
    /// The request path, without the leading `/`.
    pub path: String,
    /// Absent: any page; `null`: the first page only (no `pageToken`); a string: that page.
    #[serde(default, deserialize_with = "some_null")]
    #[serde(rename = "pageToken")]
    pub page_token: Option<Option<String>>,
}

fn some_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct Manifest {
    fixtures: Vec<FixtureEntry>,
}

/// The manifest's entries.
pub fn manifest() -> Result<Vec<FixtureEntry>, String> {
    serde_json::from_str::<Manifest>(MANIFEST)
        .map(|m| m.fixtures)
        .map_err(|e| format!("fixtures/manifest.json: {e}"))
}

/// The estate's projects: the first has everything, the second one service account.
pub const PROJECTS: &[&str] = &["acme-prod", "acme-dev"];
/// The key the remediation steps act on (its account is `ci-deployer@acme-prod…`).
pub const REMEDIATED_KEY: &str = "3f1e0a9b7c6d5e4f30211203a4b5c6d7e8f90a1b";
/// What `privateKeyData` in the fixtures decodes to contains this; it must never be stored.
pub const PRIVATE_KEY_CANARY: &str = "ewogICJ0eXBlIjogInNlcnZpY2VfYWNjb3VudCIsCiAgInByaXZhdGVfa2V5IjogIlJPU1RFUl9DQU5BUllfUFJJVkFURV9LRVkiCn0K";

#[cfg(feature = "testing")]
pub mod estate {
    //! The estate on a wiremock server: every manifest entry mounted on its path, behind the
    //! access token the token endpoint (`/token`) mints for a JWT bearer grant; the remediated
    //! key is stateful (disable, then delete).

    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU8, Ordering};

    use rsa::RsaPrivateKey;
    use rsa::pkcs8::EncodePrivateKey;
    use serde_json::{Value, json};
    use wiremock::matchers::{
        body_string_contains, header, method, path, path_regex, query_param, query_param_is_missing,
    };
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    use super::{fixture_json, manifest};

    /// The access token the estate's token endpoint mints.
    pub const ACCESS_TOKEN: &str = "ya29.roster-estate-token";
    /// The account of the generated key file.
    pub const CLIENT_EMAIL: &str = "roster@acme-prod.iam.gserviceaccount.com";

    pub struct Estate {
        pub server: MockServer,
    }

    /// The remediated key's state: 0 enabled, 1 disabled, 2 deleted.
    #[derive(Clone)]
    struct KeyState(Arc<AtomicU8>);

    struct KeyGet(KeyState);
    impl Respond for KeyGet {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            match (self.0).0.load(Ordering::SeqCst) {
                2 => not_found(),
                state => {
                    let mut key = fixture_json("key.get.json");
                    if state == 1 {
                        key["disabled"] = Value::Bool(true);
                    }
                    ResponseTemplate::new(200).set_body_json(key)
                }
            }
        }
    }

    struct KeyChange(KeyState, u8);
    impl Respond for KeyChange {
        fn respond(&self, _: &Request) -> ResponseTemplate {
            if (self.0).0.load(Ordering::SeqCst) == 2 {
                return not_found();
            }
            (self.0).0.store(self.1, Ordering::SeqCst);
            ResponseTemplate::new(200).set_body_json(fixture_json("empty.json"))
        }
    }

    fn not_found() -> ResponseTemplate {
        ResponseTemplate::new(404).set_body_json(json!({"error": {"code": 404,
            "message": "Service account key does not exist.", "status": "NOT_FOUND"}}))
    }

    /// Google's answer to a call the credential may not make.
    pub fn permission_denied() -> ResponseTemplate {
        ResponseTemplate::new(403).set_body_json(json!({"error": {"code": 403,
            "message": "Permission denied on resource (or it may not exist).",
            "status": "PERMISSION_DENIED"}}))
    }

    impl Estate {
        /// Starts the server and mounts the estate.
        pub async fn start() -> Estate {
            let server = MockServer::start().await;
            let estate = Estate { server };
            estate.mount().await;
            estate
        }

        pub fn uri(&self) -> String {
            self.server.uri()
        }

        async fn mount(&self) {
            let auth = format!("Bearer {ACCESS_TOKEN}");
            Mock::given(method("POST"))
                .and(path("/token"))
                .and(body_string_contains(
                    "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
                ))
                .and(body_string_contains("assertion=ey"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                    "access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"})))
                .mount(&self.server)
                .await;
            let key = KeyState(Arc::new(AtomicU8::new(0)));
            // A manifest that does not parse mounts nothing, and every test then fails loudly.
            for entry in manifest().unwrap_or_default() {
                let p = format!("/{}", entry.path);
                let mock = Mock::given(method(entry.http.as_str()))
                    .and(path(p.as_str()))
                    .and(header("authorization", auth.as_str()));
                let mock = match &entry.page_token {
                    None => mock,
                    Some(None) => mock.and(query_param_is_missing("pageToken")),
                    Some(Some(t)) => mock.and(query_param("pageToken", t.as_str())),
                };
                let mock = if entry.method == "iam.projects.serviceAccounts.keys.list" {
                    mock.and(query_param("keyTypes", "USER_MANAGED"))
                } else {
                    mock
                };
                let mock = match entry.method.as_str() {
                    "iam.projects.serviceAccounts.keys.get" => {
                        mock.respond_with(KeyGet(key.clone()))
                    }
                    "iam.projects.serviceAccounts.keys.disable" => {
                        mock.respond_with(KeyChange(key.clone(), 1))
                    }
                    "iam.projects.serviceAccounts.keys.delete" => {
                        mock.respond_with(KeyChange(key.clone(), 2))
                    }
                    _ => mock.respond_with(
                        ResponseTemplate::new(200).set_body_json(fixture_json(&entry.file)),
                    ),
                };
                mock.mount(&self.server).await;
            }
        }

        /// From now on, every call about `project` answers 403 (the credential lost access).
        pub async fn deny(&self, project: &str) {
            Mock::given(path_regex(format!("^/v1/projects/{project}([:/].*)?$")))
                .respond_with(permission_denied())
                .with_priority(1)
                .mount(&self.server)
                .await;
        }

        /// Writes a service-account key file (a fresh RSA key) whose `token_uri` points
        /// elsewhere: the connector must use its configured `token_url` instead.
        pub fn write_key_file(file: &Path) -> std::io::Result<()> {
            let mut rng = rand::thread_rng();
            let key = RsaPrivateKey::new(&mut rng, 2048)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            let pem = key
                .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            let json = json!({
                "type": "service_account",
                "project_id": "acme-prod",
                "private_key_id": "0123456789abcdef0123456789abcdef01234567",
                "private_key": pem.as_str(),
                "client_email": CLIENT_EMAIL,
                "client_id": "110000000000000000099",
                "auth_uri": "https://accounts.google.com/o/oauth2/auth",
                "token_uri": "https://oauth2.invalid/token",
            });
            std::fs::write(file, json.to_string())
        }
    }
}
