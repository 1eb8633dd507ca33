//! `/api/v1` JSON: the same inventory objects as `roster identities --format json`.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use roster_app::scope::ScopeParams;
use roster_core::exception_request::ExceptionRequestState;
use roster_core::{InventoryItem, RecordId};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::WebError;
use super::openapi::{Refused, RefusedOrMissing, Unauthenticated};
use super::pages::scope_of;
use super::session::require_session;

const API_PAGE: usize = 500;

/// A page of the inventory.
#[derive(Serialize, ToSchema)]
pub struct IdentitiesPage {
    items: Vec<InventoryItem>,
    /// Pass as `after` for the next page; `null` at the end.
    next: Option<String>,
}

/// The inventory, as `roster identities --format json` prints it: up to 500 objects a page (or
/// `limit`), filtered as the `/inventory` page's URL is. Owners see what they own and what
/// nobody owns.
#[utoipa::path(
    tag = "identities",
    params(ScopeParams),
    responses(
        (status = 200, description = "A page of identities and credentials", body = IdentitiesPage),
        Refused,
    ),
)]
#[get("/identities")]
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

/// Who is calling.
#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    who: String,
    role: roster_app::Role,
    expires_at: DateTime<Utc>,
    /// Send as the `X-CSRF-Token` header on every POST, PUT, PATCH and DELETE (a browser
    /// session's; a request with an API token needs none).
    csrf_token: String,
}

/// Who is signed in (or whose API token this is), with which role, and the session's CSRF token.
#[utoipa::path(
    tag = "session",
    responses(
        (status = 200, description = "The caller", body = SessionInfo),
        Unauthenticated,
    ),
)]
#[get("/session")]
pub async fn session(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(SessionInfo {
            who: s.principal.who.clone(),
            role: s.principal.role,
            expires_at: s.expires_at,
            csrf_token: s.csrf,
        }))
}

/// An ownership claim.
#[derive(serde::Deserialize, ToSchema)]
pub struct ClaimForm {
    /// Who owns it; an owner may only name themselves (the default).
    pub owner: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// A body as JSON or as a form, read by its `Content-Type`: each refused with its own parser's
/// message (as `actix_web::Either` both were tried, and a bad form was reported as a JSON
/// error).
pub struct JsonOrForm<T>(pub T);

impl<T: serde::de::DeserializeOwned + 'static> actix_web::FromRequest for JsonOrForm<T> {
    type Error = actix_web::Error;
    type Future = futures::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        use actix_web::HttpMessage;
        if req
            .content_type()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        {
            let form = web::Form::<T>::from_request(req, payload);
            Box::pin(async move { Ok(JsonOrForm(form.await?.into_inner())) })
        } else {
            let json = web::Json::<T>::from_request(req, payload);
            Box::pin(async move { Ok(JsonOrForm(json.await?.into_inner())) })
        }
    }
}

/// A record id from the path.
pub fn parse_record_id(raw: &str) -> Result<roster_core::RecordId, WebError> {
    raw.parse()
        .map_err(|e: roster_core::record::ParseRecordIdError| WebError::bad_request(e.to_string()))
}

/// One identity or credential, evaluated now, with its findings (the object `roster identities
/// --format json` prints); 404 when it does not exist or the caller may not see it.
#[utoipa::path(
    tag = "identities",
    params(("id" = RecordId, Path, description = "The record's id")),
    responses(
        (status = 200, description = "The record", body = InventoryItem),
        RefusedOrMissing,
    ),
)]
#[get("/identities/{id}")]
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

/// A recorded claim.
#[derive(Serialize, ToSchema)]
pub struct Claimed {
    id: RecordId,
    owner: String,
}

/// Records an ownership claim, audited. Owners claim for themselves, admins for anyone,
/// auditors not at all.
#[utoipa::path(
    tag = "identities",
    params(("id" = RecordId, Path, description = "The record's id")),
    request_body(content(
        (ClaimForm = "application/json"),
        (ClaimForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The claim was recorded", body = Claimed),
        RefusedOrMissing,
    ),
)]
#[post("/identities/{id}/claim")]
pub async fn claim(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonOrForm<ClaimForm>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let id = parse_record_id(&path)?;
    let JsonOrForm(form) = body;
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
    Ok(HttpResponse::Ok().json(Claimed {
        id,
        owner: claimed.owner,
    }))
}

/// An exception request as recorded.
#[derive(Serialize, ToSchema)]
pub struct ExceptionRequestAnswer {
    id: i64,
    record: RecordId,
    rule: String,
    reason: String,
    /// The last day it would apply.
    expires: NaiveDate,
    owner: String,
    state: ExceptionRequestState,
    requested_by: String,
    requested_at: DateTime<Utc>,
}

/// Asks for a policy exception for one current finding (the record's owner or an admin); an
/// admin decides it on `/exceptions`. 409 when that finding already has a request waiting.
#[utoipa::path(
    tag = "identities",
    params(("id" = RecordId, Path, description = "The record's id")),
    request_body(content(
        (super::identity::ExceptionRequestForm = "application/json"),
        (super::identity::ExceptionRequestForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 201, description = "The request, waiting for an admin", body = ExceptionRequestAnswer),
        RefusedOrMissing,
    ),
)]
#[post("/identities/{id}/exception-requests")]
pub async fn request_exception(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: JsonOrForm<super::identity::ExceptionRequestForm>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let id = parse_record_id(&path)?;
    let JsonOrForm(form) = body;
    let ask = form.ask()?;
    let r = state
        .roster
        .request_exception(&s.principal, id, &ask, Utc::now())
        .await?;
    Ok(HttpResponse::Created().json(ExceptionRequestAnswer {
        id: r.id,
        record: id,
        rule: r.rule,
        reason: r.reason,
        expires: r.expires_on,
        owner: r.owner,
        state: r.state,
        requested_by: r.requested_by,
        requested_at: r.requested_at,
    }))
}
