//! Sync runs and coverage: per connector, resource type and scope, what the last attempt saw
//! and what it could not read. "No findings" on an unread scope is not "clean", so the page
//! leads with what was not seen. Admins and auditors.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::AppState;
use super::error::WebError;
use super::session::{SignedIn, require_session};

pub struct RunRow {
    pub id: i64,
    pub started: String,
    pub finished: String,
    pub status: String,
    pub connectors: String,
    pub new: i64,
    pub changed: i64,
    pub unchanged: i64,
    pub gone: i64,
    pub failed_listings: i64,
}

pub struct CoverageRow {
    pub connector: String,
    pub resource_type: String,
    pub scope: String,
    pub complete: bool,
    pub error: String,
    pub last_attempt: String,
    pub last_complete: String,
    pub records_seen: i64,
}

#[derive(Template)]
#[template(path = "sync_runs.html")]
struct SyncRunsPage {
    sample_banner: bool,
    me: SignedIn,
    runs: Vec<RunRow>,
    not_seen: Vec<CoverageRow>,
    seen: Vec<CoverageRow>,
}

const FMT: &str = "%Y-%m-%d %H:%M:%S";

pub async fn sync_runs(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    let (runs, listings) = state.roster.sync_runs(&session.principal, 50).await?;
    let runs = runs
        .into_iter()
        .map(|r| RunRow {
            id: r.id,
            started: r.started_at.format(FMT).to_string(),
            finished: r
                .finished_at
                .map(|t| t.format(FMT).to_string())
                .unwrap_or_else(|| "—".into()),
            status: r.status,
            connectors: serde_json::from_str::<Vec<String>>(&r.connectors)
                .map(|c| c.join(", "))
                .unwrap_or(r.connectors),
            new: r.new_count,
            changed: r.changed_count,
            unchanged: r.unchanged_count,
            gone: r.gone_count,
            failed_listings: r.failed_listings,
        })
        .collect();
    let (seen, not_seen): (Vec<_>, Vec<_>) = listings
        .into_iter()
        .map(|l| CoverageRow {
            complete: l.last_status == "complete",
            error: l.last_error.unwrap_or_default(),
            last_attempt: format!("#{} {}", l.last_attempt_run, l.last_attempt_at.format(FMT)),
            last_complete: match (l.last_complete_run, l.last_complete_at) {
                (Some(run), Some(at)) => format!("#{run} {}", at.format(FMT)),
                _ => "never".into(),
            },
            connector: l.connector,
            resource_type: l.resource_type,
            scope: l.scope,
            records_seen: l.records_seen,
        })
        .partition(|c| c.complete);
    let page = SyncRunsPage {
        sample_banner: state.sample_banner,
        me: session.signed_in(),
        runs,
        not_seen,
        seen,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}
