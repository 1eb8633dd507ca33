//! `[[connectors]] kind = "aws"` settings.

use serde::Deserialize;

/// One AWS account to inventory.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The 12-digit account id; it is the scope of every record from the account.
    pub id: String,
    /// A role in that account to assume with the connector's own credentials.
    pub role_arn: Option<String>,
    /// `ExternalId` for the assume-role call, when the role demands one (not a secret).
    pub external_id: Option<String>,
}

/// Staged key remediation: deactivate, then delete after a grace period. Off unless enabled.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RemediationConfig {
    pub enabled: bool,
    /// Days a key must stay inactive before Roster deletes it.
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

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AwsConfig {
    pub accounts: Vec<AccountConfig>,
    #[serde(default = "default_region")]
    pub region: String,
    /// Where IAM and STS are reached (moto, a VPC endpoint); AWS's own endpoints when absent.
    pub endpoint_url: Option<String>,
    /// Names of environment variables holding the connector's key; without them the standard
    /// AWS credential chain is used (environment, profile, web identity, container, instance).
    pub access_key_id_env: Option<String>,
    pub secret_access_key_env: Option<String>,
    pub session_token_env: Option<String>,
    /// Or files holding them (a mounted secret).
    pub access_key_id_file: Option<String>,
    pub secret_access_key_file: Option<String>,
    /// Extra GitHub OIDC issuer hosts (GitHub Enterprise Server).
    #[serde(default)]
    pub github_issuers: Vec<String>,
    /// Extra GitLab OIDC issuer hosts (self-managed GitLab).
    #[serde(default)]
    pub gitlab_issuers: Vec<String>,
    /// Accounts beyond `accounts` that roles may trust without a finding: your other accounts,
    /// a vetted vendor's. A trusted account in neither list is `aws.trust.foreign_account`.
    #[serde(default)]
    pub known_accounts: Vec<String>,
    /// Your AWS Organization (`o-…`): a trust narrowed by `aws:PrincipalOrgID` to it is inside;
    /// to another organisation, foreign.
    pub organization_id: Option<String>,
    /// Attempts per call, including the first (throttling, 5xx and timeouts are retried).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    #[serde(default = "default_max_backoff_secs")]
    pub max_backoff_secs: u64,
    /// Bound on one call, retries included.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Calls in flight at once (ListAccessKeys per user).
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Page size asked of IAM list calls (IAM allows at most 1000).
    #[serde(default = "default_page_size")]
    pub page_size: i32,
    /// Bound on pages per listing, against pagination loops.
    #[serde(default = "default_max_pages")]
    pub max_pages: u64,
    #[serde(default)]
    pub remediation: RemediationConfig,
}

fn default_region() -> String {
    "us-east-1".into()
}
fn default_max_attempts() -> u32 {
    5
}
fn default_initial_backoff_ms() -> u64 {
    500
}
fn default_max_backoff_secs() -> u64 {
    20
}
fn default_timeout_secs() -> u64 {
    120
}
fn default_concurrency() -> usize {
    8
}
fn default_page_size() -> i32 {
    1000
}
fn default_max_pages() -> u64 {
    10_000
}
