//! `[[connectors]] kind = "github"` settings, and turning them into credentials. Secrets come
//! only from an environment variable (`token_env`) or a file (`private_key_file`), never inline.

use std::path::PathBuf;

use roster_connector_sdk::{ConnectorError, Secret};
use serde::{Deserialize, Deserializer};
use url::Url;

use crate::app_auth::AppKey;

/// The settings of one GitHub connector.
///
/// ```toml
/// [[connectors]]
/// name = "acme-github"
/// kind = "github"
/// api_url = "https://api.github.com"     # GitHub Enterprise Server: https://ghe.example.com/api/v3
/// org = "acme"                           # or orgs = ["acme", "acme-labs"]
/// token_env = "GITHUB_TOKEN"             # or app_id + private_key_file + installation_id
///
/// [connectors.remediation]               # optional; `roster remediate --execute` needs it
/// enabled = true
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GithubConfig {
    #[serde(default = "default_api_url")]
    pub api_url: String,
    /// One organisation (shorthand for `orgs = [org]`).
    #[serde(default)]
    pub org: Option<String>,
    #[serde(default)]
    pub orgs: Vec<String>,
    /// The name of the environment variable holding a token (classic or fine-grained PAT, or an
    /// installation token minted elsewhere).
    #[serde(default)]
    pub token_env: Option<String>,
    /// GitHub App authentication: the App's id (or client id), its PEM private key file and the
    /// installation on the organisation(s).
    #[serde(default, deserialize_with = "string_or_number")]
    pub app_id: Option<String>,
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub installation_id: Option<String>,
    /// `per_page` of every list request (GitHub allows 1–100).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Most pages of one HTTP listing (one endpoint, or one repository's sub-listing) before the
    /// listing fails as a pagination loop. Default 10,000 (a million items at 100 per page).
    #[serde(default)]
    pub max_pages: Option<u64>,
    /// Conditional requests on re-sync: each listing page is asked for with the `ETag` of the
    /// last run, and a `304 Not Modified` (which GitHub does not count against the rate limit)
    /// reuses the kept body. Default true.
    #[serde(default = "default_true")]
    pub conditional_requests: bool,
    /// The most bodies kept for conditional requests take together, in MiB (default 64; a
    /// page of 100 repositories is about 0.6 MiB).
    #[serde(default = "default_conditional_cache_mib")]
    pub conditional_cache_mib: u32,
    /// `roster remediate --execute` through this connector (a dry run works without).
    #[serde(default)]
    pub remediation: RemediationConfig,
}

/// Remediation (delete a deploy key, revoke a fine-grained PAT grant, remove a SAML credential
/// authorization, remove a runner, deactivate a webhook). Off unless enabled.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RemediationConfig {
    pub enabled: bool,
}

pub const DEFAULT_API_URL: &str = "https://api.github.com";
pub const DEFAULT_MAX_PAGES: u64 = 10_000;

fn default_api_url() -> String {
    DEFAULT_API_URL.to_string()
}

fn default_page_size() -> u32 {
    100
}

fn default_true() -> bool {
    true
}

fn default_conditional_cache_mib() -> u32 {
    64
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        N(u64),
    }
    Ok(Option::<Either>::deserialize(d)?.map(|e| match e {
        Either::S(s) => s.trim().to_string(),
        Either::N(n) => n.to_string(),
    }))
}

impl GithubConfig {
    /// A config for `orgs` at `api_url` with every other setting at its default.
    pub fn new(api_url: impl Into<String>, orgs: &[&str]) -> Self {
        Self {
            api_url: api_url.into(),
            org: None,
            orgs: orgs.iter().map(|o| (*o).to_string()).collect(),
            token_env: None,
            app_id: None,
            private_key_file: None,
            installation_id: None,
            page_size: default_page_size(),
            max_pages: None,
            conditional_requests: true,
            conditional_cache_mib: default_conditional_cache_mib(),
            remediation: RemediationConfig::default(),
        }
    }

    /// Every configured org, `org` first, duplicates removed.
    pub fn all_orgs(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for o in self.org.iter().chain(self.orgs.iter()) {
            let o = o.trim();
            if !o.is_empty() && !out.iter().any(|x| x.eq_ignore_ascii_case(o)) {
                out.push(o.to_string());
            }
        }
        out
    }

    pub(crate) fn api_base(&self) -> Result<Url, ConnectorError> {
        Url::parse(self.api_url.trim())
            .map_err(|e| ConnectorError::Config(format!("api_url `{}`: {e}", self.api_url)))
    }

    /// Checks what does not need the environment: orgs, page size, one auth method.
    pub(crate) fn validate(&self) -> Result<(), ConnectorError> {
        self.validate_common()?;
        self.validate_auth()
    }

    /// Everything but the credentials.
    pub(crate) fn validate_common(&self) -> Result<(), ConnectorError> {
        let orgs = self.all_orgs();
        if orgs.is_empty() {
            return Err(ConnectorError::Config(
                "set `org` or `orgs`: the organisation(s) to inventory".into(),
            ));
        }
        for o in &orgs {
            let ok = o
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(ConnectorError::Config(format!(
                    "`{o}` is not a GitHub organisation login"
                )));
            }
        }
        if !(1..=100).contains(&self.page_size) {
            return Err(ConnectorError::Config(
                "page_size must be between 1 and 100 (GitHub's per_page bounds)".into(),
            ));
        }
        if self.max_pages == Some(0) {
            return Err(ConnectorError::Config(
                "max_pages must be at least 1".into(),
            ));
        }
        self.api_base()?;
        Ok(())
    }

    fn validate_auth(&self) -> Result<(), ConnectorError> {
        let app_keys = [
            self.app_id.is_some(),
            self.private_key_file.is_some(),
            self.installation_id.is_some(),
        ];
        let app = app_keys.iter().any(|x| *x);
        match (self.token_env.is_some(), app) {
            (true, true) => Err(ConnectorError::Config(
                "set either `token_env` or `app_id` + `private_key_file` + `installation_id`, not both"
                    .into(),
            )),
            (false, false) => Err(ConnectorError::Config(
                "no credentials: set `token_env` (the name of an environment variable holding a token) \
                 or `app_id` + `private_key_file` + `installation_id`"
                    .into(),
            )),
            (false, true) if !app_keys.iter().all(|x| *x) => Err(ConnectorError::Config(
                "GitHub App authentication needs all of `app_id`, `private_key_file` and `installation_id`"
                    .into(),
            )),
            _ => Ok(()),
        }
    }

    /// The credentials the config names. `env` looks an environment variable up (a parameter so
    /// that tests need not touch the process environment).
    pub fn credentials(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials, ConnectorError> {
        self.validate()?;
        if let Some(var) = &self.token_env {
            let token = env(var).map(|t| t.trim().to_string()).unwrap_or_default();
            if token.is_empty() {
                return Err(ConnectorError::Config(format!(
                    "environment variable `{var}` (token_env) is not set or empty"
                )));
            }
            return Ok(Credentials::Token(Secret::new(token)));
        }
        let (Some(app_id), Some(path), Some(installation_id)) =
            (&self.app_id, &self.private_key_file, &self.installation_id)
        else {
            return Err(ConnectorError::Config(
                "GitHub App authentication needs `app_id`, `private_key_file` and `installation_id`"
                    .into(),
            ));
        };
        if !installation_id.chars().all(|c| c.is_ascii_digit()) || installation_id.is_empty() {
            return Err(ConnectorError::Config(
                "installation_id must be a number".into(),
            ));
        }
        let pem = std::fs::read_to_string(path).map_err(|e| {
            ConnectorError::Config(format!(
                "cannot read private_key_file {}: {}",
                path.display(),
                e.kind()
            ))
        })?;
        let key = AppKey::from_pem(&pem).map_err(|detail| {
            ConnectorError::Config(format!("private_key_file {}: {detail}", path.display()))
        })?;
        Ok(Credentials::App(AppCredentials {
            app_id: app_id.clone(),
            installation_id: installation_id.clone(),
            key,
        }))
    }
}

/// How the connector authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A token sent as `Authorization: Bearer`.
    Token(Secret),
    /// A GitHub App: a JWT signed with the App's key is exchanged for an installation token.
    App(AppCredentials),
}

#[derive(Debug, Clone)]
pub struct AppCredentials {
    pub app_id: String,
    pub installation_id: String,
    pub key: AppKey,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_src: &str) -> Result<GithubConfig, String> {
        let value: serde_json::Value = toml_to_json(toml_src);
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    // A tiny `key = value` reader, enough for these tests (the web crate uses figment).
    fn toml_to_json(src: &str) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for line in src.lines().filter(|l| !l.trim().is_empty()) {
            let (k, v) = line.split_once('=').unwrap();
            let v = v.trim();
            let value = if let Some(s) = v.strip_prefix('"') {
                serde_json::Value::String(s.trim_end_matches('"').to_string())
            } else if v.starts_with('[') || v == "true" || v == "false" {
                serde_json::from_str(v).unwrap()
            } else {
                serde_json::Value::Number(v.parse::<u64>().unwrap().into())
            };
            map.insert(k.trim().to_string(), value);
        }
        serde_json::Value::Object(map)
    }

    #[test]
    fn conditional_requests_are_on_by_default_and_can_be_bounded_or_switched_off() {
        let c = parse("org = \"acme\"\ntoken_env = \"T\"").unwrap();
        assert!(c.conditional_requests);
        assert_eq!(c.conditional_cache_mib, 64);
        let c = parse(
            "org = \"acme\"\ntoken_env = \"T\"\nconditional_requests = false\nconditional_cache_mib = 8",
        )
        .unwrap();
        assert!(!c.conditional_requests);
        assert_eq!(c.conditional_cache_mib, 8);
        assert!(parse("org = \"acme\"\ntoken_env = \"T\"\netag_cache = true").is_err());
    }

    #[test]
    fn token_config_reads_the_named_variable() {
        let c = parse("org = \"acme\"\ntoken_env = \"GH_TOKEN\"").unwrap();
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert_eq!(c.page_size, 100);
        assert_eq!(c.all_orgs(), vec!["acme"]);
        let creds = c
            .credentials(|name| (name == "GH_TOKEN").then(|| "ghp_x".to_string()))
            .unwrap();
        assert!(matches!(creds, Credentials::Token(t) if t.expose() == "ghp_x"));
        let err = c.credentials(|_| None).unwrap_err().to_string();
        assert!(err.contains("GH_TOKEN"), "{err}");
    }

    #[test]
    fn bad_configs_are_refused() {
        assert!(
            parse("org = \"acme\"\ntoken = \"ghp_x\"").is_err(),
            "unknown key"
        );
        let both = parse("org = \"acme\"\ntoken_env = \"T\"\napp_id = 1").unwrap();
        assert!(both.validate().is_err());
        let none = parse("org = \"acme\"").unwrap();
        assert!(none.validate().is_err());
        let half_app = parse("org = \"acme\"\napp_id = 1\ninstallation_id = 2").unwrap();
        assert!(half_app.validate().is_err());
        let no_org = parse("token_env = \"T\"").unwrap();
        assert!(no_org.validate().is_err());
        let bad_org = parse("org = \"../x\"\ntoken_env = \"T\"").unwrap();
        assert!(bad_org.validate().is_err());
        let big_page = parse("org = \"a\"\ntoken_env = \"T\"\npage_size = 500").unwrap();
        assert!(big_page.validate().is_err());
    }

    #[test]
    fn remediation_is_off_unless_enabled_and_its_keys_are_checked() {
        let c: GithubConfig =
            serde_json::from_value(serde_json::json!({"org": "acme", "token_env": "T"})).unwrap();
        assert!(!c.remediation.enabled);
        let c: GithubConfig = serde_json::from_value(serde_json::json!(
            {"org": "acme", "token_env": "T", "remediation": {"enabled": true}}
        ))
        .unwrap();
        assert!(c.remediation.enabled);
        let err = serde_json::from_value::<GithubConfig>(serde_json::json!(
            {"org": "acme", "token_env": "T", "remediation": {"enabled": true, "delete_after_days": 7}}
        ))
        .unwrap_err();
        assert!(err.to_string().contains("delete_after_days"), "{err}");
    }

    #[test]
    fn app_ids_may_be_numbers_or_strings_and_orgs_merge() {
        let c = parse(
            "org = \"acme\"\norgs = [\"acme\", \"labs\"]\napp_id = \"Iv1.abc\"\ninstallation_id = 42\nprivate_key_file = \"/nonexistent/key.pem\"",
        )
        .unwrap();
        assert_eq!(c.app_id.as_deref(), Some("Iv1.abc"));
        assert_eq!(c.installation_id.as_deref(), Some("42"));
        assert_eq!(c.all_orgs(), vec!["acme", "labs"]);
        let err = c.credentials(|_| None).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/key.pem"), "{err}");
    }
}
