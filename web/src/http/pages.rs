//! Pages for people: the inventory (every filter in the URL, CSV and JSON export of the view)
//! and "my identities". Owners see what they own and what nobody owns (so that they can claim
//! it); admins and auditors see everything.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use roster_core::{InventoryItem, Kind, Platform, Tier};

use roster_app::inventory_view::Total;
use roster_app::scope::{Scope, ScopeParams, Sort};
use roster_app::{csv_cell, inventory_csv};

use super::AppState;
use super::error::WebError;
use super::session::{SignedIn, require_session};

const PAGE_SIZE: usize = 100;
/// Rows read and written per step of an export: its memory is this many rows, whatever the
/// view's size.
const EXPORT_PAGE: usize = 2000;
/// Exports running at once per server; one more is refused (429) rather than queued.
pub const CONCURRENT_EXPORTS: usize = 2;

/// The filters in the URL, checked once.
pub fn scope_of(params: &ScopeParams) -> Result<Scope, WebError> {
    Ok(Scope::parse(params)?)
}

pub struct RuleOption {
    pub id: &'static str,
    pub label: String,
    pub selected: bool,
}

pub struct SelectOption {
    pub value: &'static str,
    /// What the list shows.
    pub label: &'static str,
    pub selected: bool,
}

/// `(value, label)` pairs as a select's options, `current` selected.
fn options(all: &[(&'static str, &'static str)], current: Option<&str>) -> Vec<SelectOption> {
    all.iter()
        .map(|(value, label)| SelectOption {
            value,
            label,
            selected: current == Some(*value),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "inventory.html")]
struct InventoryPage {
    sample_banner: bool,
    me: SignedIn,
    title: &'static str,
    action: &'static str,
    items: Vec<InventoryItem>,
    platforms: Vec<SelectOption>,
    kinds: Vec<SelectOption>,
    tiers: Vec<SelectOption>,
    /// The rule catalogue, each rule with its OWASP code and what it fires on.
    rules: Vec<RuleOption>,
    scope: String,
    owner: String,
    search: String,
    stale: bool,
    orphaned: bool,
    sort_by_risk: bool,
    view_query: String,
    next_query: Option<String>,
    previous_query: Option<String>,
    first_query: Option<String>,
    /// "101–200 of 1,234" (or "of at least …" when the total cannot be counted).
    position: String,
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Where a page sits in its view, in words: "101–200 of 1,234 records", or "of more than
/// 10,000" past the count's bound, or "of at least 300" when the view cannot be counted.
fn position(start: u64, shown: u64, total: Option<Total>, more: bool) -> String {
    if shown == 0 && start == 0 {
        return "No records".into();
    }
    let shown_range = format!("{}–{}", thousands(start + 1), thousands(start + shown));
    match total {
        Some(Total::Exact(t)) => format!(
            "{shown_range} of {} {}",
            thousands(t),
            if t == 1 { "record" } else { "records" }
        ),
        Some(Total::MoreThan(t)) => format!("{shown_range} of more than {} records", thousands(t)),
        None if more => format!("{shown_range} of more than {}", thousands(start + shown)),
        None => format!("{shown_range} of {}", thousands(start + shown)),
    }
}

/// `/`: the dashboard for admins and auditors, an owner's own identities for owners.
pub async fn root(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let to = match require_session(&req, &state) {
        Ok(s) if s.principal.can_see_everything() => "/dashboard",
        Ok(_) => "/my",
        Err(_) if state.oidc.is_some() => "/login",
        Err(_) => "/dashboard",
    };
    HttpResponse::SeeOther()
        .insert_header(("Location", to))
        .finish()
}

async fn inventory_view(
    req: &HttpRequest,
    state: &AppState,
    scope: &Scope,
    title: &'static str,
    action: &'static str,
) -> Result<HttpResponse, WebError> {
    let session = require_session(req, state)?;
    let now = Utc::now();
    let per_page = scope.limit.unwrap_or(PAGE_SIZE);
    let (items, next) = state
        .roster
        .inventory_page(&session.principal, scope, per_page, now)
        .await?;
    let total = state
        .roster
        .inventory_total(&session.principal, scope, now)
        .await?;
    let shown = items.len() as u64;
    let next_query = next.map(|n| scope.next_link(n, shown));
    let previous_query = scope.previous_link(per_page as u64);
    // The way back is remembered for MAX_BACK pages; past that, the first page.
    let first_query = (scope.start > 0 && scope.back.len() != 1).then(|| scope.first_link());
    let page = InventoryPage {
        sample_banner: state.sample_banner,
        me: session.signed_in(),
        title,
        action,
        platforms: options(
            &Platform::ALL
                .iter()
                .map(|p| (p.as_str(), p.label()))
                .collect::<Vec<_>>(),
            scope.platform.map(Platform::as_str),
        ),
        kinds: options(
            &Kind::ALL
                .iter()
                .map(|k| (k.as_str(), k.label()))
                .collect::<Vec<_>>(),
            scope.kind.map(Kind::as_str),
        ),
        tiers: options(
            &Tier::ALL
                .iter()
                .rev()
                .map(|t| (t.as_str(), t.as_str()))
                .collect::<Vec<_>>(),
            scope.tier.map(Tier::as_str),
        ),
        rules: roster_core::rule_catalogue()
            .map(|r| RuleOption {
                id: r.id,
                label: format!("{} · {} · {}", r.owasp, r.id, r.summary),
                selected: scope.rule.as_deref() == Some(r.id),
            })
            .collect(),
        scope: scope.scope.clone().unwrap_or_default(),
        owner: scope.owner.clone().unwrap_or_default(),
        search: scope.search.clone().unwrap_or_default(),
        stale: scope.stale,
        orphaned: scope.orphaned,
        sort_by_risk: scope.sort == Sort::Risk,
        view_query: scope.query_string(),
        position: position(scope.start, shown, total, next_query.is_some()),
        items,
        next_query,
        previous_query,
        first_query,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

pub async fn inventory(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<ScopeParams>,
) -> Result<HttpResponse, WebError> {
    let scope = scope_of(&riskiest_first_unless_asked(params.into_inner()))?;
    inventory_view(&req, &state, &scope, "Inventory", "/inventory").await
}

/// A person's inventory opens riskiest first; `sort=id` keeps the order records were found in.
fn riskiest_first_unless_asked(mut params: ScopeParams) -> ScopeParams {
    if params.sort.as_deref().is_none_or(|s| s.trim().is_empty()) {
        params.sort = Some("risk".into());
    }
    params
}

/// `/my`: the identities the signed-in person owns (stored, from the policy, or claimed).
pub async fn my_identities(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<ScopeParams>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    let mut scope = scope_of(&riskiest_first_unless_asked(params.into_inner()))?;
    scope.owner = Some(session.principal.who.clone());
    scope.owner_exact = true;
    inventory_view(&req, &state, &scope, "My identities", "/my").await
}

/// `/inventory/export.csv` and `/inventory/export.json`: the whole view, as `roster
/// identities` writes it, streamed a page at a time; at most [`CONCURRENT_EXPORTS`] at once on a
/// server, one per principal.
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    params: web::Query<ScopeParams>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    let format = path.into_inner();
    if format != "csv" && format != "json" {
        return Err(WebError::not_found(format!("export format `{format}`")));
    }
    let scope = scope_of(&params)?;
    let Some(own) = ExportSlot::take(&state.exporting, session.principal.actor()) else {
        return Ok(HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", "10"))
            .content_type("text/plain; charset=utf-8")
            .body("your previous export is still running; wait for it to finish"));
    };
    let Ok(permit) = state.exports.clone().try_acquire_owned() else {
        return Ok(HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", "10"))
            .content_type("text/plain; charset=utf-8")
            .body("other exports are running on this server; try again in a moment"));
    };
    let now = Utc::now();
    let stamp = now.format("%Y%m%dT%H%M%SZ");
    let csv = format == "csv";
    let content_type = if csv {
        "text/csv; charset=utf-8"
    } else {
        "application/json"
    };
    // The whole view, a page at a time: nothing is cut, and memory stays one page.
    let pages = ExportPages {
        roster: state.roster.clone(),
        principal: session.principal,
        scope,
        now,
        csv,
        started: false,
        done: false,
        _permit: permit,
        _own: own,
    };
    let body = futures::stream::unfold(pages, |mut pages| async move {
        let chunk = pages.next_chunk().await.transpose()?;
        Some((chunk, pages))
    });
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"roster-inventory-{stamp}.{format}\""),
        ))
        .streaming(body))
}

/// An export in progress: the view's pages turned into CSV rows or JSON array elements.
struct ExportPages {
    roster: std::sync::Arc<roster_app::Roster>,
    principal: roster_app::Principal,
    scope: Scope,
    now: chrono::DateTime<Utc>,
    csv: bool,
    started: bool,
    done: bool,
    /// Held until the export ends (or its client goes away): the server's and the principal's.
    _permit: tokio::sync::OwnedSemaphorePermit,
    _own: ExportSlot,
}

/// The principals with an export running: one each at a time.
pub type Exporting = std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>;

/// A principal's running export; gives the slot back when dropped.
struct ExportSlot {
    exporting: Exporting,
    who: String,
}

impl ExportSlot {
    fn take(exporting: &Exporting, who: String) -> Option<Self> {
        let mut running = exporting.lock().ok()?;
        running.insert(who.clone()).then(|| ExportSlot {
            exporting: exporting.clone(),
            who,
        })
    }
}

impl Drop for ExportSlot {
    fn drop(&mut self) {
        if let Ok(mut running) = self.exporting.lock() {
            running.remove(&self.who);
        }
    }
}

impl ExportPages {
    /// The next piece of the body; `None` once it is all written. An error mid-way ends the
    /// response early (its status is already sent), and is logged.
    async fn next_chunk(&mut self) -> Result<Option<web::Bytes>, WebError> {
        if self.done {
            return Ok(None);
        }
        let (items, next) = self
            .roster
            .inventory_page(&self.principal, &self.scope, EXPORT_PAGE, self.now)
            .await
            .inspect_err(|e| tracing::error!(error = %e.detail(), "export failed mid-way"))?;
        let mut out = Vec::new();
        if self.csv {
            let mut w = csv_cell::CsvWriter::new(&mut out);
            if !self.started {
                w.write_row(inventory_csv::CSV_HEADER.iter().copied())
                    .map_err(WebError::internal)?;
            }
            for item in &items {
                w.write_row(inventory_csv::csv_row(item))
                    .map_err(WebError::internal)?;
            }
            w.flush().map_err(WebError::internal)?;
        } else {
            for (i, item) in items.iter().enumerate() {
                out.push(if !self.started && i == 0 { b'[' } else { b',' });
                serde_json::to_writer(&mut out, item).map_err(WebError::internal)?;
            }
            if !self.started && items.is_empty() {
                out.push(b'[');
            }
        }
        self.started = true;
        match next {
            Some(cursor) => self.scope.after = Some(cursor),
            None => {
                self.done = true;
                if !self.csv {
                    out.push(b']');
                }
            }
        }
        Ok(Some(web::Bytes::from(out)))
    }
}
