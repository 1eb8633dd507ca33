//! Sign-in with OpenID Connect: the authorization code flow with PKCE (S256).
//!
//! `GET /login` keeps the flow's state, nonce and PKCE verifier server-side, in the database (the
//! callback may reach another replica), under a random key in a short-lived pre-login cookie
//! (SameSite=Lax: the provider's redirect back is a cross-site navigation) and redirects to the
//! provider. `GET /auth/callback` takes that entry (single use),
//! checks `state`, exchanges the code with the verifier, verifies the ID token (signature against
//! the provider's JWKS from discovery, issuer, audience, expiry, nonce), maps the role claim to a
//! [`Role`], records the person in the people directory (source `sso`) and opens a session.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Duration, Utc};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken,
    EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardErrorResponse,
    StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::WebError;
use roster_app::api_tokens::random_token;
use roster_app::config::OidcConfig;
use roster_app::web_sessions::OidcLogin;
use roster_app::{Principal, Role};

use super::session::same;

/// The pre-login cookie: the key of the pending sign-in, scoped to the callback.
const LOGIN_COOKIE: &str = "roster_login";
const LOGIN_LIFETIME_MINUTES: i64 = 10;
/// How the audit trail names this way of signing in.
const METHOD: &str = "oidc";

/// Every claim of the ID token beyond the standard ones, so any `role_claim` can be read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OtherClaims(serde_json::Map<String, serde_json::Value>);
impl AdditionalClaims for OtherClaims {}

type TokenFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type OidcClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<TokenFields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The relying party: the discovered provider, this client, and the sign-ins under way.
pub struct Oidc {
    client: OidcClient,
    http: openidconnect::reqwest::Client,
    issuer: String,
    role_claim: String,
    admin_groups: Vec<String>,
    auditor_groups: Vec<String>,
    trust_unverified_email: bool,
}

/// Why OpenID Connect cannot be set up: a bad config key, an unreadable secret, a provider
/// that cannot be reached or answers nonsense. `roster serve` stops with it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OidcSetupError(String);

macro_rules! setup_error {
    ($($arg:tt)*) => { OidcSetupError(format!($($arg)*)) };
}

/// The client secret from `client_secret_env` or `client_secret_file`; none for a public client.
fn client_secret(cfg: &OidcConfig) -> Result<Option<ClientSecret>, OidcSetupError> {
    let secret = match (&cfg.client_secret_env, &cfg.client_secret_file) {
        (Some(_), Some(_)) => return Err(OidcSetupError("config: set one of auth.oidc.client_secret_env and auth.oidc.client_secret_file, not both".into())),
        (Some(var), None) => std::env::var(var).map_err(|_| {
            setup_error!(
                "config key `auth.oidc.client_secret_env`: environment variable `{var}` is not set"
            )
        })?,
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            setup_error!(
                "config key `auth.oidc.client_secret_file`: cannot read {}: {e}",
                path.display()
            )
        })?,
        (None, None) => return Ok(None),
    };
    let secret = secret.trim().to_owned();
    if secret.is_empty() {
        return Err(OidcSetupError(
            "config: the OpenID Connect client secret is empty".into(),
        ));
    }
    Ok(Some(ClientSecret::new(secret)))
}

impl Oidc {
    /// Discovers the provider (its metadata and signing keys) and builds the client. Fails with
    /// an error naming the issuer when the provider cannot be reached or answers nonsense.
    pub async fn discover(cfg: &OidcConfig, public_url: &str) -> Result<Self, OidcSetupError> {
        let secret = client_secret(cfg)?;
        // Following redirects from the provider's endpoints would open the door to SSRF.
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            // Sign-ins are rare: a pooled connection would sit idle past the provider's
            // keep-alive and be reset under the next token request.
            .pool_max_idle_per_host(0)
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .map_err(|e| setup_error!("cannot build the HTTP client for OpenID Connect: {e}"))?;
        let issuer_url = IssuerUrl::new(cfg.issuer.clone())
            .map_err(|e| setup_error!("config key `auth.oidc.issuer`: `{}`: {e}", cfg.issuer))?;
        let metadata = CoreProviderMetadata::discover_async(issuer_url, &http)
            .await
            .map_err(|e| {
                setup_error!(
                    "OpenID Connect discovery failed for issuer {}: {}",
                    cfg.issuer,
                    error_chain(&e)
                )
            })?;
        let redirect = RedirectUrl::new(format!(
            "{}/auth/callback",
            public_url.trim_end_matches('/')
        ))
        .map_err(|e| setup_error!("config key `server.public_url`: {e}"))?;
        let client = OidcClient::from_provider_metadata(
            metadata,
            ClientId::new(cfg.client_id.clone()),
            secret,
        )
        .set_redirect_uri(redirect);
        tracing::info!(issuer = %cfg.issuer, client_id = %cfg.client_id, "OpenID Connect provider discovered");
        Ok(Self {
            client,
            http,
            issuer: cfg.issuer.clone(),
            role_claim: cfg.role_claim.clone(),
            admin_groups: cfg.admin_groups.clone(),
            auditor_groups: cfg.auditor_groups.clone(),
            trust_unverified_email: cfg.trust_unverified_email,
        })
    }

    /// Admin if any group is an admin group, else auditor if any is an auditor group, else owner.
    /// The claim may be an array of strings or one string.
    fn role_for(&self, claims: &OtherClaims) -> Role {
        let groups: Vec<&str> = match claims.0.get(&self.role_claim) {
            Some(serde_json::Value::Array(items)) => {
                items.iter().filter_map(|v| v.as_str()).collect()
            }
            Some(serde_json::Value::String(s)) => vec![s.as_str()],
            _ => Vec::new(),
        };
        let any_in = |set: &[String]| groups.iter().any(|g| set.iter().any(|s| s == g));
        if any_in(&self.admin_groups) {
            Role::Admin
        } else if any_in(&self.auditor_groups) {
            Role::Auditor
        } else {
            Role::Owner
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

fn provider(state: &AppState) -> Result<&Oidc, WebError> {
    state.oidc.as_ref().ok_or(WebError::bad_request(
        "no identity provider is configured; sign in with the one-time link printed when Roster started",
    ))
}

fn login_cookie(value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(LOGIN_COOKIE, value)
        .path("/auth/callback")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::minutes(
            LOGIN_LIFETIME_MINUTES,
        ))
        .finish()
}

/// GET /login: starts a sign-in at the provider.
pub async fn login(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    super::audit_events::limit_sign_in(&state, &req, METHOD).await?;
    if state.oidc.is_none() {
        // Not an error of the visitor's: say how sign-in works here.
        let page = super::error::message_page(
            "Sign in",
            "This Roster has no identity provider configured. Sign in with a one-time link: an \
             admin prints one on the server with `roster admin sign-in-link` (valid 15 minutes, \
             single use)."
                .into(),
        )
        .map_err(WebError::internal)?;
        return Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(page));
    }
    let oidc = provider(&state)?;
    let now = Utc::now();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf_state, nonce) = oidc
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let key = random_token();
    let kept = state
        .roster
        .begin_oidc_login(
            &key,
            OidcLogin {
                key_hash: String::new(),
                state: csrf_state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier: verifier.secret().clone(),
                expires_at: now + Duration::minutes(LOGIN_LIFETIME_MINUTES),
            },
            now,
        )
        .await?;
    if !kept {
        return Err(WebError::SignInRefused(
            "too many sign-ins are under way; try again in a few minutes",
        ));
    }
    Ok(HttpResponse::SeeOther()
        .cookie(login_cookie(key, state.secure_cookies))
        .insert_header(("Location", url.as_str()))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    iss: Option<String>,
}

/// GET /auth/callback: finishes a sign-in; a refusal is recorded in the audit trail with its
/// reason (never the code or state it carried).
pub async fn callback(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<CallbackQuery>,
) -> Result<HttpResponse, WebError> {
    super::audit_events::limit_sign_in(&state, &req, METHOD).await?;
    let result = finish_sign_in(&req, &state, &q).await;
    if let Err(e) = &result {
        super::audit_events::sign_in_failed(&state, &req, METHOD, &e.to_string()).await;
    }
    result
}

async fn finish_sign_in(
    req: &HttpRequest,
    state: &AppState,
    q: &CallbackQuery,
) -> Result<HttpResponse, WebError> {
    let oidc = provider(state)?;
    let now = Utc::now();
    let key = req.cookie(LOGIN_COOKIE).ok_or(WebError::SignInRefused(
        "no sign-in under way in this browser; start at /login",
    ))?;
    let pending = state
        .roster
        .take_oidc_login(key.value(), now)
        .await?
        .ok_or(WebError::SignInRefused(
            "this sign-in expired or was already used; start at /login",
        ))?;
    if let Some(error) = &q.error {
        tracing::warn!(error = %error, "the identity provider refused the sign-in");
        return Err(WebError::SignInRefused(
            "the identity provider refused the sign-in",
        ));
    }
    if !q.state.as_deref().is_some_and(|s| same(s, &pending.state)) {
        tracing::warn!("sign-in refused: state does not match");
        return Err(WebError::SignInRefused(
            "state does not match; start at /login",
        ));
    }
    if let Some(iss) = &q.iss
        && iss.trim_end_matches('/') != oidc.issuer.trim_end_matches('/')
    {
        tracing::warn!(iss = %iss, "sign-in refused: the response names another issuer");
        return Err(WebError::SignInRefused("the response names another issuer"));
    }
    let code = q
        .code
        .clone()
        .ok_or(WebError::SignInRefused("the response has no code"))?;
    let token = oidc
        .client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| WebError::internal(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
        .request_async(&oidc.http)
        .await
        .map_err(|e| {
            tracing::warn!(error = %error_chain(&e), "sign-in refused: the code exchange failed");
            WebError::SignInRefused("the code exchange failed")
        })?;
    let id_token = token
        .id_token()
        .ok_or(WebError::SignInRefused("the provider returned no ID token"))?;
    let claims = id_token
        .claims(
            &oidc.client.id_token_verifier(),
            &Nonce::new(pending.nonce.clone()),
        )
        .map_err(|e| {
            tracing::warn!(error = %e, "sign-in refused: the ID token did not verify");
            WebError::SignInRefused("the ID token did not verify")
        })?;
    let role = oidc.role_for(claims.additional_claims());
    let subject = claims.subject().as_str();
    // An address the provider has not verified may be anyone's: then the person is their
    // subject, never the owner whose address they typed.
    let email = claims
        .email()
        .filter(|_| claims.email_verified() == Some(true) || oidc.trust_unverified_email)
        .map(|e| e.as_str().to_owned());
    let name = claims
        .name()
        .and_then(|n| n.get(None))
        .map(|n| n.as_str().to_owned());
    // Keyed on the account (issuer + subject): a verified email already bound to another
    // account is not handed over (a recycled address must not inherit a leaver's identities).
    let issuer = claims.issuer().as_str();
    let who = state
        .roster
        .sso_person(issuer, subject, email.as_deref(), now)
        .await?;
    let email = email.filter(|e| *e == who);
    if let Err(e) = state
        .roster
        .record_sso_login(&who, email.as_deref(), name.as_deref(), now)
        .await
    {
        tracing::warn!(error = %e, "could not record the sign-in in the people directory");
    }
    let principal = Principal::person(role, &who);
    super::audit_events::signed_in(state, req, &principal, METHOD).await?;
    let cookie = super::session::open_session(state, &principal, now).await?;
    tracing::info!(who = %who, role = role.as_str(), "signed in with OpenID Connect");
    let mut gone = login_cookie(String::new(), state.secure_cookies);
    gone.make_removal();
    // A page, not a redirect: the session cookie is SameSite=Strict, and a browser does not send
    // it on a redirect that is still part of the provider's cross-site navigation.
    Ok(HttpResponse::Ok()
        .cookie(cookie)
        .cookie(gone)
        .insert_header(("Cache-Control", "no-store"))
        .content_type("text/html; charset=utf-8")
        .body(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta http-equiv=\"refresh\" content=\"0;url=/\"><title>Signed in · Roster</title>\
             </head><body><p>Signed in. <a href=\"/\">Continue to Roster</a></p></body></html>",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_come_from_the_configured_claim() {
        let claims = |v: serde_json::Value| {
            OtherClaims(serde_json::from_value(serde_json::json!({ "groups": v })).unwrap())
        };
        let cfg: OidcConfig = toml::from_str(
            "issuer = \"https://idp.example\"\nclient_id = \"roster\"\n\
             admin_groups = [\"iam-team\"]\nauditor_groups = [\"audit\"]\n",
        )
        .unwrap();
        let rp = Oidc {
            client: OidcClient::from_provider_metadata(
                serde_json::from_value::<CoreProviderMetadata>(serde_json::json!({
                    "issuer": "https://idp.example",
                    "authorization_endpoint": "https://idp.example/auth",
                    "jwks_uri": "https://idp.example/jwks",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                }))
                .unwrap(),
                ClientId::new("roster".into()),
                None,
            ),
            http: openidconnect::reqwest::Client::new(),
            issuer: cfg.issuer.clone(),
            role_claim: cfg.role_claim.clone(),
            admin_groups: cfg.admin_groups.clone(),
            auditor_groups: cfg.auditor_groups.clone(),
            trust_unverified_email: cfg.trust_unverified_email,
        };
        assert_eq!(
            rp.role_for(&claims(serde_json::json!(["x", "iam-team"]))),
            Role::Admin
        );
        assert_eq!(
            rp.role_for(&claims(serde_json::json!(["audit"]))),
            Role::Auditor
        );
        assert_eq!(
            rp.role_for(&claims(serde_json::json!("audit"))),
            Role::Auditor
        );
        assert_eq!(rp.role_for(&claims(serde_json::json!([]))), Role::Owner);
        assert_eq!(
            rp.role_for(&OtherClaims(serde_json::Map::new())),
            Role::Owner
        );
    }
}
