//! `/metrics` (Prometheus text format) and the middleware that counts every request for it.
//! On the main listener `/metrics` needs an API token (or a session) of someone who may read it;
//! on the listener `[server] metrics_bind` names it needs nothing, and that listener serves
//! nothing else.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use roster_app::metrics::CONTENT_TYPE;

use super::AppState;
use super::error::WebError;
use super::session::require_session;

/// Middleware: counts each request by method, route pattern and status, and times it to its
/// response's head. The pattern (`/identities/{id}`), never the path: one series per route,
/// whatever ids are asked for.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    // Read before the call: on an error the request is gone with it.
    let route = req.match_pattern();
    let method = req.method().clone();
    let res = next.call(req).await;
    if let Some(m) = state.as_ref().and_then(|s| s.roster.process_metrics()) {
        let status = match &res {
            Ok(r) => r.status(),
            Err(e) => e.as_response_error().status_code(),
        };
        m.observe_http(
            method.as_str(),
            route.as_deref(),
            status.as_u16(),
            started.elapsed(),
        );
    }
    res
}

fn text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

/// GET /metrics on the main listener: an admin's or auditor's API token (or session).
pub async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    Ok(text(state.roster.metrics(&s.principal).await?))
}

/// GET /metrics on the `[server] metrics_bind` listener: no token.
pub async fn metrics_on_listener(state: web::Data<AppState>) -> Result<HttpResponse, WebError> {
    Ok(text(state.roster.metrics_on_listener().await?))
}

/// Anything else on the metrics listener.
pub async fn only_metrics() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("this listener serves only /metrics")
}
