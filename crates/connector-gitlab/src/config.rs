//! `[[connectors]] kind = "gitlab"` settings. The token comes only from an environment variable
//! (`token_env`) or a file (`token_file`), never inline.

use std::path::PathBuf;

use roster_connector_sdk::{ConnectorError, Secret};
use serde::Deserialize;
use url::Url;

/// The settings of one GitLab connector.
///
/// ```toml
/// [[connectors]]
/// name = "acme-gitlab"
/// kind = "gitlab"
/// url = "https://gitlab.com"            # self-managed: https://gitlab.example.com
/// groups = ["acme"]                      # top-level groups (subgroups and their projects included)
/// instance = false                       # self-managed with an admin token: the whole instance
/// token_env = "GITLAB_TOKEN"             # or token_file = "/run/secrets/gitlab"
///
/// [connectors.remediation]               # optional; `roster remediate --execute` needs it
/// enabled = true
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GitlabConfig {
    /// The GitLab instance (the API is under `{url}/api/v4`).
    #[serde(default = "default_url")]
    pub url: String,
    /// Groups to inventory, by full path (`acme` or `acme/platform`).
    #[serde(default)]
    pub groups: Vec<String>,
    /// Instance-wide inventory through the admin API (self-managed, administrator token): instance
    /// runners, instance CI/CD variables, every deploy key, service accounts and their tokens, and
    /// the per-project kinds of every project.
    #[serde(default)]
    pub instance: bool,
    /// The name of the environment variable holding the token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// A file holding the token.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// `per_page` of every list request (GitLab allows 1–100).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Most pages of one HTTP listing before it fails as a pagination loop. Default 10,000.
    #[serde(default)]
    pub max_pages: Option<u64>,
    /// Tokens whose lifetime (expiry minus creation) exceeds this many days are reported
    /// (`gitlab.token.lifetime_over_max`). GitLab's own default maximum is 365.
    #[serde(default = "default_max_token_lifetime_days")]
    pub max_token_lifetime_days: i64,
    /// `roster remediate --execute` through this connector (a dry run works without).
    #[serde(default)]
    pub remediation: RemediationConfig,
}

/// Remediation (revoke an access, personal or deploy token; delete a deploy key or a pipeline
/// trigger). Off unless enabled.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RemediationConfig {
    pub enabled: bool,
}

pub const DEFAULT_URL: &str = "https://gitlab.com";
pub const DEFAULT_MAX_PAGES: u64 = 10_000;

fn default_url() -> String {
    DEFAULT_URL.to_string()
}

fn default_page_size() -> u32 {
    100
}

fn default_max_token_lifetime_days() -> i64 {
    365
}

impl GitlabConfig {
    /// A config for `groups` at `url` with every other setting at its default.
    pub fn new(url: impl Into<String>, groups: &[&str]) -> Self {
        Self {
            url: url.into(),
            groups: groups.iter().map(|g| (*g).to_string()).collect(),
            instance: false,
            token_env: None,
            token_file: None,
            page_size: default_page_size(),
            max_pages: None,
            max_token_lifetime_days: default_max_token_lifetime_days(),
            remediation: RemediationConfig::default(),
        }
    }

    /// Every configured group path, trimmed, duplicates removed.
    pub fn all_groups(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for g in &self.groups {
            let g = g.trim().trim_matches('/');
            if !g.is_empty() && !out.iter().any(|x| x.eq_ignore_ascii_case(g)) {
                out.push(g.to_string());
            }
        }
        out
    }

    /// `{url}/api/v4`.
    pub(crate) fn api_base(&self) -> Result<Url, ConnectorError> {
        let base = self.url.trim().trim_end_matches('/');
        Url::parse(&format!("{base}/api/v4"))
            .map_err(|e| ConnectorError::Config(format!("url `{}`: {e}", self.url)))
    }

    /// Everything but the credentials.
    pub(crate) fn validate(&self) -> Result<(), ConnectorError> {
        let groups = self.all_groups();
        if groups.is_empty() && !self.instance {
            return Err(ConnectorError::Config(
                "set `groups` (group paths to inventory) or `instance = true` (a self-managed instance, admin token)".into(),
            ));
        }
        for g in &groups {
            let ok = g.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            });
            if !ok {
                return Err(ConnectorError::Config(format!(
                    "`{g}` is not a GitLab group path"
                )));
            }
        }
        if !(1..=100).contains(&self.page_size) {
            return Err(ConnectorError::Config(
                "page_size must be between 1 and 100 (GitLab's per_page bounds)".into(),
            ));
        }
        if self.max_pages == Some(0) {
            return Err(ConnectorError::Config(
                "max_pages must be at least 1".into(),
            ));
        }
        if self.max_token_lifetime_days < 1 {
            return Err(ConnectorError::Config(
                "max_token_lifetime_days must be at least 1".into(),
            ));
        }
        self.api_base()?;
        Ok(())
    }

    /// The token the config names. `env` looks an environment variable up (a parameter so that
    /// tests need not touch the process environment).
    pub fn token(&self, env: impl Fn(&str) -> Option<String>) -> Result<Secret, ConnectorError> {
        self.validate()?;
        let token = match (&self.token_env, &self.token_file) {
            (Some(_), Some(_)) => {
                return Err(ConnectorError::Config(
                    "set either `token_env` or `token_file`, not both".into(),
                ));
            }
            (None, None) => {
                return Err(ConnectorError::Config(
                    "no credentials: set `token_env` (the name of an environment variable holding a token) or `token_file`".into(),
                ));
            }
            (Some(var), None) => {
                let token = env(var).map(|t| t.trim().to_string()).unwrap_or_default();
                if token.is_empty() {
                    return Err(ConnectorError::Config(format!(
                        "environment variable `{var}` (token_env) is not set or empty"
                    )));
                }
                token
            }
            (None, Some(path)) => {
                let token = std::fs::read_to_string(path).map_err(|e| {
                    ConnectorError::Config(format!(
                        "cannot read token_file {}: {}",
                        path.display(),
                        e.kind()
                    ))
                })?;
                let token = token.trim().to_string();
                if token.is_empty() {
                    return Err(ConnectorError::Config(format!(
                        "token_file {} is empty",
                        path.display()
                    )));
                }
                token
            }
        };
        Ok(Secret::new(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<GitlabConfig, String> {
        serde_json::from_value(v).map_err(|e| e.to_string())
    }

    #[test]
    fn token_comes_from_the_named_variable() {
        let c = parse(json!({"groups": ["acme"], "token_env": "GL"})).unwrap();
        assert_eq!(c.url, DEFAULT_URL);
        assert_eq!(c.api_base().unwrap().as_str(), "https://gitlab.com/api/v4");
        let t = c
            .token(|n| (n == "GL").then(|| "glpat-x".to_string()))
            .unwrap();
        assert_eq!(t.expose(), "glpat-x");
        let err = c.token(|_| None).unwrap_err().to_string();
        assert!(err.contains("GL"), "{err}");
    }

    #[test]
    fn bad_configs_are_refused() {
        assert!(parse(json!({"groups": ["acme"], "token": "glpat-x"})).is_err());
        let none = parse(json!({"token_env": "T"})).unwrap();
        assert!(none.validate().is_err());
        let bad = parse(json!({"groups": ["../x"], "token_env": "T"})).unwrap();
        assert!(bad.validate().is_err());
        let both = parse(json!({"groups": ["a"], "token_env": "T", "token_file": "/x"})).unwrap();
        assert!(both.token(|_| Some("x".into())).is_err());
        let page = parse(json!({"groups": ["a"], "token_env": "T", "page_size": 500})).unwrap();
        assert!(page.validate().is_err());
        let instance = parse(json!({"instance": true, "token_env": "T"})).unwrap();
        assert!(instance.validate().is_ok());
        assert!(!instance.remediation.enabled);
    }
}
