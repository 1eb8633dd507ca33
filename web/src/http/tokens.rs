//! API tokens for automation: an admin creates one with a role and an expiry, sees the secret
//! once, and can revoke it. Only the SHA-256 hash is stored. A request to `/api/` (or
//! `/metrics`) carrying
//! `Authorization: Bearer roster_…` acts with the token's role; such a request carries no cookie
//! a browser could be tricked into sending, so the CSRF check does not apply to it.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use roster_app::api_tokens::{ApiToken, MAX_TOKEN_DAYS};

use super::AppState;
use super::error::WebError;
use super::session::{Session, SignedIn, require_session};

/// Marks a request authenticated by an API token (the CSRF check skips it).
#[derive(Clone)]
pub struct TokenPrincipal(pub Session);

/// Authenticates `/api/` and `/metrics` requests that carry a bearer token; an unknown, expired or revoked
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
    // `/metrics` too: a scraper authenticates as automation does.
    let takes_token = req.path().starts_with("/api/") || req.path() == "/metrics";
    let (Some(secret), true) = (bearer, takes_token) else {
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
    let found = match state.roster.authenticate_token(&secret, Utc::now()).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "API token lookup failed");
            None
        }
    };
    match found {
        Some(bearer) => {
            req.extensions_mut().insert(TokenPrincipal(Session {
                principal: bearer.principal,
                expires_at: bearer.expires_at,
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
            // A guessed token is a failed sign-in: counted by the same limit per client (and
            // for all), recorded while within it, and only the first refusal beyond it.
            const METHOD: &str = "api_token";
            let resp = match state
                .login_limiter
                .attempt(req.request(), &state.trusted_proxies)
            {
                Ok(()) => {
                    super::audit_events::sign_in_failed(
                        &state,
                        req.request(),
                        METHOD,
                        "unknown, expired or revoked API token",
                    )
                    .await;
                    HttpResponse::Unauthorized()
                        .content_type("text/plain; charset=utf-8")
                        .body("unknown, expired or revoked API token")
                }
                Err(first) => {
                    if first {
                        super::audit_events::sign_in_failed(
                            &state,
                            req.request(),
                            METHOD,
                            "rate limit",
                        )
                        .await;
                    }
                    HttpResponse::TooManyRequests()
                        .content_type("text/plain; charset=utf-8")
                        .insert_header(("Retry-After", "3"))
                        .body("too many refused API tokens from this client; try again later")
                }
            };
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

async fn render(
    state: &AppState,
    s: &Session,
    created: Option<(String, String)>,
) -> Result<HttpResponse, WebError> {
    let now = Utc::now();
    let tokens = state
        .roster
        .api_tokens(&s.principal)
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
    let s = require_session(&req, &state)?;
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
    let s = require_session(&req, &state)?;
    let secret = state
        .roster
        .create_api_token(&s.principal, &form.name, &form.role, form.days, Utc::now())
        .await?;
    render(&state, &s, Some((form.name.trim().to_owned(), secret))).await
}

/// POST /tokens/{id}/revoke.
pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    state
        .roster
        .revoke_api_token(&s.principal, path.into_inner(), Utc::now())
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/tokens"))
        .finish())
}
