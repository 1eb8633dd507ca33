//! Sessions and the one-time bootstrap link (used while no identity provider is configured):
//! single use, short-lived, exchanged for an HttpOnly, SameSite=Strict session cookie.

use std::collections::HashMap;
use std::sync::Mutex;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Deserialize;

use super::AppState;
use super::error::WebError;

pub const COOKIE: &str = "roster_session";
const BOOTSTRAP_LIFETIME_MINUTES: i64 = 15;
const SESSION_LIFETIME_HOURS: i64 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub role: Role,
    pub expires_at: DateTime<Utc>,
}

/// In-memory sessions and pending bootstrap tokens.
#[derive(Default)]
pub struct Sessions {
    bootstrap: Mutex<Option<(String, DateTime<Utc>)>>,
    sessions: Mutex<HashMap<String, Session>>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit, so timing says nothing about how much matched.
fn same(a: &str, b: &str) -> bool {
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

    fn open(&self, role: Role, now: DateTime<Utc>) -> String {
        let id = random_token();
        if let Ok(mut map) = self.sessions.lock() {
            map.retain(|_, s| s.expires_at > now);
            map.insert(
                id.clone(),
                Session {
                    role,
                    expires_at: now + Duration::hours(SESSION_LIFETIME_HOURS),
                },
            );
        }
        id
    }

    pub fn get(&self, id: &str, now: DateTime<Utc>) -> Option<Session> {
        let map = self.sessions.lock().ok()?;
        map.get(id).filter(|s| s.expires_at > now).cloned()
    }
}

/// The session behind a request, or `Unauthenticated`.
pub fn require_session(req: &HttpRequest, state: &AppState) -> Result<Session, WebError> {
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
    state: web::Data<AppState>,
    q: web::Query<BootstrapQuery>,
) -> Result<HttpResponse, WebError> {
    let now = Utc::now();
    if !state.sessions.redeem_bootstrap(&q.token, now) {
        tracing::warn!("bootstrap login refused: unknown, used or expired token");
        return Err(WebError::Unauthenticated);
    }
    let id = state.sessions.open(Role::Admin, now);
    let cookie = Cookie::build(COOKIE, id)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies)
        .max_age(actix_web::cookie::time::Duration::hours(
            SESSION_LIFETIME_HOURS,
        ))
        .finish();
    tracing::info!("bootstrap admin signed in");
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header(("Location", "/inventory"))
        .finish())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
