//! `/audit`: the audit trail for admins and auditors, newest first, filtered by actor, action
//! (or an action family such as `campaign.`), target and time, a page at a time, and exported
//! as CSV exactly as filtered. Every value is data: escaped on the page, neutralised in the CSV.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use roster_app::audit::{AuditEvent, AuditFilter};
use roster_app::csv_cell::CsvWriter;
use roster_app::moment::parse_moment;

use super::AppState;
use super::error::WebError;
use super::session::{SignedIn, require_session};

/// Events per page.
const PAGE: u64 = 100;
/// The most one export holds.
const EXPORT_MAX: u64 = 10_000;

/// The view's filters as the URL carries them, by name.
#[derive(Debug, Default, Clone)]
struct AuditView {
    actor: String,
    action: String,
    target: String,
    since: String,
    until: String,
    before: Option<i64>,
}

impl AuditView {
    fn parse(query: &str) -> Result<Self, WebError> {
        let mut v = Self::default();
        for (k, val) in url::form_urlencoded::parse(query.as_bytes()) {
            let val = val.trim().to_owned();
            match k.as_ref() {
                "actor" => v.actor = val,
                "action" => v.action = val,
                "target" => v.target = val,
                "since" => v.since = val,
                "until" => v.until = val,
                "before" if !val.is_empty() => {
                    v.before = Some(
                        val.parse()
                            .map_err(|_| WebError::bad_request("`before` must be an event id"))?,
                    );
                }
                _ => {}
            }
        }
        Ok(v)
    }

    fn filter(&self) -> Result<AuditFilter, WebError> {
        let moment = |name: &str, v: &str| {
            (!v.is_empty())
                .then(|| parse_moment(v).map_err(|e| WebError::bad_request(format!("{name}: {e}"))))
                .transpose()
        };
        let set = |v: &str| Some(v.to_owned()).filter(|v| !v.is_empty());
        Ok(AuditFilter {
            actor: set(&self.actor),
            action: set(&self.action),
            target: set(&self.target),
            since: moment("since", &self.since)?,
            until: moment("until", &self.until)?,
        })
    }

    /// The filters as a query string (no page cursor).
    fn query(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("actor", &self.actor),
            ("action", &self.action),
            ("target", &self.target),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if !v.is_empty() {
                out.append_pair(k, v);
            }
        }
        out.finish()
    }
}

pub struct EventRow {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

fn event_row(e: &AuditEvent) -> EventRow {
    EventRow {
        id: e.id,
        at: e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
        actor: e.actor.clone(),
        action: e.action.clone(),
        target: e.target.clone().unwrap_or_default(),
        detail: e.detail.clone(),
    }
}

#[derive(Template)]
#[template(path = "audit_log.html")]
struct AuditLogPage {
    sample_banner: bool,
    me: SignedIn,
    rows: Vec<EventRow>,
    total: u64,
    actor: String,
    action: String,
    target: String,
    since: String,
    until: String,
    query: String,
    next: Option<String>,
    first_page: bool,
}

/// GET /audit.
pub async fn audit_log(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let view = AuditView::parse(req.query_string())?;
    let (events, total) = state
        .roster
        .audit_log(&s.principal, &view.filter()?, view.before, PAGE)
        .await?;
    let query = view.query();
    let next = (events.len() as u64 == PAGE)
        .then(|| events.last().map(|e| e.id))
        .flatten()
        .map(|id| {
            let sep = if query.is_empty() { "" } else { "&" };
            format!("{query}{sep}before={id}")
        });
    let page = AuditLogPage {
        sample_banner: state.sample_banner,
        me: s.signed_in(),
        rows: events.iter().map(event_row).collect(),
        total,
        first_page: view.before.is_none(),
        actor: view.actor,
        action: view.action,
        target: view.target,
        since: view.since,
        until: view.until,
        query,
        next,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(page.render()?))
}

/// GET /audit/export.csv: the filtered view, newest first, at most 10,000 events.
pub async fn export_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let view = AuditView::parse(req.query_string())?;
    let (events, _) = state
        .roster
        .audit_log(&s.principal, &view.filter()?, None, EXPORT_MAX)
        .await?;
    let mut w = CsvWriter::new(Vec::new());
    let bad = |e: csv::Error| WebError::internal(e.to_string());
    w.write_row(["id", "at", "actor", "action", "target", "detail", "hash"])
        .map_err(bad)?;
    for e in &events {
        let id = e.id.to_string();
        let at = e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        w.write_row([
            id.as_str(),
            &at,
            &e.actor,
            &e.action,
            e.target.as_deref().unwrap_or(""),
            &e.detail,
            &e.hash,
        ])
        .map_err(bad)?;
    }
    let body = w.into_inner().map_err(bad)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"roster-audit.csv\"",
        ))
        .body(body))
}
