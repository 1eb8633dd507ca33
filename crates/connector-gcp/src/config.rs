//! `[[connectors]] kind = "gcp"` settings. Every endpoint comes from here (with Google's as
//! defaults), so a test double or a private endpoint takes the place of each; the credential
//! comes only from a file (`credentials_file`) or an environment variable (`access_token_env`).

use std::path::PathBuf;

use roster_connector_sdk::ConnectorError;
use serde::Deserialize;
use url::Url;

/// The settings of one GCP connector.
///
/// ```toml
/// [[connectors]]
/// name = "acme-gcp"
/// kind = "gcp"
/// projects = ["acme-prod", "acme-dev"]
/// credentials_file = "/etc/roster/gcp.json"   # a service-account key or an external-account file
///
/// [connectors.remediation]                    # optional; `roster remediate --execute` needs it
/// enabled = true
/// delete_after_days = 7
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GcpConfig {
    /// Project ids to inventory; each is one scope.
    pub projects: Vec<String>,
    /// A service-account key file (`"type": "service_account"`) or an external-account file
    /// (`"type": "external_account"`, workload identity federation).
    #[serde(default)]
    pub credentials_file: Option<PathBuf>,
    /// The name of an environment variable holding an OAuth access token (minted elsewhere,
    /// e.g. by `gcloud auth print-access-token`). Instead of `credentials_file`.
    #[serde(default)]
    pub access_token_env: Option<String>,
    #[serde(default = "default_iam_url")]
    pub iam_url: String,
    #[serde(default = "default_resource_manager_url")]
    pub resource_manager_url: String,
    #[serde(default = "default_policy_analyzer_url")]
    pub policy_analyzer_url: String,
    /// Where a service-account key's signed JWT is exchanged for an access token. The key
    /// file's own `token_uri` is not used: a file cannot send the credential elsewhere.
    #[serde(default = "default_token_url")]
    pub token_url: String,
    /// Security Token Service endpoint of an external-account file (the file's `token_url` is
    /// not used, for the same reason).
    #[serde(default = "default_sts_url")]
    pub sts_url: String,
    /// IAM Credentials API, for an external-account file that impersonates a service account
    /// (the path of the file's `service_account_impersonation_url` is sent here).
    #[serde(default = "default_iam_credentials_url")]
    pub iam_credentials_url: String,
    /// Read last authentication from the Policy Analyzer activity API. Off: usage is
    /// `no_telemetry` everywhere.
    #[serde(default = "default_true")]
    pub activity: bool,
    /// `pageSize` of list requests (IAM allows up to 100, the activity API up to 1000).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Most pages of one HTTP listing before the listing fails as a pagination loop.
    #[serde(default)]
    pub max_pages: Option<u64>,
    #[serde(default)]
    pub remediation: RemediationConfig,
}

/// Staged key remediation: `disable`, then `delete` once the key has been disabled for
/// `delete_after_days`. Off unless enabled.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RemediationConfig {
    pub enabled: bool,
    /// Days a key must stay disabled (through Roster) before Roster deletes it.
    pub delete_after_days: i64,
}

impl Default for RemediationConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            delete_after_days: 7,
        }
    }
}

pub const DEFAULT_MAX_PAGES: u64 = 10_000;

fn default_iam_url() -> String {
    "https://iam.googleapis.com/".into()
}
fn default_resource_manager_url() -> String {
    "https://cloudresourcemanager.googleapis.com/".into()
}
fn default_policy_analyzer_url() -> String {
    "https://policyanalyzer.googleapis.com/".into()
}
fn default_token_url() -> String {
    "https://oauth2.googleapis.com/token".into()
}
fn default_sts_url() -> String {
    "https://sts.googleapis.com/v1/token".into()
}
fn default_iam_credentials_url() -> String {
    "https://iamcredentials.googleapis.com/".into()
}
fn default_true() -> bool {
    true
}
fn default_page_size() -> u32 {
    100
}

/// The parsed endpoints of a config.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub iam: Url,
    pub resource_manager: Url,
    pub policy_analyzer: Url,
    pub token: Url,
    pub sts: Url,
    pub iam_credentials: Url,
}

impl GcpConfig {
    /// A config for `projects` with every endpoint at `base` (a test double) and every other
    /// setting at its default.
    pub fn with_base(base: &str, projects: &[&str]) -> Self {
        let base = base.trim_end_matches('/');
        Self {
            projects: projects.iter().map(|p| (*p).to_string()).collect(),
            credentials_file: None,
            access_token_env: None,
            iam_url: format!("{base}/"),
            resource_manager_url: format!("{base}/"),
            policy_analyzer_url: format!("{base}/"),
            token_url: format!("{base}/token"),
            sts_url: format!("{base}/v1/token"),
            iam_credentials_url: format!("{base}/"),
            activity: true,
            page_size: default_page_size(),
            max_pages: None,
            remediation: RemediationConfig::default(),
        }
    }

    pub(crate) fn endpoints(&self) -> Result<Endpoints, ConnectorError> {
        let parse = |key: &str, v: &str| {
            Url::parse(v.trim()).map_err(|e| ConnectorError::Config(format!("{key} `{v}`: {e}")))
        };
        Ok(Endpoints {
            iam: parse("iam_url", &self.iam_url)?,
            resource_manager: parse("resource_manager_url", &self.resource_manager_url)?,
            policy_analyzer: parse("policy_analyzer_url", &self.policy_analyzer_url)?,
            token: parse("token_url", &self.token_url)?,
            sts: parse("sts_url", &self.sts_url)?,
            iam_credentials: parse("iam_credentials_url", &self.iam_credentials_url)?,
        })
    }

    /// Checks what does not need the credential itself.
    pub(crate) fn validate(&self) -> Result<(), ConnectorError> {
        if self.projects.is_empty() {
            return Err(ConnectorError::Config(
                "set `projects`: the GCP project ids to inventory".into(),
            ));
        }
        for p in &self.projects {
            if !is_project_id(p) {
                return Err(ConnectorError::Config(format!(
                    "`{p}` is not a GCP project id (6–30 lowercase letters, digits and hyphens)"
                )));
            }
        }
        match (&self.credentials_file, &self.access_token_env) {
            (Some(_), Some(_)) => {
                return Err(ConnectorError::Config(
                    "set either `credentials_file` or `access_token_env`, not both".into(),
                ));
            }
            (None, None) => {
                return Err(ConnectorError::Config(
                    "no credentials: set `credentials_file` (a service-account key or external-account JSON file) \
                     or `access_token_env` (the name of an environment variable holding an access token)"
                        .into(),
                ));
            }
            _ => {}
        }
        if !(1..=100).contains(&self.page_size) {
            return Err(ConnectorError::Config(
                "page_size must be between 1 and 100 (IAM's pageSize bound)".into(),
            ));
        }
        if self.max_pages == Some(0) {
            return Err(ConnectorError::Config(
                "max_pages must be at least 1".into(),
            ));
        }
        if self.remediation.delete_after_days < 0 {
            return Err(ConnectorError::Config(
                "remediation.delete_after_days must not be negative".into(),
            ));
        }
        self.endpoints()?;
        Ok(())
    }
}

/// GCP project ids: 6–30 characters, lowercase letters, digits and hyphens, starting with a
/// letter. Checked because they become URL path segments.
pub(crate) fn is_project_id(p: &str) -> bool {
    (6..=30).contains(&p.len())
        && p.starts_with(|c: char| c.is_ascii_lowercase())
        && p.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !p.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_googles_endpoints_and_bad_configs_are_refused() {
        let c: GcpConfig = serde_json::from_value(
            json!({"projects": ["acme-prod"], "credentials_file": "/etc/k.json"}),
        )
        .unwrap();
        assert!(c.validate().is_ok());
        assert_eq!(c.iam_url, "https://iam.googleapis.com/");
        assert!(c.activity);
        assert!(!c.remediation.enabled);
        assert_eq!(c.remediation.delete_after_days, 7);

        let unknown = serde_json::from_value::<GcpConfig>(
            json!({"projects": ["acme-prod"], "private_key": "-----BEGIN"}),
        );
        assert!(unknown.is_err());
        let mut bad = c.clone();
        bad.projects = vec!["../x".into()];
        assert!(bad.validate().is_err());
        let mut none = c.clone();
        none.credentials_file = None;
        assert!(
            none.validate()
                .unwrap_err()
                .to_string()
                .contains("no credentials")
        );
        let mut both = c.clone();
        both.access_token_env = Some("T".into());
        assert!(both.validate().is_err());
        let mut url = c.clone();
        url.iam_url = "not a url".into();
        assert!(url.validate().unwrap_err().to_string().contains("iam_url"));
    }

    #[test]
    fn project_ids() {
        for ok in ["acme-prod", "my-project-123456"] {
            assert!(is_project_id(ok), "{ok}");
        }
        for bad in [
            "short",
            "Acme-prod",
            "1acme-prod",
            "acme-prod-",
            "acme/prod",
            "acme..prod",
        ] {
            assert!(!is_project_id(bad), "{bad}");
        }
    }
}
