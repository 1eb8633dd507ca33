//! Sessions and the one-time sign-in links (the bootstrap admin's while no identity provider is
//! configured, `roster admin sign-in-link`'s, the demo's; in the database, so any server takes
//! them): single use, short-lived, exchanged for an HttpOnly, SameSite=Strict session cookie
//! (`__Host-roster_session` over https). Sessions live in the database (`roster_app`'s
//! `web_sessions`): a restart signs nobody out and every replica knows them; they end after 8
//! hours, after `[server] session_idle_minutes` idle, at sign-out, or everywhere at once. Each
//! carries its own CSRF token, which every state-changing request must present (see
//! [`csrf_guard`]). [`session_auth`] reads the cookie's session once per request.

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use roster_app::Principal;
use serde::Deserialize;

use super::AppState;
use super::error::WebError;

pub const COOKIE: &str = "roster_session";
/// The cookie's name over https: the `__Host-` prefix makes the browser refuse it unless it is
/// Secure, for `/`, and set by this host alone (no subdomain can plant or read it).
pub const HOST_COOKIE: &str = "__Host-roster_session";
pub const SESSION_LIFETIME_HOURS: i64 = roster_app::web_sessions::SESSION_LIFETIME.num_hours();
/// The form field and the header that carry the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
pub const CSRF_HEADER: &str = "X-CSRF-Token";
/// Largest form body the CSRF check reads.
const CSRF_FORM_LIMIT: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct Session {
    /// Who signed in (the email or subject from the identity provider, `token:<name>`, or
    /// `bootstrap`) with their role.
    pub principal: Principal,
    pub expires_at: DateTime<Utc>,
    /// Presented by every state-changing request of this session.
    pub csrf: String,
}

/// What a page shows of the session: templates embed the CSRF token in their forms with
/// `<input type="hidden" name="csrf" value="{{ me.csrf }}">`, and offer the governance links
/// only to those the access policy lets see them.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub who: String,
    pub role: &'static str,
    pub csrf: String,
    /// Dashboard, sync runs, campaigns.
    pub governs: bool,
    /// API tokens.
    pub manages_tokens: bool,
    /// The review inbox.
    pub reviews: bool,
    /// Launching and closing campaigns.
    pub launches: bool,
    /// The exception requests page.
    pub exceptions: bool,
}

impl Session {
    /// Who this is in the audit trail: `sso:<who>`, `token:<name>` or `bootstrap`.
    pub fn actor(&self) -> String {
        self.principal.actor()
    }

    pub fn signed_in(&self) -> SignedIn {
        let p = &self.principal;
        SignedIn {
            who: p.who.clone(),
            role: p.role.as_str(),
            csrf: self.csrf.clone(),
            governs: p.can_see_everything(),
            manages_tokens: p.can_manage_tokens(),
            reviews: p.can_review(),
            launches: p.can_launch(),
            exceptions: p.can_see_exception_requests(),
        }
    }
}

/// The session [`session_auth`] found behind the request's cookie, with the cookie's value.
#[derive(Clone)]
pub struct CookieSession {
    pub session: Session,
    pub token: String,
}

/// Compares without an early exit, so timing says nothing about how much matched.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The cookie's name: `__Host-` prefixed over https.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure { HOST_COOKIE } else { COOKIE }
}

/// Middleware: the session behind the request's cookie, looked up once and kept in the
/// request's extensions for [`require_session`] and [`csrf_guard`]. A cookie that names no
/// live session is no session; a store that cannot answer is logged and read the same way.
pub async fn session_auth(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(state) = req.app_data::<web::Data<AppState>>().cloned()
        && let Some(c) = req.cookie(cookie_name(state.secure_cookies))
    {
        match state.roster.session(c.value(), Utc::now()).await {
            Ok(Some(live)) => {
                req.extensions_mut().insert(CookieSession {
                    session: Session {
                        principal: live.principal,
                        expires_at: live.expires_at,
                        csrf: live.csrf,
                    },
                    token: c.value().to_owned(),
                });
            }
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "session lookup failed"),
        }
    }
    next.call(req).await
}

/// Opens a session for `principal` and returns its cookie.
pub(super) async fn open_session(
    state: &AppState,
    principal: &Principal,
    now: DateTime<Utc>,
) -> Result<Cookie<'static>, WebError> {
    let opened = state.roster.open_session(principal, now).await?;
    Ok(session_cookie(opened.token, state.secure_cookies))
}

/// The session cookie: HttpOnly, SameSite=Strict, `Secure` when the public URL is https.
pub(super) fn session_cookie(id: String, secure: bool) -> Cookie<'static> {
    Cookie::build(cookie_name(secure), id)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::hours(
            SESSION_LIFETIME_HOURS,
        ))
        .finish()
}

/// The session behind a request (an API token's, or the cookie's), or `Unauthenticated`.
pub fn require_session(req: &HttpRequest, _state: &AppState) -> Result<Session, WebError> {
    if let Some(t) = req.extensions().get::<super::tokens::TokenPrincipal>() {
        return Ok(t.0.clone());
    }
    req.extensions()
        .get::<CookieSession>()
        .map(|c| c.session.clone())
        .ok_or(WebError::Unauthenticated)
}

#[derive(Deserialize)]
pub struct BootstrapQuery {
    token: String,
}

pub async fn bootstrap_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<BootstrapQuery>,
) -> Result<HttpResponse, WebError> {
    const METHOD: &str = "bootstrap";
    super::audit_events::limit_sign_in(&state, &req, METHOD).await?;
    let now = Utc::now();
    let Some(principal) = state.roster.redeem_sign_in_link(&q.token, now).await? else {
        tracing::warn!("bootstrap login refused: unknown, used or expired token");
        super::audit_events::sign_in_failed(
            &state,
            &req,
            METHOD,
            "unknown, used or expired bootstrap token",
        )
        .await;
        return Err(WebError::Unauthenticated);
    };
    super::audit_events::signed_in(&state, &req, &principal, METHOD).await?;
    tracing::info!(who = %principal.who, "signed in through a one-time link");
    let cookie = open_session(&state, &principal, now).await?;
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header(("Location", "/"))
        .finish())
}

/// POST /logout (CSRF-checked by [`csrf_guard`]): ends the session and clears the cookie.
pub async fn logout(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let current = req.extensions().get::<CookieSession>().cloned();
    if let Some(c) = current {
        match state.roster.close_session(&c.token).await {
            Ok(true) => {
                super::audit_events::signed_out(&state, &req, &c.session).await;
                tracing::info!("signed out");
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "could not end the session"),
        }
    }
    signed_out_response(&state)
}

/// POST /logout/everywhere: ends every session of the signed-in person (another browser, a
/// lost laptop), audited with how many.
pub async fn logout_everywhere(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    let ended = state.roster.close_sessions_of(&session.principal).await?;
    state
        .roster
        .record_event(
            session.actor(),
            roster_app::audit::SIGN_OUT_EVERYWHERE,
            None,
            serde_json::json!({"sessions": ended,
                               "client": super::audit_events::client_addr(&req)}),
            Utc::now(),
        )
        .await?;
    tracing::info!(sessions = ended, "signed out everywhere");
    Ok(signed_out_response(&state))
}

fn signed_out_response(state: &AppState) -> HttpResponse {
    let mut gone = session_cookie(String::new(), state.secure_cookies);
    gone.make_removal();
    HttpResponse::SeeOther()
        .cookie(gone)
        .insert_header(("Location", "/"))
        .finish()
}

/// Refuses (403) every POST, PUT, PATCH and DELETE that does not carry its session's CSRF token,
/// in the `X-CSRF-Token` header or, for a urlencoded form, the `csrf` field (the body is read,
/// then handed on unchanged to the route).
pub async fn csrf_guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mutating = matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    );
    // A request authenticated by an API token carries no ambient credential to forge.
    let by_token = req
        .extensions()
        .get::<super::tokens::TokenPrincipal>()
        .is_some();
    if !mutating || by_token {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    }
    let expected = req
        .extensions()
        .get::<CookieSession>()
        .map(|c| c.session.csrf.clone());
    let mut presented = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if presented.is_none()
        && expected.is_some()
        && req.content_type() == "application/x-www-form-urlencoded"
    {
        let body = req
            .extract::<web::Bytes>()
            .await
            .map_err(|_| actix_web::error::ErrorPayloadTooLarge("form too large"))?;
        if body.len() <= CSRF_FORM_LIMIT {
            presented = form_field(&body, CSRF_FIELD);
        }
        req.set_payload(actix_web::dev::Payload::from(body));
    }
    match (expected, presented) {
        (Some(e), Some(p)) if same(&e, &p) => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
        _ => {
            tracing::warn!(method = %req.method(), path = req.path(), "refused: missing or wrong CSRF token");
            let resp = HttpResponse::Forbidden()
                .content_type("text/plain; charset=utf-8")
                .body("forbidden: missing or wrong CSRF token");
            Ok(req.into_response(resp).map_into_right_body())
        }
    }
}

/// A field of a urlencoded body, undecoded (the tokens are hex, which encoding leaves alone).
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_https_the_cookie_is_host_prefixed_secure_and_for_the_whole_site() {
        let c = session_cookie("t".into(), true);
        assert_eq!(c.name(), "__Host-roster_session");
        assert_eq!(
            (c.secure(), c.path(), c.domain()),
            (Some(true), Some("/"), None)
        );
        assert_eq!(c.http_only(), Some(true));
        // The clean twin: over plain http (a laptop, the demo) the prefix would be refused.
        let plain = session_cookie("t".into(), false);
        assert_eq!(plain.name(), "roster_session");
    }

    #[test]
    fn form_field_finds_the_token() {
        assert_eq!(
            form_field(b"a=1&csrf=abc&b=2", "csrf").as_deref(),
            Some("abc")
        );
        assert_eq!(form_field(b"csrfx=1", "csrf"), None);
    }
}
