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
    let s = require_session(&req, &state)?;
    let (items, next) = params.read(&state, &s, API_PAGE).await?;
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

#[derive(serde::Deserialize)]
pub struct ClaimForm {
    /// Who owns it; an owner may only name themselves (the default).
    pub owner: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// POST /api/v1/identities/{id}/claim (form: `owner`, `note`; CSRF token required): records an
/// ownership claim, audited. Owners claim for themselves, admins for anyone, auditors not at all.
pub async fn claim(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ClaimForm>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let id: roster_core::RecordId =
        path.parse()
            .map_err(|e: roster_core::record::ParseRecordIdError| {
                WebError::BadRequest(e.to_string())
            })?;
    let owner = claim_ownership(&state, &s, id, &form).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"id": id, "owner": owner})))
}

/// The claim itself, for the API and the identity page's form: the role decides who may be
/// named; the record must exist; the claim and its audit event are written in one transaction.
pub async fn claim_ownership(
    state: &AppState,
    s: &super::session::Session,
    id: roster_core::RecordId,
    form: &ClaimForm,
) -> Result<String, WebError> {
    let owner = match (s.role.as_str(), form.owner.as_deref().map(str::trim)) {
        ("auditor", _) => return Err(WebError::Forbidden("auditors change nothing")),
        ("admin", Some(o)) if !o.is_empty() => o.to_owned(),
        (_, None) | (_, Some("")) => s.who.clone(),
        (_, Some(o)) if o.eq_ignore_ascii_case(&s.who) => s.who.clone(),
        _ => {
            return Err(WebError::Forbidden(
                "an owner may claim only for themselves",
            ));
        }
    };
    let row = match state.store.record(id.0).await {
        Ok(r) => r,
        Err(roster_store::StoreError::NotFound(what)) => return Err(WebError::NotFound(what)),
        Err(e) => return Err(e.into()),
    };
    // An owner may not take over what someone else already owns (by the platform, the policy
    // or an earlier claim); an admin may.
    if s.role == super::session::Role::Owner {
        let current = match row.owner.clone() {
            Some(o) => Some(o),
            None => state
                .store
                .ownership_claims()
                .await?
                .remove(&id.0)
                .map(|c| c.owner),
        };
        if current.is_some_and(|o| !o.eq_ignore_ascii_case(&s.who)) {
            return Err(WebError::Forbidden(
                "this identity already has another owner",
            ));
        }
    }
    let now = chrono::Utc::now();
    let by = s.actor();
    // The claim and its event commit together: no event, no claim.
    state
        .store
        .claim_ownership_audited(
            id.0,
            &owner,
            &by,
            &form.note,
            roster_store::audit::NewAuditEvent {
                actor: by.clone(),
                action: "ownership.claim".into(),
                target: Some(id.to_string()),
                detail: serde_json::json!({"owner": owner, "note": form.note, "record": row.name}),
            },
            now,
        )
        .await?;
    Ok(owner)
}
