//! Pages for people. For now: the inventory with its filters in the URL.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use roster_core::{InventoryItem, Kind, Platform, Tier};
use serde::Deserialize;

use super::AppState;
use super::error::WebError;
use super::session::{SignedIn, require_session};
use crate::inventory_view::{InventoryQuery, InventoryReader};

const PAGE_SIZE: usize = 100;

/// Query-string filters shared by the page and the API. Every filter lives in the URL so a
/// view can be shared.
#[derive(Debug, Default, Deserialize)]
pub struct FilterParams {
    pub platform: Option<String>,
    pub kind: Option<String>,
    pub tier: Option<String>,
    pub owner: Option<String>,
    pub q: Option<String>,
    pub after: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl FilterParams {
    pub fn to_query(&self) -> Result<(InventoryQuery, Option<i64>), WebError> {
        let bad = |e: roster_core::ParseEnumError| WebError::BadRequest(e.to_string());
        let mut q = InventoryQuery::new(Utc::now());
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
        q.filter.owner = nonempty(&self.owner).map(str::to_owned);
        q.filter.search = nonempty(&self.q).map(str::to_owned);
        let after = nonempty(&self.after)
            .map(|a| a.parse::<roster_core::RecordId>().map(|id| id.0))
            .transpose()
            .map_err(|e| WebError::BadRequest(e.to_string()))?;
        Ok((q, after))
    }

    /// One evaluated page of the view, and the cursor of the next (`None` at the end). Shared by
    /// the page and the API so both read the inventory the same way.
    pub async fn read(
        &self,
        state: &AppState,
        limit: usize,
    ) -> Result<(Vec<InventoryItem>, Option<i64>), WebError> {
        let (query, after) = self.to_query()?;
        let reader = InventoryReader::new(&state.store, &state.policy).await?;
        Ok(reader.page(&query, after, limit).await?)
    }

    /// This view's query string with `after` replaced.
    fn with_after(&self, after: i64) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("platform", &self.platform),
            ("kind", &self.kind),
            ("tier", &self.tier),
            ("owner", &self.owner),
            ("q", &self.q),
        ] {
            if let Some(v) = nonempty(v) {
                parts.push(format!("{k}={}", url_encode(v)));
            }
        }
        parts.push(format!("after={}", roster_core::RecordId(after)));
        parts.join("&")
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
    items: Vec<InventoryItem>,
    platforms: Vec<SelectOption>,
    kinds: Vec<SelectOption>,
    tiers: Vec<SelectOption>,
    owner: String,
    search: String,
    next_query: Option<String>,
}

pub async fn root() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", "/inventory"))
        .finish()
}

pub async fn inventory(
    req: HttpRequest,
    state: web::Data<AppState>,
    params: web::Query<FilterParams>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    let (items, next) = params.read(&state, PAGE_SIZE).await?;
    let next_query = next.map(|n| params.with_after(n));
    let page = InventoryPage {
        sample_banner: state.sample_banner,
        me: session.signed_in(),
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
        owner: params.owner.clone().unwrap_or_default(),
        search: params.q.clone().unwrap_or_default(),
        items,
        next_query,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}
