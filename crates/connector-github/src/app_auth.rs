//! GitHub App authentication: an RS256 JSON Web Token signed with the App's private key, which
//! `POST /app/installations/{id}/access_tokens` exchanges for an installation token (one hour).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use roster_connector_sdk::Secret;
use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer};

/// GitHub accepts JWTs valid for at most ten minutes; `iat` is backdated a minute for clock skew,
/// as GitHub recommends.
const JWT_BACKDATE_SECS: i64 = 60;
const JWT_LIFETIME_SECS: i64 = 9 * 60;

/// An App's RSA private key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct AppKey(Box<RsaPrivateKey>);

impl fmt::Debug for AppKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AppKey([redacted])")
    }
}

impl AppKey {
    /// Reads a PEM key: PKCS#1 (`BEGIN RSA PRIVATE KEY`, what GitHub hands out) or PKCS#8. The
    /// error never quotes the input.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        RsaPrivateKey::from_pkcs1_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs8_pem(pem))
            .map(|k| Self(Box::new(k)))
            .map_err(|_| "not an RSA private key in PEM (PKCS#1 or PKCS#8)".to_string())
    }

    /// The JWT that authenticates as the App at `now`.
    pub fn jwt(&self, app_id: &str, now: DateTime<Utc>) -> Secret {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        let iat = now.timestamp() - JWT_BACKDATE_SECS;
        let claims = serde_json::json!({
            "iat": iat,
            "exp": iat + JWT_LIFETIME_SECS,
            "iss": app_id,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = SigningKey::<Sha256>::new((*self.0).clone()).sign(signing_input.as_bytes());
        Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use rsa::pkcs1v15::{Signature, VerifyingKey};
    use rsa::signature::Verifier;

    #[test]
    fn jwt_is_rs256_signed_with_github_claims() {
        let mut rng = rand::thread_rng();
        let private = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let pem = private.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let key = AppKey::from_pem(&pem).unwrap();
        assert_eq!(format!("{key:?}"), "AppKey([redacted])");
        let now = DateTime::from_timestamp(1_735_689_600, 0).unwrap();
        let jwt = key.jwt("12345", now);
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "12345");
        assert_eq!(claims["iat"], 1_735_689_600 - 60);
        assert_eq!(claims["exp"], 1_735_689_600 - 60 + 540);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        let sig =
            Signature::try_from(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().as_slice()).unwrap();
        VerifyingKey::<Sha256>::new(private.to_public_key())
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig)
            .unwrap();
        assert!(AppKey::from_pem("-----BEGIN RSA PRIVATE KEY-----\nnope\n").is_err());
    }
}
