//! Exception requests: the list for admins and auditors (`/exceptions`), and an admin's
//! decision on each. An approval changes no evaluation: the page shows the `[[exceptions]]`
//! block to add to the policy file, and marks the request "in effect" once the loaded policy
//! carries it.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use roster_app::exception_requests::ExceptionRequestView;
use roster_core::exception_request::ExceptionRequestState;

use super::AppState;
use super::error::WebError;
use super::session::{SignedIn, require_session};

const FMT: &str = "%Y-%m-%d %H:%M";

#[derive(Template)]
#[template(path = "exceptions.html")]
struct ExceptionsPage {
    sample_banner: bool,
    me: SignedIn,
    rows: Vec<Row>,
    proposed: u64,
    can_decide: bool,
    /// The state shown (`all` for every one).
    showing: &'static str,
    /// The request just decided.
    decided: Option<i64>,
    /// The policy file in effect, to say where the blocks go.
    policy_file: Option<String>,
}

struct Row {
    v: ExceptionRequestView,
    /// The record's id as its page's URL names it.
    record: String,
    requested_at: String,
    decided_at: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionsQuery {
    /// `proposed`, `approved`, `rejected` or `all` (the default).
    state: Option<String>,
    decided: Option<i64>,
}

/// GET /exceptions: the latest requests, newest first, with where each stands.
pub async fn exceptions(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<ExceptionsQuery>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let filter = match query.state.as_deref().map(str::trim) {
        None | Some("") | Some("all") => None,
        Some(other) => Some(
            other
                .parse::<ExceptionRequestState>()
                .map_err(|e| WebError::bad_request(format!("state: {e} (or all)")))?,
        ),
    };
    let list = state
        .roster
        .exception_requests(&s.principal, filter, Utc::now())
        .await?;
    let page = ExceptionsPage {
        sample_banner: state.sample_banner,
        me: s.signed_in(),
        proposed: list.proposed,
        can_decide: list.can_decide,
        showing: filter.map_or("all", ExceptionRequestState::as_str),
        decided: query.decided,
        policy_file: list.policy_file,
        rows: list
            .requests
            .into_iter()
            .map(|v| Row {
                record: roster_core::RecordId(v.request.record_id).to_string(),
                requested_at: v.request.requested_at.format(FMT).to_string(),
                decided_at: v
                    .request
                    .decided_at
                    .map(|t| t.format(FMT).to_string())
                    .unwrap_or_default(),
                v,
            })
            .collect(),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

#[derive(serde::Deserialize)]
pub struct DecideForm {
    /// `approve` or `reject`.
    decision: String,
    #[serde(default)]
    note: String,
}

/// POST /exceptions/{id}/decide (admins; CSRF-checked): approves or rejects (with a note) a
/// proposed request, then back to the list at that request.
pub async fn decide(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<DecideForm>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let id = path.into_inner();
    let approve = match form.decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(WebError::bad_request(format!(
                "decision: `{other}` (approve or reject)"
            )));
        }
    };
    state
        .roster
        .decide_exception_request(&s.principal, id, approve, &form.note, Utc::now())
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", format!("/exceptions?decided={id}#request-{id}")))
        .finish())
}
