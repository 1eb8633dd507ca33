//! `/api/v1` JSON: the same inventory objects as `roster identities --format json`.

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use roster_app::scope::ScopeParams;
use serde::Serialize;

use super::AppState;
use super::error::WebError;
use super::pages::scope_of;
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
    params: web::Query<ScopeParams>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let scope = scope_of(&params)?;
    let (items, next) = state
        .roster
        .inventory_page(
            &s.principal,
            &scope,
            scope.limit.unwrap_or(API_PAGE),
            Utc::now(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(IdentitiesPage {
        items,
        next: next.map(|c| c.encode()),
    }))
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
            who: s.principal.who.clone(),
            role: s.principal.role.as_str(),
            expires_at: s.expires_at,
            csrf_token: s.csrf,
        }))
}

#[derive(serde::Deserialize)]
pub struct ClaimForm {
    /// Who owns it; an owner may only name themselves (the default).
    pub owner: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// A record id from the path.
pub fn parse_record_id(raw: &str) -> Result<roster_core::RecordId, WebError> {
    raw.parse()
        .map_err(|e: roster_core::record::ParseRecordIdError| WebError::bad_request(e.to_string()))
}

/// GET /api/v1/identities/{id}: one identity or credential, evaluated now, with its findings
/// (the object `roster identities --format json` prints); 404 when it does not exist or the
/// principal may not see it.
pub async fn identity(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let id = parse_record_id(&path)?;
    let item = state.roster.record(&s.principal, id, Utc::now()).await?;
    Ok(HttpResponse::Ok().json(item))
}

/// POST /api/v1/identities/{id}/claim (JSON or form: `owner`, `note`; CSRF token required):
/// records an ownership claim, audited. Owners claim for themselves, admins for anyone,
/// auditors not at all.
pub async fn claim(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: actix_web::Either<web::Json<ClaimForm>, web::Form<ClaimForm>>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let id = parse_record_id(&path)?;
    let form = body.into_inner();
    let claimed = state
        .roster
        .claim(
            &s.principal,
            id,
            form.owner.as_deref(),
            &form.note,
            Utc::now(),
        )
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"id": id, "owner": claimed.owner})))
}

/// POST /api/v1/identities/{id}/exception-requests: asks for a policy exception for one
/// current finding (the record's owner or an admin), as a form or a JSON body with `rule`,
/// `reason` and `expires` (`YYYY-MM-DD`). 201 with the request; an admin decides it on
/// `/exceptions`.
pub async fn request_exception(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: actix_web::Either<
        web::Json<super::identity::ExceptionRequestForm>,
        web::Form<super::identity::ExceptionRequestForm>,
    >,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let id = parse_record_id(&path)?;
    let form = body.into_inner();
    let ask = form.ask()?;
    let r = state
        .roster
        .request_exception(&s.principal, id, &ask, Utc::now())
        .await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "id": r.id,
        "record": id,
        "rule": r.rule,
        "reason": r.reason,
        "expires": r.expires_on,
        "owner": r.owner,
        "state": r.state,
        "requested_by": r.requested_by,
        "requested_at": r.requested_at,
    })))
}
