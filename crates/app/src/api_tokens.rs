//! API tokens for automation: an admin creates one with a role and an expiry, sees the secret
//! once, and can revoke it. Only the SHA-256 hash is stored. A request bearing a live token acts
//! as [`Principal`] `token:<name>` with the token's role.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use roster_store::api_tokens::NewApiToken;
use roster_store::audit::NewAuditEvent;
use sha2::{Digest, Sha256};

pub use roster_store::api_tokens::ApiToken;

use crate::Roster;
use crate::access::{Principal, Role};
use crate::error::AppError;

/// Every token starts with this, so secret scanners and people can recognise one.
pub const TOKEN_PREFIX: &str = "roster_";
/// The longest a token may live.
pub const MAX_TOKEN_DAYS: i64 = 365;

/// 32 random bytes as hex: session ids, CSRF tokens, token secrets.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hash_token(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The token a bearer presented, once it is known to be live.
pub struct TokenBearer {
    pub principal: Principal,
    pub expires_at: DateTime<Utc>,
}

impl Roster {
    /// The principal of a presented token secret; `None` when it is unknown, expired or
    /// revoked (or names a role this build does not know).
    pub async fn authenticate_token(
        &self,
        secret: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TokenBearer>, AppError> {
        let Some(t) = self.store.use_api_token(&hash_token(secret), now).await? else {
            return Ok(None);
        };
        Ok(t.role.parse::<Role>().ok().map(|role| TokenBearer {
            principal: Principal::token(role, &t.name),
            expires_at: t.expires_at,
        }))
    }

    pub async fn api_tokens(&self, p: &Principal) -> Result<Vec<ApiToken>, AppError> {
        p.require_manage_tokens()?;
        Ok(self.store.api_tokens().await?)
    }

    /// Creates a token; returns its secret, which is shown once and never stored.
    pub async fn create_api_token(
        &self,
        p: &Principal,
        name: &str,
        role: &str,
        days: i64,
        now: DateTime<Utc>,
    ) -> Result<String, AppError> {
        p.require_manage_tokens()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AppError::Invalid(
                "a token needs a name of 1 to 100 characters".into(),
            ));
        }
        let role: Role = role
            .parse()
            .map_err(|_| AppError::Invalid("role must be admin, auditor or owner".into()))?;
        if !(1..=MAX_TOKEN_DAYS).contains(&days) {
            return Err(AppError::Invalid(format!(
                "a token lives 1 to {MAX_TOKEN_DAYS} days"
            )));
        }
        let secret = format!("{TOKEN_PREFIX}{}", random_token());
        let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
        let actor = p.actor();
        self.store
            .create_api_token_audited(
                NewApiToken {
                    name,
                    prefix: &prefix,
                    hash: &hash_token(&secret),
                    role: role.as_str(),
                    created_by: &p.who,
                    expires_at: now + Duration::days(days),
                },
                now,
                |token| NewAuditEvent {
                    actor,
                    action: "api_token.create".into(),
                    target: Some(format!("api_token:{}", token.id)),
                    detail: serde_json::json!({"name": name, "role": role.as_str(), "prefix": prefix, "expires_at": token.expires_at}),
                },
            )
            .await?;
        Ok(secret)
    }

    pub async fn revoke_api_token(
        &self,
        p: &Principal,
        id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        p.require_manage_tokens()?;
        let event = NewAuditEvent {
            actor: p.actor(),
            action: "api_token.revoke".into(),
            target: Some(format!("api_token:{id}")),
            detail: serde_json::json!({}),
        };
        if self.store.revoke_api_token_audited(id, event, now).await? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("live API token {id}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_sha256_hex() {
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
