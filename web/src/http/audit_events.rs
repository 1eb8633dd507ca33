//! The web app's part of the audit trail: sign-ins (and failed ones), sign-outs, refusals by a
//! role check, and `GET /api/v1/audit-events` for admins and auditors. Never a token, code or
//! secret: a failed sign-in records the reason and the client's address, nothing it presented.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::Utc;
use roster_app::Principal;
use roster_app::audit::{ACCESS_DENIED, MAX_EVENTS, SIGN_IN, SIGN_IN_FAILED, SIGN_OUT};
use serde::Deserialize;

use super::AppState;
use super::error::WebError;
use super::session::{Session, require_session};

/// The client's address (through the trusted proxies, see [`super::limit::client_ip`]).
pub fn client_addr(req: &HttpRequest) -> String {
    let trusted = req
        .app_data::<web::Data<AppState>>()
        .map(|s| s.trusted_proxies.clone())
        .unwrap_or_default();
    super::limit::client_ip(req, &trusted).map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// Records a sign-in. Fails when the event cannot be written: then nobody is signed in.
pub async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
    principal: &Principal,
    method: &str,
) -> Result<(), WebError> {
    let actor = principal.actor();
    let detail = serde_json::json!({
        "method": method,
        "role": principal.role.as_str(),
        "client": client_addr(req),
    });
    state
        .roster
        .record_event(actor, SIGN_IN, None, detail, Utc::now())
        .await?;
    Ok(())
}

/// Records a refused sign-in as `anonymous` with the client's address and why; a failure to
/// write it is logged (the sign-in is refused either way).
pub async fn sign_in_failed(state: &AppState, req: &HttpRequest, method: &str, reason: &str) {
    let detail = serde_json::json!({
        "method": method,
        "reason": reason,
        "client": client_addr(req),
        "path": req.path(),
    });
    let recorded = state
        .roster
        .record_event("anonymous".into(), SIGN_IN_FAILED, None, detail, Utc::now())
        .await;
    if let Err(e) = recorded {
        tracing::error!(error = %e, "could not record a failed sign-in in the audit trail");
    }
}

/// The sign-in rate limit, recording the first refusal of a streak as a failed sign-in.
pub async fn limit_sign_in(
    state: &AppState,
    req: &HttpRequest,
    method: &str,
) -> Result<(), WebError> {
    match state.login_limiter.attempt(req, &state.trusted_proxies) {
        Ok(()) => Ok(()),
        Err(first) => {
            if first {
                sign_in_failed(state, req, method, "rate limit").await;
            }
            Err(WebError::TooManyRequests)
        }
    }
}

/// Records a sign-out; a failure to write it is logged (the session is gone either way).
pub async fn signed_out(state: &AppState, req: &HttpRequest, s: &Session) {
    let detail = serde_json::json!({"client": client_addr(req)});
    let recorded = state
        .roster
        .record_event(s.actor(), SIGN_OUT, None, detail, Utc::now())
        .await;
    if let Err(e) = recorded {
        tracing::error!(error = %e, "could not record a sign-out in the audit trail");
    }
}

/// Middleware: every response that a role check refused ([`WebError::Forbidden`]) to a
/// signed-in principal is recorded, up to a burst per principal and then once per streak
/// ([`super::limit::refusal_throttle`]). An anonymous request is not an event (it is sent to sign
/// in); a CSRF refusal is not a role check.
pub async fn record_denials(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let reason = res
        .response()
        .error()
        .and_then(|e| e.as_error::<WebError>())
        .and_then(WebError::forbidden_reason);
    if let Some(reason) = reason
        && let Some(state) = res.request().app_data::<web::Data<AppState>>()
        && let Ok(s) = require_session(res.request(), state)
    {
        // A burst per principal, then only the first refusal of a streak (marked so).
        let throttled = match state.refusal_throttle.attempt_key(&s.actor()) {
            Ok(()) => false,
            Err(true) => true,
            Err(false) => return Ok(res),
        };
        let req = res.request();
        let mut detail = serde_json::json!({
            "role": s.principal.role.as_str(),
            "reason": reason,
            "client": client_addr(req),
        });
        if throttled {
            detail["throttled"] = serde_json::json!(
                "further refusals of this principal are not recorded until they slow down"
            );
        }
        let target = Some(format!("{} {}", req.method(), req.path()));
        let recorded = state
            .roster
            .record_event(s.actor(), ACCESS_DENIED, target, detail, Utc::now())
            .await;
        if let Err(e) = recorded {
            tracing::error!(error = %e, "could not record an access denial in the audit trail");
        }
    }
    Ok(res)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only events with a larger id (default 0: from the start).
    #[serde(default)]
    after: i64,
    /// At most this many (default and maximum 10,000).
    #[param(minimum = 0)]
    limit: Option<u64>,
}

/// The audit trail, oldest first, each event as `roster audit export` prints it. Page by
/// passing the last id as `after`; an empty array is the end. Admins and auditors.
#[utoipa::path(
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "Events", body = Vec<roster_app::audit::ExportedEvent>),
        super::openapi::Refused,
    ),
)]
#[get("/audit-events")]
pub async fn audit_events(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let events: Vec<roster_app::audit::ExportedEvent> = state
        .roster
        .audit_events(&s.principal, q.after, q.limit.unwrap_or(MAX_EVENTS))
        .await?
        .iter()
        .map(Into::into)
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(events))
}
