//! `[[connectors]] kind = "azure"` settings, and turning them into credentials. The client
//! secret comes only from an environment variable (`client_secret_env`) or a file
//! (`client_secret_file`); a certificate from a PEM file (`certificate_file`). Never inline.

use std::path::PathBuf;

use roster_connector_sdk::{ConnectorError, Secret};
use serde::Deserialize;
use url::Url;

use crate::client_credentials::CertificateKey;

/// The settings of one Entra ID connector (one tenant).
///
/// ```toml
/// [[connectors]]
/// name = "contoso-entra"
/// kind = "azure"
/// tenant_id = "00000000-0000-0000-0000-000000000000"
/// client_id = "11111111-1111-1111-1111-111111111111"
/// client_secret_env = "ENTRA_CLIENT_SECRET"   # or client_secret_file, or certificate_file
/// # graph_url = "https://graph.microsoft.com"
/// # token_url = "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"
/// # max_secret_lifetime_days = 180
///
/// [connectors.remediation]                     # optional; `roster remediate --execute` needs it
/// enabled = true
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AzureConfig {
    /// The directory (tenant) id; the scope of every record.
    pub tenant_id: String,
    /// The application (client) id Roster signs in as.
    pub client_id: String,
    /// Microsoft Graph's root; `v1.0/` and `beta/` are appended.
    #[serde(default = "default_graph_url")]
    pub graph_url: String,
    /// The OAuth 2.0 token endpoint. Default: the tenant's on login.microsoftonline.com.
    #[serde(default)]
    pub token_url: Option<String>,
    /// The `scope` asked of the token endpoint. Default: `https://graph.microsoft.com/.default`
    /// (national clouds use their own Graph host).
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub client_secret_env: Option<String>,
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// A PEM file with the certificate registered on the app and its RSA private key (or the
    /// certificate only, with the key in `private_key_file`).
    #[serde(default)]
    pub certificate_file: Option<PathBuf>,
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// `$top` of every list request (Graph allows 1–999 for directory objects).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// A client secret valid for longer than this (end − start) is signalled
    /// (`azure.client_secret.lifetime_exceeds_max`). Microsoft recommends at most 180 days.
    #[serde(default = "default_max_secret_lifetime_days")]
    pub max_secret_lifetime_days: i64,
    /// Service principals of Microsoft's own first-party apps (Microsoft Graph, Office 365 …)
    /// are listed too when true; they are not the tenant's to own or rotate.
    #[serde(default)]
    pub include_microsoft_apps: bool,
    /// `roster remediate --execute` through this connector (a dry run works without).
    #[serde(default)]
    pub remediation: RemediationConfig,
}

/// Remediation (remove a client secret from an app registration). Off unless enabled.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RemediationConfig {
    pub enabled: bool,
}

pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com";
pub const DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";

fn default_graph_url() -> String {
    DEFAULT_GRAPH_URL.to_string()
}

fn default_page_size() -> u32 {
    100
}

fn default_max_secret_lifetime_days() -> i64 {
    180
}

/// How Roster authenticates to the token endpoint.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// `client_secret`.
    Secret(Secret),
    /// A client assertion (RS256 JWT with the certificate's `x5t`).
    Certificate(CertificateKey),
    /// A bearer token minted elsewhere (tests, or a token broker); never refreshed.
    Token(Secret),
}

impl AzureConfig {
    /// A config for `tenant_id` at `graph_url` with every other setting at its default.
    pub fn new(
        tenant_id: impl Into<String>,
        client_id: impl Into<String>,
        graph_url: impl Into<String>,
    ) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            client_id: client_id.into(),
            graph_url: graph_url.into(),
            token_url: None,
            scope: None,
            client_secret_env: None,
            client_secret_file: None,
            certificate_file: None,
            private_key_file: None,
            page_size: default_page_size(),
            max_secret_lifetime_days: default_max_secret_lifetime_days(),
            include_microsoft_apps: false,
            remediation: RemediationConfig::default(),
        }
    }

    pub(crate) fn graph_base(&self) -> Result<Url, ConnectorError> {
        Url::parse(self.graph_url.trim())
            .map_err(|e| ConnectorError::Config(format!("graph_url `{}`: {e}", self.graph_url)))
    }

    pub(crate) fn token_endpoint(&self) -> Result<Url, ConnectorError> {
        let raw = match &self.token_url {
            Some(u) => u.trim().to_string(),
            None => format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                self.tenant_id.trim()
            ),
        };
        Url::parse(&raw).map_err(|e| ConnectorError::Config(format!("token_url `{raw}`: {e}")))
    }

    pub(crate) fn token_scope(&self) -> String {
        self.scope
            .clone()
            .unwrap_or_else(|| DEFAULT_SCOPE.to_string())
    }

    /// Everything but the credentials.
    pub(crate) fn validate_common(&self) -> Result<(), ConnectorError> {
        let guid_like = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        };
        if !guid_like(self.tenant_id.trim()) {
            return Err(ConnectorError::Config(
                "tenant_id must be the directory (tenant) id or its primary domain".into(),
            ));
        }
        if !guid_like(self.client_id.trim()) {
            return Err(ConnectorError::Config(
                "client_id must be the application (client) id Roster signs in as".into(),
            ));
        }
        if !(1..=999).contains(&self.page_size) {
            return Err(ConnectorError::Config(
                "page_size must be between 1 and 999 (Graph's $top bounds)".into(),
            ));
        }
        if self.max_secret_lifetime_days < 1 {
            return Err(ConnectorError::Config(
                "max_secret_lifetime_days must be at least 1".into(),
            ));
        }
        self.graph_base()?;
        self.token_endpoint()?;
        Ok(())
    }

    /// The credentials the config names. `env` looks an environment variable up (a parameter so
    /// that tests need not touch the process environment).
    pub fn credentials(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Credentials, ConnectorError> {
        self.validate_common()?;
        let chosen = [
            self.client_secret_env.is_some(),
            self.client_secret_file.is_some(),
            self.certificate_file.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if chosen != 1 {
            return Err(ConnectorError::Config(
                "set exactly one of `client_secret_env` (an environment variable's name), \
                 `client_secret_file` or `certificate_file`"
                    .into(),
            ));
        }
        if self.private_key_file.is_some() && self.certificate_file.is_none() {
            return Err(ConnectorError::Config(
                "`private_key_file` goes with `certificate_file`".into(),
            ));
        }
        if let Some(var) = &self.client_secret_env {
            let secret = env(var).map(|t| t.trim().to_string()).unwrap_or_default();
            if secret.is_empty() {
                return Err(ConnectorError::Config(format!(
                    "environment variable `{var}` (client_secret_env) is not set or empty"
                )));
            }
            return Ok(Credentials::Secret(Secret::new(secret)));
        }
        if let Some(path) = &self.client_secret_file {
            let secret = read(path, "client_secret_file")?.trim().to_string();
            if secret.is_empty() {
                return Err(ConnectorError::Config(format!(
                    "client_secret_file `{}` is empty",
                    path.display()
                )));
            }
            return Ok(Credentials::Secret(Secret::new(secret)));
        }
        let Some(cert_path) = &self.certificate_file else {
            return Err(ConnectorError::Config("no credentials".into()));
        };
        let cert_pem = read(cert_path, "certificate_file")?;
        let key_pem = match &self.private_key_file {
            Some(p) => read(p, "private_key_file")?,
            None => cert_pem.clone(),
        };
        CertificateKey::from_pem(&cert_pem, &key_pem)
            .map(Credentials::Certificate)
            .map_err(|e| ConnectorError::Config(format!("{}: {e}", cert_path.display())))
    }
}

/// Reads a credential file; the error names the file, never its content.
fn read(path: &std::path::Path, key: &str) -> Result<String, ConnectorError> {
    std::fs::read_to_string(path)
        .map_err(|e| ConnectorError::Config(format!("{key} `{}`: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AzureConfig {
        AzureConfig::new(
            "contoso.onmicrosoft.com",
            "app-1",
            "https://graph.microsoft.com",
        )
    }

    #[test]
    fn exactly_one_credential_source() {
        let c = config();
        assert!(c.credentials(|_| None).is_err());
        let mut c = config();
        c.client_secret_env = Some("S".into());
        assert!(matches!(
            c.credentials(|_| Some("x".into())).unwrap(),
            Credentials::Secret(_)
        ));
        let err = c.credentials(|_| None).unwrap_err().to_string();
        assert!(err.contains("`S`"), "{err}");
        c.client_secret_file = Some("/nonexistent".into());
        assert!(c.credentials(|_| Some("x".into())).is_err());
    }

    #[test]
    fn secret_file_is_read_and_trimmed_and_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        std::fs::write(&p, "s3cr3t\n").unwrap();
        let mut c = config();
        c.client_secret_file = Some(p);
        match c.credentials(|_| None).unwrap() {
            Credentials::Secret(s) => assert_eq!(s.expose(), "s3cr3t"),
            other => panic!("{other:?}"),
        }
        let bad = dir.path().join("cert.pem");
        std::fs::write(&bad, "not a pem s3cr3t").unwrap();
        let mut c = config();
        c.certificate_file = Some(bad);
        let err = c.credentials(|_| None).unwrap_err().to_string();
        assert!(!err.contains("s3cr3t"), "{err}");
    }

    #[test]
    fn token_url_defaults_to_the_tenants_endpoint() {
        let c = config();
        assert_eq!(
            c.token_endpoint().unwrap().as_str(),
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
        );
        let mut c = config();
        c.page_size = 0;
        assert!(c.validate_common().is_err());
        let mut c = config();
        c.tenant_id = "../x".into();
        assert!(c.validate_common().is_err());
    }
}
