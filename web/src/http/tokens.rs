//! API tokens for automation: an admin creates one with a role and an expiry, sees the secret
//! once, and can revoke it. Only the SHA-256 hash is stored. A request to `/api/` carrying
//! `Authorization: Bearer roster_…` acts with the token's role; such a request carries no cookie
//! a browser could be tricked into sending, so the CSRF check does not apply to it.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};
use roster_store::api_tokens::{ApiToken, NewApiToken};
use roster_store::audit::NewAuditEvent;
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::WebError;
use super::session::{Role, Session, SignedIn, random_token, require_session};

/// Every token starts with this, so secret scanners and people can recognise one.
pub const TOKEN_PREFIX: &str = "roster_";
/// The longest a token may live.
pub const MAX_TOKEN_DAYS: i64 = 365;

pub fn hash_token(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Marks a request authenticated by an API token (the CSRF check skips it).
#[derive(Clone)]
pub struct TokenPrincipal(pub Session);

fn parse_role(s: &str) -> Option<Role> {
    match s {
        "admin" => Some(Role::Admin),
        "auditor" => Some(Role::Auditor),
        "owner" => Some(Role::Owner),
        _ => None,
    }
}

/// Authenticates `/api/` requests that carry a bearer token; an unknown, expired or revoked
/// token is refused outright (401), never treated as anonymous.
pub async fn bearer_auth(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let bearer = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .map(str::to_owned);
    let (Some(secret), true) = (bearer, req.path().starts_with("/api/")) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let now = Utc::now();
    let found = match state.store.use_api_token(&hash_token(&secret), now).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "API token lookup failed");
            None
        }
    };
    match found.and_then(|t| parse_role(&t.role).map(|role| (t, role))) {
        Some((t, role)) => {
            req.extensions_mut().insert(TokenPrincipal(Session {
                role,
                who: format!("token:{}", t.name),
                expires_at: t.expires_at,
                csrf: String::new(),
            }));
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        None => {
            tracing::warn!(
                path = req.path(),
                "refused: unknown, expired or revoked API token"
            );
            let resp = HttpResponse::Unauthorized()
                .content_type("text/plain; charset=utf-8")
                .body("unknown, expired or revoked API token");
            Ok(req.into_response(resp).map_into_right_body())
        }
    }
}

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created_by: String,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub state: &'static str,
}

fn row(t: &ApiToken, now: chrono::DateTime<Utc>) -> TokenRow {
    let fmt = |d: chrono::DateTime<Utc>| d.format("%Y-%m-%d %H:%M").to_string();
    TokenRow {
        id: t.id,
        name: t.name.clone(),
        prefix: t.prefix.clone(),
        role: t.role.clone(),
        created_by: t.created_by.clone(),
        created: fmt(t.created_at),
        expires: fmt(t.expires_at),
        last_used: t.last_used_at.map(fmt).unwrap_or_else(|| "never".into()),
        state: if t.revoked_at.is_some() {
            "revoked"
        } else if t.expires_at <= now {
            "expired"
        } else {
            "active"
        },
    }
}

#[derive(Template)]
#[template(path = "tokens.html")]
struct TokensPage {
    sample_banner: bool,
    me: SignedIn,
    tokens: Vec<TokenRow>,
    /// The secret of the token just created: shown this once.
    created: Option<(String, String)>,
    max_days: i64,
}

fn admin_only(req: &HttpRequest, state: &AppState) -> Result<Session, WebError> {
    let s = require_session(req, state)?;
    if s.role != Role::Admin {
        return Err(WebError::Forbidden("API tokens are managed by admins"));
    }
    Ok(s)
}

async fn render(
    state: &AppState,
    s: &Session,
    created: Option<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let now = Utc::now();
    let tokens = state
        .store
        .api_tokens()
        .await?
        .iter()
        .map(|t| row(t, now))
        .collect();
    let page = TokensPage {
        sample_banner: state.sample_banner,
        me: s.signed_in(),
        tokens,
        created,
        max_days: MAX_TOKEN_DAYS,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(page.render()?))
}

pub async fn tokens(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let s = admin_only(&req, &state)?;
    render(&state, &s, None).await
}

#[derive(serde::Deserialize)]
pub struct NewTokenForm {
    name: String,
    role: String,
    days: i64,
}

/// POST /tokens: creates a token and shows its secret once.
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<NewTokenForm>,
) -> Result<HttpResponse, WebError> {
    let s = admin_only(&req, &state)?;
    let name = form.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(WebError::BadRequest(
            "a token needs a name of 1 to 100 characters".into(),
        ));
    }
    if parse_role(&form.role).is_none() {
        return Err(WebError::BadRequest(
            "role must be admin, auditor or owner".into(),
        ));
    }
    if !(1..=MAX_TOKEN_DAYS).contains(&form.days) {
        return Err(WebError::BadRequest(format!(
            "a token lives 1 to {MAX_TOKEN_DAYS} days"
        )));
    }
    let secret = format!("{TOKEN_PREFIX}{}", random_token());
    let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    let now = Utc::now();
    let actor = s.actor();
    state
        .store
        .create_api_token_audited(
            NewApiToken {
                name,
                prefix: &prefix,
                hash: &hash_token(&secret),
                role: &form.role,
                created_by: &s.who,
                expires_at: now + Duration::days(form.days),
            },
            now,
            |token| NewAuditEvent {
                actor,
                action: "api_token.create".into(),
                target: Some(format!("api_token:{}", token.id)),
                detail: serde_json::json!({"name": name, "role": form.role, "prefix": prefix, "expires_at": token.expires_at}),
            },
        )
        .await?;
    render(&state, &s, Some((name.to_owned(), secret))).await
}

/// POST /tokens/{id}/revoke.
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let s = admin_only(&req, &state)?;
    let id = path.into_inner();
    let now = Utc::now();
    let event = NewAuditEvent {
        actor: s.actor(),
        action: "api_token.revoke".into(),
        target: Some(format!("api_token:{id}")),
        detail: serde_json::json!({}),
    };
    if !state.store.revoke_api_token_audited(id, event, now).await? {
        return Err(WebError::NotFound(format!("live API token {id}")));
    }
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/tokens"))
        .finish())
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
