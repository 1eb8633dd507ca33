//! Sessions and the one-time bootstrap link (used while no identity provider is configured):
//! single use, short-lived, exchanged for an HttpOnly, SameSite=Strict session cookie. Each
//! session carries its own CSRF token, which every state-changing request must present (see
//! [`csrf_guard`]).

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::body::MessageBody;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use roster_app::Principal;
use roster_app::api_tokens::random_token;
use serde::Deserialize;

use super::AppState;
use super::error::WebError;

pub const COOKIE: &str = "roster_session";
const BOOTSTRAP_LIFETIME_MINUTES: i64 = 15;
pub const SESSION_LIFETIME_HOURS: i64 = 8;
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
        }
    }
}

/// In-memory sessions and pending one-time sign-in links.
#[derive(Default)]
pub struct Sessions {
    /// The bootstrap admin's link: one at a time.
    bootstrap: Mutex<Option<(String, DateTime<Utc>)>>,
    /// The demo's links for its sample people, by token.
    links: Mutex<HashMap<String, (Principal, DateTime<Utc>)>>,
    sessions: Mutex<HashMap<String, Session>>,
}

/// Compares without an early exit, so timing says nothing about how much matched.
pub(super) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Sessions {
    /// A new one-time admin token valid for 15 minutes; replaces any earlier one.
    pub fn issue_bootstrap(&self, now: DateTime<Utc>) -> String {
        let token = random_token();
        if let Ok(mut slot) = self.bootstrap.lock() {
            *slot = Some((
                token.clone(),
                now + Duration::minutes(BOOTSTRAP_LIFETIME_MINUTES),
            ));
        }
        token
    }

    /// A one-time link for `principal` (the demo's sample owner and auditor), valid as long as
    /// the bootstrap link.
    pub fn issue_link(&self, principal: Principal, now: DateTime<Utc>) -> String {
        let token = random_token();
        if let Ok(mut links) = self.links.lock() {
            let until = now + Duration::minutes(BOOTSTRAP_LIFETIME_MINUTES);
            links.insert(token.clone(), (principal, until));
        }
        token
    }

    fn redeem_bootstrap(&self, token: &str, now: DateTime<Utc>) -> bool {
        let Ok(mut slot) = self.bootstrap.lock() else {
            return false;
        };
        match slot.as_ref() {
            Some((t, exp)) if same(t, token) && now < *exp => {
                *slot = None; // single use
                true
            }
            _ => false,
        }
    }

    /// Who a one-time token signs in, once: the bootstrap admin or a demo link's principal.
    fn redeem(&self, token: &str, now: DateTime<Utc>) -> Option<Principal> {
        if self.redeem_bootstrap(token, now) {
            return Some(Principal::bootstrap());
        }
        let mut links = self.links.lock().ok()?;
        // The tokens are random and long: a map lookup reveals nothing a comparison would not.
        match links.remove(token) {
            Some((p, until)) if now < until => Some(p),
            _ => None,
        }
    }

    /// A new session (8 hours); returns its id, the cookie's value.
    pub(super) fn open(&self, principal: Principal, now: DateTime<Utc>) -> String {
        let id = random_token();
        if let Ok(mut map) = self.sessions.lock() {
            map.retain(|_, s| s.expires_at > now);
            map.insert(
                id.clone(),
                Session {
                    principal,
                    expires_at: now + Duration::hours(SESSION_LIFETIME_HOURS),
                    csrf: random_token(),
                },
            );
        }
        id
    }

    pub fn get(&self, id: &str, now: DateTime<Utc>) -> Option<Session> {
        let map = self.sessions.lock().ok()?;
        map.get(id).filter(|s| s.expires_at > now).cloned()
    }

    /// Ends a session; true if there was one.
    pub(super) fn close(&self, id: &str) -> bool {
        self.sessions
            .lock()
            .map(|mut map| map.remove(id).is_some())
            .unwrap_or(false)
    }
}

/// The session cookie: HttpOnly, SameSite=Strict, `Secure` when the public URL is https.
pub(super) fn session_cookie(id: String, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, id)
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
pub fn require_session(req: &HttpRequest, state: &AppState) -> Result<Session, WebError> {
    if let Some(t) = req.extensions().get::<super::tokens::TokenPrincipal>() {
        return Ok(t.0.clone());
    }
    let cookie = req.cookie(COOKIE).ok_or(WebError::Unauthenticated)?;
    state
        .sessions
        .get(cookie.value(), Utc::now())
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
    let Some(principal) = state.sessions.redeem(&q.token, now) else {
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
    let id = state.sessions.open(principal, now);
    let cookie = session_cookie(id, state.secure_cookies);
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header(("Location", "/"))
        .finish())
}

/// POST /logout (CSRF-checked by [`csrf_guard`]): ends the session and clears the cookie.
pub async fn logout(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if let Some(c) = req.cookie(COOKIE)
        && let Some(s) = state.sessions.get(c.value(), Utc::now())
        && state.sessions.close(c.value())
    {
        super::audit_events::signed_out(&state, &req, &s).await;
        tracing::info!("signed out");
    }
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
        .app_data::<web::Data<AppState>>()
        .zip(req.cookie(COOKIE))
        .and_then(|(state, c)| state.sessions.get(c.value(), Utc::now()))
        .map(|s| s.csrf);
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
    use roster_app::Role;

    #[test]
    fn bootstrap_token_is_single_use_and_expires() {
        let s = Sessions::default();
        let now = Utc::now();
        let t = s.issue_bootstrap(now);
        assert!(!s.redeem_bootstrap("wrong", now));
        assert!(s.redeem_bootstrap(&t, now));
        assert!(!s.redeem_bootstrap(&t, now), "second use refused");
        let t = s.issue_bootstrap(now);
        assert!(
            !s.redeem_bootstrap(&t, now + Duration::minutes(16)),
            "expired"
        );
    }

    #[test]
    fn a_demo_link_signs_in_its_principal_once() {
        let s = Sessions::default();
        let now = Utc::now();
        let owner = Principal::demo(Role::Owner, "judy@acme.example");
        let t = s.issue_link(owner.clone(), now);
        assert_eq!(s.redeem(&t, now), Some(owner));
        assert_eq!(s.redeem(&t, now), None, "second use refused");
        let t = s.issue_link(Principal::demo(Role::Auditor, "a@x"), now);
        assert_eq!(s.redeem(&t, now + Duration::minutes(16)), None, "expired");
        let admin = s.issue_bootstrap(now);
        assert_eq!(s.redeem(&admin, now), Some(Principal::bootstrap()));
    }

    #[test]
    fn sessions_expire_and_close() {
        let s = Sessions::default();
        let now = Utc::now();
        let id = s.open(Principal::person(Role::Owner, "o@example"), now);
        let got = s.get(&id, now).unwrap();
        assert_eq!((got.principal.role, got.csrf.len()), (Role::Owner, 64));
        assert!(s.get(&id, now + Duration::hours(9)).is_none(), "expired");
        assert!(s.close(&id));
        assert!(s.get(&id, now).is_none());
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
