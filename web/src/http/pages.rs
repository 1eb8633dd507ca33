//! Pages for people: the inventory (every filter in the URL, CSV and JSON export of the view)
//! and "my identities". Owners see what they own and what nobody owns (so that they can claim
//! it); admins and auditors see everything.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use roster_core::{InventoryItem, Kind, Platform, Tier};
use serde::Deserialize;

use super::AppState;
use super::error::WebError;
use super::session::{Role, Session, SignedIn, require_session};
use crate::inventory_view::{InventoryQuery, InventoryReader};

const PAGE_SIZE: usize = 100;
/// The most rows one export carries; a larger view is cut there and says so in a header.
const EXPORT_LIMIT: usize = 100_000;

/// Query-string filters shared by the page, the exports and the API. Every filter lives in the
/// URL so a view can be shared.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct FilterParams {
    pub platform: Option<String>,
    pub scope: Option<String>,
    pub kind: Option<String>,
    pub tier: Option<String>,
    pub owner: Option<String>,
    pub q: Option<String>,
    /// `1`: unused beyond the policy's threshold, or never used.
    pub stale: Option<String>,
    /// `1`: no owner, or the owner has left.
    pub orphaned: Option<String>,
    /// Carries a finding of this rule id.
    pub rule: Option<String>,
    /// `risk`: critical first, then high, medium, low (each in id order). Otherwise id order.
    pub sort: Option<String>,
    /// The page cursor: a record id, or for `sort=risk` `<tier>.<record id>`.
    pub after: Option<String>,
}

/// A record id as pages and cursors write it.
fn parse_id(v: Option<&str>) -> Result<Option<i64>, WebError> {
    v.map(|a| a.parse::<roster_core::RecordId>().map(|id| id.0))
        .transpose()
        .map_err(|e| WebError::BadRequest(e.to_string()))
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn flag(v: &Option<String>) -> bool {
    matches!(nonempty(v), Some("1" | "true" | "yes" | "on"))
}

impl FilterParams {
    /// The query evaluated now. The server marks stored evaluations made under another policy
    /// due when it starts, so they can narrow the read.
    pub fn to_query(&self) -> Result<(InventoryQuery, Option<i64>), WebError> {
        let (mut q, after) = self.to_query_at(Utc::now())?;
        q.trust_stored = true;
        Ok((q, after))
    }

    /// The query evaluated at `as_of`, and the page cursor.
    pub fn to_query_at(
        &self,
        as_of: chrono::DateTime<Utc>,
    ) -> Result<(InventoryQuery, Option<i64>), WebError> {
        let bad = |e: roster_core::ParseEnumError| WebError::BadRequest(e.to_string());
        let mut q = InventoryQuery::new(as_of);
        q.filter.platform = nonempty(&self.platform)
            .map(str::parse::<Platform>)
            .transpose()
            .map_err(bad)?;
        q.filter.kind = nonempty(&self.kind)
            .map(str::parse::<Kind>)
            .transpose()
            .map_err(bad)?;
        q.tier = nonempty(&self.tier)
            .map(str::parse::<Tier>)
            .transpose()
            .map_err(bad)?;
        q.filter.scope = nonempty(&self.scope).map(str::to_owned);
        q.filter.owner = nonempty(&self.owner).map(str::to_owned);
        q.filter.search = nonempty(&self.q).map(str::to_owned);
        q.stale = flag(&self.stale);
        q.orphaned = flag(&self.orphaned);
        if let Some(rule) = nonempty(&self.rule) {
            if !roster_core::policy::is_known_rule(rule) {
                return Err(WebError::BadRequest(format!("unknown rule `{rule}`")));
            }
            q.rule = Some(rule.to_owned());
        }
        let after = match self.sort_by_risk()? {
            // The risk order's cursor is read by `read`.
            true => None,
            false => parse_id(nonempty(&self.after))?,
        };
        Ok((q, after))
    }

    fn sort_by_risk(&self) -> Result<bool, WebError> {
        match nonempty(&self.sort) {
            None | Some("id") => Ok(false),
            Some("risk") => Ok(true),
            Some(other) => Err(WebError::BadRequest(format!(
                "unknown sort `{other}` (id or risk)"
            ))),
        }
    }

    /// The `sort=risk` cursor, `<tier>.<record id>`.
    fn risk_cursor(&self) -> Result<Option<(Tier, i64)>, WebError> {
        let Some(after) = nonempty(&self.after) else {
            return Ok(None);
        };
        let bad = || WebError::BadRequest(format!("bad cursor `{after}` for sort=risk"));
        let (tier, id) = after.split_once('.').ok_or_else(bad)?;
        let tier = tier.parse::<Tier>().map_err(|_| bad())?;
        let id = parse_id(Some(id))?.ok_or_else(bad)?;
        Ok(Some((tier, id)))
    }

    /// One evaluated page of the view as `session` may see it, and the cursor of the next
    /// (`None` at the end). Shared by the pages and the API so all read the inventory alike.
    pub async fn read(
        &self,
        state: &AppState,
        session: &Session,
        limit: usize,
    ) -> Result<(Vec<InventoryItem>, Option<String>), WebError> {
        let (mut query, after) = self.to_query()?;
        restrict(&mut query, session);
        let ctx = state.contexts.get(&state.store).await?;
        let reader = InventoryReader::with_context(&state.store, &state.policy, ctx);
        if self.sort_by_risk()? {
            let (items, next) = reader
                .page_by_risk(&query, self.risk_cursor()?, limit)
                .await?;
            let next = next.map(|(t, id)| format!("{}.{}", t.as_str(), roster_core::RecordId(id)));
            return Ok((items, next));
        }
        let (items, next) = reader.page(&query, after, limit).await?;
        Ok((items, next.map(|id| roster_core::RecordId(id).to_string())))
    }

    /// This view's query string, without the cursor.
    pub fn query_string(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("platform", &self.platform),
            ("scope", &self.scope),
            ("kind", &self.kind),
            ("tier", &self.tier),
            ("owner", &self.owner),
            ("q", &self.q),
            ("stale", &self.stale),
            ("orphaned", &self.orphaned),
            ("rule", &self.rule),
            ("sort", &self.sort),
        ] {
            if let Some(v) = nonempty(v) {
                parts.push(format!("{k}={}", url_encode(v)));
            }
        }
        parts.join("&")
    }

    /// This view's query string with `after` replaced.
    fn with_after(&self, after: &str) -> String {
        let base = self.query_string();
        let cursor = format!("after={}", url_encode(after));
        if base.is_empty() {
            cursor
        } else {
            format!("{base}&{cursor}")
        }
    }
}

/// An owner's view: what they own and what nobody owns.
pub fn restrict(query: &mut InventoryQuery, session: &Session) {
    if session.role == Role::Owner {
        query.filter.visible_to = Some(session.who.clone());
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
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
        Ok(s) if s.role == Role::Owner => "/my",
        Ok(_) => "/dashboard",
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
    params: &FilterParams,
    title: &'static str,
    action: &'static str,
) -> Result<HttpResponse, WebError> {
    let session = require_session(req, state)?;
    let (items, next) = params.read(state, &session, PAGE_SIZE).await?;
    let next_query = next.map(|n| params.with_after(&n));
    let page = InventoryPage {
        sample_banner: state.sample_banner,
        me: session.signed_in(),
        title,
        action,
        platforms: options(
            &Platform::ALL.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            nonempty(&params.platform),
        ),
        kinds: options(
            &Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            nonempty(&params.kind),
        ),
        tiers: options(
            &Tier::ALL
                .iter()
                .rev()
                .map(|t| t.as_str())
                .collect::<Vec<_>>(),
            nonempty(&params.tier),
        ),
        scope: params.scope.clone().unwrap_or_default(),
        owner: params.owner.clone().unwrap_or_default(),
        search: params.q.clone().unwrap_or_default(),
        rule: params.rule.clone().unwrap_or_default(),
        stale: flag(&params.stale),
        orphaned: flag(&params.orphaned),
        sort_by_risk: params.sort_by_risk()?,
        view_query: params.query_string(),
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
    params: web::Query<FilterParams>,
) -> Result<HttpResponse, WebError> {
    inventory_view(&req, &state, &params, "Inventory", "/inventory").await
}

/// `/my`: the identities the signed-in person owns (stored, from the policy, or claimed).
pub async fn my_identities(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<FilterParams>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    let mut params = params.into_inner();
    params.owner = Some(session.who.clone());
    inventory_view(&req, &state, &params, "My identities", "/my").await
}

/// `/inventory/export.csv` and `/inventory/export.json`: the whole view (up to
/// [`EXPORT_LIMIT`] rows), as `roster identities` writes it.
pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    params: web::Query<FilterParams>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    let format = path.into_inner();
    if format != "csv" && format != "json" {
        return Err(WebError::NotFound(format!("export format `{format}`")));
    }
    let (mut query, _) = params.to_query()?;
    restrict(&mut query, &session);
    let ctx = state.contexts.get(&state.store).await?;
    let reader = InventoryReader::with_context(&state.store, &state.policy, ctx);
    let mut items = Vec::new();
    let mut truncated = false;
    if params.sort_by_risk()? {
        // The view's order: page through it (one more row than the limit says whether it cuts).
        let mut cursor = None;
        loop {
            let want = (EXPORT_LIMIT + 1 - items.len()).min(5000);
            let (page, next) = reader.page_by_risk(&query, cursor, want).await?;
            items.extend(page);
            cursor = next;
            if cursor.is_none() || items.len() > EXPORT_LIMIT {
                break;
            }
        }
        truncated = items.len() > EXPORT_LIMIT;
        items.truncate(EXPORT_LIMIT);
    } else {
        reader
            .scan(&query, |item| {
                if items.len() < EXPORT_LIMIT {
                    items.push(item.clone());
                } else {
                    truncated = true;
                }
            })
            .await?;
    }
    let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
    let (body, content_type) = if format == "csv" {
        let mut w = csv::Writer::from_writer(Vec::new());
        let write = |w: &mut csv::Writer<Vec<u8>>| -> Result<(), csv::Error> {
            w.write_record(crate::cli::identities::CSV_HEADER)?;
            for i in &items {
                w.write_record(crate::cli::identities::csv_row(i))?;
            }
            w.flush()?;
            Ok(())
        };
        write(&mut w).map_err(|e| WebError::Internal(e.to_string()))?;
        let body = w
            .into_inner()
            .map_err(|e| WebError::Internal(e.to_string()))?;
        (body, "text/csv; charset=utf-8")
    } else {
        let body = serde_json::to_vec(&items).map_err(|e| WebError::Internal(e.to_string()))?;
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
