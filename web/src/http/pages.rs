//! Pages for people: the inventory (every filter in the URL, CSV and JSON export of the view)
//! and "my identities". Owners see what they own and what nobody owns (so that they can claim
//! it); admins and auditors see everything.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use roster_core::{InventoryItem, Kind, Platform, Tier};

use roster_app::scope::{Scope, ScopeParams, Sort};
use roster_app::{csv_cell, inventory_csv};

use super::AppState;
use super::error::WebError;
use super::session::{SignedIn, require_session};

const PAGE_SIZE: usize = 100;
/// The most rows one export carries; a larger view is cut there and says so in a header.
const EXPORT_LIMIT: usize = 100_000;

/// The filters in the URL, checked once.
pub fn scope_of(params: &ScopeParams) -> Result<Scope, WebError> {
    Ok(Scope::parse(params)?)
}

pub struct SelectOption {
    pub value: &'static str,
    pub selected: bool,
}

fn options(all: &[&'static str], current: Option<&str>) -> Vec<SelectOption> {
    all.iter()
        .map(|v| SelectOption {
            value: v,
            selected: current == Some(*v),
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
    scope: String,
    owner: String,
    search: String,
    rule: String,
    stale: bool,
    orphaned: bool,
    sort_by_risk: bool,
    view_query: String,
    next_query: Option<String>,
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
    let (items, next) = state
        .roster
        .inventory_page(&session.principal, scope, PAGE_SIZE, Utc::now())
        .await?;
    let next_query = next.map(|n| scope.with_after(&n.encode()));
    let page = InventoryPage {
        sample_banner: state.sample_banner,
        me: session.signed_in(),
        title,
        action,
        platforms: options(
            &Platform::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            scope.platform.map(Platform::as_str),
        ),
        kinds: options(
            &Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            scope.kind.map(Kind::as_str),
        ),
        tiers: options(
            &Tier::ALL
                .iter()
                .rev()
                .map(|t| t.as_str())
                .collect::<Vec<_>>(),
            scope.tier.map(Tier::as_str),
        ),
        scope: scope.scope.clone().unwrap_or_default(),
        owner: scope.owner.clone().unwrap_or_default(),
        search: scope.search.clone().unwrap_or_default(),
        rule: scope.rule.clone().unwrap_or_default(),
        stale: scope.stale,
        orphaned: scope.orphaned,
        sort_by_risk: scope.sort == Sort::Risk,
        view_query: scope.query_string(),
        items,
        next_query,
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
    let scope = scope_of(&params)?;
    inventory_view(&req, &state, &scope, "Inventory", "/inventory").await
}

/// `/my`: the identities the signed-in person owns (stored, from the policy, or claimed).
pub async fn my_identities(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<ScopeParams>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    let mut scope = scope_of(&params)?;
    scope.owner = Some(session.principal.who.clone());
    inventory_view(&req, &state, &scope, "My identities", "/my").await
}

/// `/inventory/export.csv` and `/inventory/export.json`: the whole view (up to
/// [`EXPORT_LIMIT`] rows), as `roster identities` writes it.
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
    let now = Utc::now();
    let (items, truncated) = state
        .roster
        .inventory_export(&session.principal, &scope, EXPORT_LIMIT, now)
        .await?;
    let stamp = now.format("%Y%m%dT%H%M%SZ");
    let (body, content_type) = if format == "csv" {
        let rows = std::iter::once(
            inventory_csv::CSV_HEADER
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
        )
        .chain(items.iter().map(inventory_csv::csv_row));
        let body =
            csv_cell::to_string::<_, Vec<String>, String>(rows).map_err(WebError::internal)?;
        (body.into_bytes(), "text/csv; charset=utf-8")
    } else {
        let body = serde_json::to_vec(&items).map_err(WebError::internal)?;
        (body, "application/json")
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"roster-inventory-{stamp}.{format}\""),
        ))
        .insert_header((
            "X-Roster-Truncated",
            if truncated { "true" } else { "false" },
        ))
        .body(body))
}
