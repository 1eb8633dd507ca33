//! The credential the connector authenticates with, read from the config's file or variable:
//! - a service-account key file: an RS256 JWT signed with the key is exchanged for an access
//!   token at `token_url` (the OAuth 2.0 JWT bearer grant, RFC 7523);
//! - an external-account file (workload identity federation): a subject token read from the
//!   file named by `credential_source.file` is exchanged at `sts_url` (RFC 8693), then, when the
//!   file says so, for a service account's token through the IAM Credentials API;
//! - an access token from an environment variable.
//!
//! Every error here names the file and the field, never a value from it.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use roster_connector_sdk::{ConnectorError, Secret};
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer};
use serde::Deserialize;

use crate::config::GcpConfig;

/// Read-only is not enough for remediation (keys.disable/delete), and IAM has no narrower
/// OAuth scope that covers both; permissions are the roles granted to the identity.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Google accepts assertions valid for at most an hour.
const JWT_LIFETIME_SECS: i64 = 3600;

/// How the connector authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// An access token minted elsewhere, sent as is.
    AccessToken(Secret),
    ServiceAccountKey(ServiceAccountKey),
    ExternalAccount(ExternalAccount),
}

/// A service-account key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct ServiceAccountKey {
    pub client_email: String,
    pub private_key_id: Option<String>,
    key: Box<RsaPrivateKey>,
}

impl fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// Workload identity federation: where the subject token comes from and what it is exchanged for.
#[derive(Debug, Clone)]
pub struct ExternalAccount {
    /// `//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/Q`.
    pub audience: String,
    pub subject_token_type: String,
    pub subject_token_file: PathBuf,
    /// `json`: the token is this field of a JSON file; `None`: the file is the token.
    pub subject_token_field: Option<String>,
    /// The path (and query) of `service_account_impersonation_url`, sent to `iam_credentials_url`.
    pub impersonation_path: Option<String>,
}

#[derive(Deserialize)]
struct CredentialFile {
    #[serde(rename = "type")]
    kind: Option<String>,
    // service_account
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    // external_account
    audience: Option<String>,
    subject_token_type: Option<String>,
    service_account_impersonation_url: Option<String>,
    credential_source: Option<CredentialSource>,
}

#[derive(Deserialize)]
struct CredentialSource {
    file: Option<PathBuf>,
    url: Option<String>,
    environment_id: Option<String>,
    executable: Option<serde_json::Value>,
    format: Option<SourceFormat>,
}

#[derive(Deserialize)]
struct SourceFormat {
    #[serde(rename = "type")]
    kind: Option<String>,
    subject_token_field_name: Option<String>,
}

impl ServiceAccountKey {
    /// Reads the RSA key of a key file's `private_key` (PKCS#8, as Google issues it, or PKCS#1).
    pub fn new(
        client_email: String,
        private_key_id: Option<String>,
        pem: &str,
    ) -> Result<Self, String> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|_| "`private_key` is not an RSA private key in PEM".to_string())?;
        Ok(Self {
            client_email,
            private_key_id,
            key: Box::new(key),
        })
    }

    /// The signed assertion for the JWT bearer grant at `audience` (the token endpoint).
    pub fn assertion(&self, audience: &str, now: DateTime<Utc>) -> Secret {
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.private_key_id {
            header["kid"] = serde_json::Value::String(kid.clone());
        }
        let iat = now.timestamp();
        let claims = serde_json::json!({
            "iss": self.client_email,
            "scope": CLOUD_PLATFORM_SCOPE,
            "aud": audience,
            "iat": iat,
            "exp": iat + JWT_LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature =
            SigningKey::<Sha256>::new((*self.key).clone()).sign(signing_input.as_bytes());
        Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }
}

impl ExternalAccount {
    /// The current subject token (read at every exchange: CI platforms rotate the file).
    pub fn subject_token(&self) -> Result<Secret, ConnectorError> {
        let path = &self.subject_token_file;
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConnectorError::Config(format!(
                "cannot read the subject token file {}: {}",
                path.display(),
                e.kind()
            ))
        })?;
        let token = match &self.subject_token_field {
            None => text.trim().to_string(),
            Some(field) => serde_json::from_str::<serde_json::Value>(&text)
                .ok()
                .and_then(|v| v.get(field).and_then(|t| t.as_str()).map(str::to_string))
                .ok_or_else(|| {
                    ConnectorError::Config(format!(
                        "the subject token file {} is not JSON with a string `{field}`",
                        path.display()
                    ))
                })?,
        };
        if token.is_empty() {
            return Err(ConnectorError::Config(format!(
                "the subject token file {} is empty",
                path.display()
            )));
        }
        Ok(Secret::new(token))
    }
}

/// The credentials the config names. `env` looks an environment variable up.
pub fn credentials(
    config: &GcpConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Credentials, ConnectorError> {
    config.validate()?;
    if let Some(var) = &config.access_token_env {
        let token = env(var).map(|t| t.trim().to_string()).unwrap_or_default();
        if token.is_empty() {
            return Err(ConnectorError::Config(format!(
                "environment variable `{var}` (access_token_env) is not set or empty"
            )));
        }
        return Ok(Credentials::AccessToken(Secret::new(token)));
    }
    match &config.credentials_file {
        Some(path) => read_credentials_file(path),
        None => Err(ConnectorError::Config("no credentials configured".into())),
    }
}

/// Reads a service-account key or external-account file.
pub fn read_credentials_file(path: &Path) -> Result<Credentials, ConnectorError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConnectorError::Config(format!(
            "cannot read credentials_file {shown}: {}",
            e.kind()
        ))
    })?;
    // No serde detail: it could quote the key.
    let file: CredentialFile = serde_json::from_str(&text).map_err(|_| {
        ConnectorError::Config(format!(
            "credentials_file {shown} is not a JSON credentials file"
        ))
    })?;
    let missing =
        |field: &str| ConnectorError::Config(format!("credentials_file {shown} lacks `{field}`"));
    match file.kind.as_deref() {
        Some("service_account") => {
            let email = file.client_email.ok_or_else(|| missing("client_email"))?;
            let pem = file.private_key.ok_or_else(|| missing("private_key"))?;
            let key = ServiceAccountKey::new(email, file.private_key_id, &pem)
                .map_err(|d| ConnectorError::Config(format!("credentials_file {shown}: {d}")))?;
            Ok(Credentials::ServiceAccountKey(key))
        }
        Some("external_account") => {
            let audience = file.audience.ok_or_else(|| missing("audience"))?;
            let subject_token_type = file
                .subject_token_type
                .ok_or_else(|| missing("subject_token_type"))?;
            let source = file
                .credential_source
                .ok_or_else(|| missing("credential_source"))?;
            let Some(subject_token_file) = source.file else {
                let what = if source.url.is_some() {
                    "a `url`"
                } else if source.environment_id.is_some() {
                    "an `environment_id`"
                } else if source.executable.is_some() {
                    "an `executable`"
                } else {
                    "no"
                };
                return Err(ConnectorError::Config(format!(
                    "credentials_file {shown}: credential_source has {what} source; Roster reads subject tokens from a `file` source only"
                )));
            };
            let subject_token_field = match source.format {
                Some(SourceFormat {
                    kind: Some(kind), ..
                }) if kind == "text" => None,
                Some(SourceFormat {
                    kind: Some(kind),
                    subject_token_field_name,
                }) if kind == "json" => {
                    Some(subject_token_field_name.ok_or_else(|| {
                        missing("credential_source.format.subject_token_field_name")
                    })?)
                }
                Some(SourceFormat { kind: Some(_), .. }) => {
                    return Err(ConnectorError::Config(format!(
                        "credentials_file {shown}: credential_source.format.type must be `text` or `json`"
                    )));
                }
                _ => None,
            };
            let impersonation_path = file
                .service_account_impersonation_url
                .map(|u| {
                    url::Url::parse(&u)
                        .map(|u| match u.query() {
                            Some(q) => format!("{}?{q}", u.path()),
                            None => u.path().to_string(),
                        })
                        .map_err(|_| {
                            ConnectorError::Config(format!(
                                "credentials_file {shown}: service_account_impersonation_url is not a URL"
                            ))
                        })
                })
                .transpose()?;
            Ok(Credentials::ExternalAccount(ExternalAccount {
                audience,
                subject_token_type,
                subject_token_file,
                subject_token_field,
                impersonation_path,
            }))
        }
        Some(other) => Err(ConnectorError::Config(format!(
            "credentials_file {shown} is of type `{other}`; expected `service_account` or `external_account`"
        ))),
        None => Err(missing("type")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::signature::Verifier;

    fn pem() -> (RsaPrivateKey, String) {
        let mut rng = rand::thread_rng();
        let private = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let pem = private
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap()
            .to_string();
        (private, pem)
    }

    #[test]
    fn key_file_gives_an_rs256_assertion_for_the_token_endpoint() {
        let (private, pem) = pem();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        std::fs::write(
            &path,
            serde_json::json!({"type": "service_account", "project_id": "acme-prod",
                "private_key_id": "abc123", "private_key": pem,
                "client_email": "roster@acme-prod.iam.gserviceaccount.com",
                "token_uri": "https://elsewhere.example.com/token"})
            .to_string(),
        )
        .unwrap();
        let Credentials::ServiceAccountKey(key) = read_credentials_file(&path).unwrap() else {
            panic!("not a key");
        };
        assert!(!format!("{key:?}").contains("BEGIN"), "{key:?}");
        let now = DateTime::from_timestamp(1_735_689_600, 0).unwrap();
        let jwt = key.assertion("http://127.0.0.1:1/token", now);
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["kid"], "abc123");
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "roster@acme-prod.iam.gserviceaccount.com");
        assert_eq!(claims["aud"], "http://127.0.0.1:1/token");
        assert_eq!(claims["scope"], CLOUD_PLATFORM_SCOPE);
        assert_eq!(claims["exp"], 1_735_689_600 + 3600);
        let sig =
            Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
        VerifyingKey::<Sha256>::new(private.to_public_key())
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();
    }

    #[test]
    fn external_account_file_reads_its_file_source() {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token.json");
        std::fs::write(&token, r#"{"id_token": "eyJ.subject.token"}"#).unwrap();
        let path = dir.path().join("wif.json");
        std::fs::write(
            &path,
            serde_json::json!({"type": "external_account",
                "audience": "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/ci/providers/gh",
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "token_url": "https://sts.googleapis.com/v1/token",
                "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/roster@acme-prod.iam.gserviceaccount.com:generateAccessToken",
                "credential_source": {"file": token, "format": {"type": "json", "subject_token_field_name": "id_token"}}})
            .to_string(),
        )
        .unwrap();
        let Credentials::ExternalAccount(ext) = read_credentials_file(&path).unwrap() else {
            panic!("not external");
        };
        assert_eq!(ext.subject_token().unwrap().expose(), "eyJ.subject.token");
        assert_eq!(
            ext.impersonation_path.as_deref(),
            Some(
                "/v1/projects/-/serviceAccounts/roster@acme-prod.iam.gserviceaccount.com:generateAccessToken"
            )
        );

        std::fs::write(
            &path,
            r#"{"type": "external_account", "audience": "a", "subject_token_type": "t",
                "credential_source": {"url": "http://169.254.169.254/token"}}"#,
        )
        .unwrap();
        let err = read_credentials_file(&path).unwrap_err().to_string();
        assert!(err.contains("`file` source only"), "{err}");
    }

    #[test]
    fn bad_files_are_refused_without_quoting_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.json");
        std::fs::write(
            &path,
            r#"{"type": "service_account", "client_email": "a@b", "private_key": "SECRETSECRET"}"#,
        )
        .unwrap();
        let err = read_credentials_file(&path).unwrap_err().to_string();
        assert!(!err.contains("SECRETSECRET"), "{err}");
        std::fs::write(&path, "SECRETSECRET not json").unwrap();
        let err = read_credentials_file(&path).unwrap_err().to_string();
        assert!(
            !err.contains("SECRETSECRET") && err.contains("not a JSON"),
            "{err}"
        );
        std::fs::write(&path, r#"{"type": "authorized_user"}"#).unwrap();
        let err = read_credentials_file(&path).unwrap_err().to_string();
        assert!(err.contains("authorized_user"), "{err}");
        let err = read_credentials_file(&dir.path().join("nope.json"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("nope.json"), "{err}");
    }
}
