//! The OAuth 2.0 client-credentials grant against Microsoft's identity platform: with a client
//! secret, or with a client assertion — an RS256 JWT signed with the certificate's private key,
//! its header naming the certificate by `x5t` (base64url SHA-1 thumbprint), as Entra requires.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::HeaderValue;
use roster_connector_sdk::{ConnectorError, HttpClient, RequestBody, Secret};
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer};
use serde::Deserialize;
use sha1::{Digest, Sha1};
use url::Url;

use crate::config::Credentials;

/// Entra accepts assertions valid for up to ten minutes; five is plenty for one request.
const ASSERTION_LIFETIME_SECS: i64 = 5 * 60;

pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A certificate's private key and thumbprint. `Debug` never shows the key.
#[derive(Clone)]
pub struct CertificateKey {
    key: Box<RsaPrivateKey>,
    /// base64url(SHA-1(DER certificate)).
    x5t: String,
}

impl fmt::Debug for CertificateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateKey")
            .field("x5t", &self.x5t)
            .field("key", &"[redacted]")
            .finish()
    }
}

/// The base64 body of the first PEM block labelled `label`.
fn pem_block(pem: &str, label: &str) -> Option<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    Some(pem[start..stop].split_whitespace().collect())
}

impl CertificateKey {
    /// Reads the certificate (`BEGIN CERTIFICATE`) from `cert_pem` and the RSA private key
    /// (PKCS#8 `BEGIN PRIVATE KEY` or PKCS#1 `BEGIN RSA PRIVATE KEY`) from `key_pem` (often the
    /// same file). Errors never quote the input.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, String> {
        let der = pem_block(cert_pem, "CERTIFICATE")
            .and_then(|b64| STANDARD.decode(b64).ok())
            .ok_or_else(|| "no PEM certificate (BEGIN CERTIFICATE) found".to_string())?;
        let der_of = |label| pem_block(key_pem, label).and_then(|b64| STANDARD.decode(b64).ok());
        let key = if let Some(der) = der_of("PRIVATE KEY") {
            RsaPrivateKey::from_pkcs8_der(&der).ok()
        } else if let Some(der) = der_of("RSA PRIVATE KEY") {
            RsaPrivateKey::from_pkcs1_der(&der).ok()
        } else {
            None
        }
        .ok_or_else(|| "no RSA private key in PEM (PKCS#8 or PKCS#1) found".to_string())?;
        Ok(Self::new(key, &der))
    }

    /// A key and the DER certificate it belongs to.
    pub fn new(key: RsaPrivateKey, certificate_der: &[u8]) -> Self {
        Self {
            key: Box::new(key),
            x5t: URL_SAFE_NO_PAD.encode(Sha1::digest(certificate_der)),
        }
    }

    /// The certificate's thumbprint as the JWT header carries it.
    pub fn x5t(&self) -> &str {
        &self.x5t
    }

    /// The client assertion for `client_id` at the token endpoint `audience`.
    pub fn assertion(&self, client_id: &str, audience: &str, now: DateTime<Utc>) -> Secret {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t});
        let iat = now.timestamp();
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": format!("{:032x}", rand::random::<u128>()),
            "iat": iat,
            "nbf": iat,
            "exp": iat + ASSERTION_LIFETIME_SECS,
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

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
}

/// Asks the token endpoint for a Graph access token; returns it with its expiry.
pub(crate) async fn request_token(
    client: &HttpClient,
    token_url: &Url,
    client_id: &str,
    scope: &str,
    credentials: &Credentials,
    now: DateTime<Utc>,
) -> Result<(Secret, DateTime<Utc>), ConnectorError> {
    // The serializer is not `Send`: the form is finished before anything is awaited.
    let form = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials")
            .append_pair("client_id", client_id)
            .append_pair("scope", scope);
        match credentials {
            Credentials::Secret(secret) => {
                form.append_pair("client_secret", secret.expose());
            }
            Credentials::Certificate(key) => {
                let assertion = key.assertion(client_id, token_url.as_str(), now);
                form.append_pair("client_assertion_type", CLIENT_ASSERTION_TYPE)
                    .append_pair("client_assertion", assertion.expose());
            }
            Credentials::Token(token) => {
                return Ok((token.clone(), DateTime::<Utc>::MAX_UTC));
            }
        }
        form.finish()
    };
    let body = RequestBody::new(
        HeaderValue::from_static("application/x-www-form-urlencoded"),
        form.into_bytes(),
    );
    let raw = client
        .send(Method::POST, token_url.as_str(), Some(body))
        .await
        .map_err(|e| match e {
            // Entra answers a wrong secret, an unknown certificate or client with 400/401.
            ConnectorError::Status {
                status: 400, url, ..
            }
            | ConnectorError::Unauthorized { url } => ConnectorError::Unauthorized { url },
            other => other,
        })?;
    // The body holds the token: parse errors must not quote it, so no serde detail here.
    let parsed: TokenResponse =
        serde_json::from_slice(&raw.body).map_err(|_| ConnectorError::Malformed {
            url: raw.url.to_string(),
            detail: "token response lacks `access_token`".into(),
        })?;
    let lifetime = parsed.expires_in.unwrap_or(3600).clamp(60, 24 * 3600);
    let expires_at = now + chrono::Duration::seconds(lifetime);
    tracing::debug!(%expires_at, "obtained a Graph access token");
    Ok((Secret::new(parsed.access_token), expires_at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::signature::Verifier;

    #[test]
    fn assertion_is_rs256_with_x5t_and_entra_claims() {
        let mut rng = rand::thread_rng();
        let private = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let key_pem = private.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let der = b"not really a certificate, but bytes to hash";
        let cert_pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n{}",
            STANDARD.encode(der),
            key_pem.as_str()
        );
        let key = CertificateKey::from_pem(&cert_pem, &cert_pem).unwrap();
        assert_eq!(key.x5t(), URL_SAFE_NO_PAD.encode(Sha1::digest(der)));
        assert!(!format!("{key:?}").contains("PRIVATE"));
        let now = DateTime::from_timestamp(1_735_689_600, 0).unwrap();
        let jwt = key.assertion("client-1", "https://login.example/t/oauth2/v2.0/token", now);
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t"], key.x5t());
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["aud"], "https://login.example/t/oauth2/v2.0/token");
        assert_eq!(claims["exp"], 1_735_689_600 + 300);
        let sig =
            Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
        VerifyingKey::<Sha256>::new(private.to_public_key())
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();
        assert!(CertificateKey::from_pem("nope", "nope").is_err());
    }
}
