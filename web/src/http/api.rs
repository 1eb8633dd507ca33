//! `/api/v1` JSON: the same inventory objects as `roster identities --format json`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::AppState;
use super::error::WebError;
use super::pages::FilterParams;
use super::session::require_session;

const API_PAGE: usize = 500;

#[derive(Serialize)]
struct IdentitiesPage {
    items: Vec<roster_core::InventoryItem>,
    /// Pass as `after` for the next page; absent at the end.
    next: Option<String>,
}

pub async fn identities(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<FilterParams>,
) -> Result<HttpResponse, WebError> {
    require_session(&req, &state)?;
    let (items, next) = params.read(&state, API_PAGE).await?;
    let next = next.map(|n| roster_core::RecordId(n).to_string());
    Ok(HttpResponse::Ok().json(IdentitiesPage { items, next }))
}

#[derive(Serialize)]
struct SessionInfo {
    who: String,
    role: &'static str,
    expires_at: chrono::DateTime<chrono::Utc>,
    /// Send as the `X-CSRF-Token` header on every POST, PUT, PATCH and DELETE.
    csrf_token: String,
}

/// GET /api/v1/session: who is signed in, with which role, and the session's CSRF token.
pub async fn session(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(SessionInfo {
            who: s.who.clone(),
            role: s.role.as_str(),
            expires_at: s.expires_at,
            csrf_token: s.csrf,
        }))
}
