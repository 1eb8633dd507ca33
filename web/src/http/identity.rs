//! One identity (or credential): what it is, the findings that made its tier with their
//! evidence, the privileges behind the summary, its owner and where that came from, its
//! credentials, and its history across syncs. Owners may open what they own and what nobody
//! owns; claiming is a form on this page.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use roster_core::{InventoryItem, RecordId};

use super::AppState;
use super::error::WebError;
use super::session::{Role, Session, SignedIn, require_session};
use crate::inventory_view::InventoryReader;

pub struct TimelineEntry {
    pub run: i64,
    pub at: String,
    pub change: String,
}

pub struct ClaimEntry {
    pub at: String,
    pub actor: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "identity.html")]
struct IdentityPage {
    sample_banner: bool,
    me: SignedIn,
    item: InventoryItem,
    parent: Option<InventoryItem>,
    children: Vec<InventoryItem>,
    timeline: Vec<TimelineEntry>,
    claims: Vec<ClaimEntry>,
    can_claim: bool,
    reviews: Vec<ReviewEntry>,
    may_name_owner: bool,
    claimed: bool,
}

fn parse_id(raw: &str) -> Result<RecordId, WebError> {
    raw.parse()
        .map_err(|e: roster_core::record::ParseRecordIdError| WebError::BadRequest(e.to_string()))
}

/// An owner may see what they own and what has no owner.
fn may_view(session: &Session, item: &InventoryItem) -> bool {
    match session.role {
        Role::Admin | Role::Auditor => true,
        Role::Owner => item
            .owner
            .as_deref()
            .is_none_or(|o| o.eq_ignore_ascii_case(&session.who)),
    }
}

async fn load(
    state: &AppState,
    reader: &InventoryReader<'_>,
    id: RecordId,
) -> Result<InventoryItem, WebError> {
    let row = match state.store.record(id.0).await {
        Ok(r) => r,
        Err(roster_store::StoreError::NotFound(what)) => return Err(WebError::NotFound(what)),
        Err(e) => return Err(e.into()),
    };
    Ok(reader.evaluate(row, Utc::now())?)
}

#[derive(serde::Deserialize)]
pub struct IdentityQuery {
    /// Set after a claim, to say so.
    claimed: Option<String>,
}

pub async fn identity(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<IdentityQuery>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    let id = parse_id(&path)?;
    let ctx = state.contexts.get(&state.store).await?;
    let reader = InventoryReader::with_context(&state.store, &state.policy, ctx);
    let item = load(&state, &reader, id).await?;
    if !may_view(&session, &item) {
        return Err(WebError::Forbidden("this identity has another owner"));
    }
    let parent = match item.parent_id {
        Some(p) => load(&state, &reader, p).await.ok(),
        None => None,
    };
    let now = Utc::now();
    let children = state
        .store
        .children(id.0)
        .await?
        .into_iter()
        .map(|row| reader.evaluate(row, now))
        .collect::<Result<Vec<_>, _>>()?;
    let runs: std::collections::HashMap<i64, String> = state
        .store
        .recent_sync_runs(1000)
        .await?
        .into_iter()
        .map(|r| (r.id, r.started_at.format("%Y-%m-%d %H:%M").to_string()))
        .collect();
    let at = |run: i64| runs.get(&run).cloned().unwrap_or_default();
    let mut timeline = vec![TimelineEntry {
        run: item.first_seen_run,
        at: at(item.first_seen_run),
        change: "first seen".into(),
    }];
    timeline.extend(
        state
            .store
            .record_timeline(id.0)
            .await?
            .into_iter()
            .map(|h| TimelineEntry {
                run: h.sync_run_id,
                at: h.at.format("%Y-%m-%d %H:%M").to_string(),
                change: h.change,
            }),
    );
    let claims = state
        .store
        .audit_events_for(&id.to_string(), "ownership.claim")
        .await?
        .into_iter()
        .map(|e| ClaimEntry {
            at: e.at.format("%Y-%m-%d %H:%M").to_string(),
            actor: e.actor,
            detail: e.detail,
        })
        .collect();
    // The review history, latest campaign first: who decided what, when and why.
    let mut reviews = Vec::new();
    let mut campaigns: std::collections::HashMap<i64, String> = Default::default();
    for (item, decisions) in state.store.record_reviews(id.0, 20).await? {
        if !campaigns.contains_key(&item.campaign_id) {
            let c = state.store.campaign(item.campaign_id).await?;
            campaigns.insert(c.id, c.name);
        }
        let campaign_name = campaigns
            .get(&item.campaign_id)
            .cloned()
            .unwrap_or_default();
        for d in decisions {
            reviews.push(ReviewEntry {
                campaign: campaign_name.clone(),
                item: item.id,
                decision: d.decision,
                actor: d.actor,
                at: d.at.format("%Y-%m-%d %H:%M").to_string(),
                justification: d.justification,
            });
        }
        if item.state != "decided" {
            reviews.push(ReviewEntry {
                campaign: campaign_name.clone(),
                item: item.id,
                decision: item.state.clone(),
                actor: item.reviewer.clone(),
                at: String::new(),
                justification: String::new(),
            });
        }
    }
    let can_claim = match session.role {
        Role::Admin => true,
        Role::Owner => item.owner.is_none(),
        Role::Auditor => false,
    };
    let page = IdentityPage {
        sample_banner: state.sample_banner,
        me: session.signed_in(),
        may_name_owner: session.role == Role::Admin,
        claimed: query.claimed.is_some(),
        item,
        parent,
        children,
        timeline,
        claims,
        can_claim,
        reviews,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}

pub struct ReviewEntry {
    pub campaign: String,
    pub item: i64,
    pub decision: String,
    pub actor: String,
    pub at: String,
    pub justification: String,
}

/// POST /identities/{id}/claim (the page's form; CSRF-checked): claims, then back to the page.
pub async fn claim_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<super::api::ClaimForm>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    let id = parse_id(&path)?;
    super::api::claim_ownership(&state, &session, id, &form).await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", format!("/identities/{id}?claimed=1")))
        .finish())
}
