//! One identity (or credential): what it is, the findings that made its tier with their
//! evidence, the privileges behind the summary, its owner and where that came from, its
//! credentials, and its history across syncs. Owners may open what they own and what nobody
//! owns; claiming is a form on this page, and so are asking for a policy exception (the owner
//! or an admin) and an admin's remediation dry run (executing stays with the CLI and the API).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::Utc;
use roster_core::InventoryItem;

use roster_app::exception_requests::{ExceptionAsk, RecordExceptions};
use roster_app::remediate::{PlanOutcome, RemediationOffer, RemediationPlan};

use super::AppState;
use super::api::parse_record_id;
use super::error::WebError;
use super::session::{SignedIn, require_session};

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
    /// The tier formula applied to this record, in one line.
    tier_reason: String,
    /// Who can assume it, for a role with a trust policy.
    trust: Option<roster_app::inventory::TrustView>,
    /// The campaign scope of this one record ("review this identity now").
    review_scope: String,
    /// The remediation its connector offers (admins).
    remediation: Option<RemediationOffer>,
    /// A dry run's plan, after one was asked from this page.
    plan: Option<PlanShown>,
    exceptions: RecordExceptions,
    /// Set after an exception was asked for.
    requested: bool,
}

/// A remediation run as the page shows it.
pub struct PlanShown {
    pub action: String,
    pub at: String,
    pub actor: String,
    pub dry_run: bool,
    /// `planned`, `refused`, `off` or `failed`.
    pub outcome: &'static str,
    /// The summary, or the refusal in words.
    pub text: String,
    pub calls: Vec<String>,
}

impl PlanShown {
    fn of(p: RemediationPlan) -> Self {
        let (outcome, text, calls) = match p.outcome {
            PlanOutcome::Planned { summary, calls } => ("planned", summary, calls),
            PlanOutcome::Refused(why) => ("refused", why, Vec::new()),
            PlanOutcome::Off(why) => ("off", why, Vec::new()),
            PlanOutcome::Failed(why) => {
                ("failed", format!("the connector failed: {why}"), Vec::new())
            }
        };
        PlanShown {
            action: p.action,
            at: p.at.format(FMT).to_string(),
            actor: p.actor,
            dry_run: p.dry_run,
            outcome,
            text,
            calls,
        }
    }
}

#[derive(serde::Deserialize)]
pub struct IdentityQuery {
    /// Set after a claim, to say so.
    claimed: Option<String>,
    /// The audit event of a remediation dry run asked from this page, to show its plan.
    plan: Option<i64>,
    /// Set after an exception request, to say so.
    requested: Option<String>,
}

const FMT: &str = "%Y-%m-%d %H:%M";

pub async fn identity(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<IdentityQuery>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    let id = parse_record_id(&path)?;
    let v = state
        .roster
        .identity(&session.principal, id, Utc::now())
        .await?;
    // Only for those offered remediation: anyone else's page ignores the parameter.
    let plan = match query.plan.filter(|_| v.remediation.is_some()) {
        Some(event) => Some(PlanShown::of(
            state
                .roster
                .remediation_plan(&session.principal, id, event)
                .await?,
        )),
        None => None,
    };
    let timeline = v
        .timeline
        .into_iter()
        .map(|(run, at, change)| TimelineEntry {
            run,
            at: at.map(|t| t.format(FMT).to_string()).unwrap_or_default(),
            change,
        })
        .collect();
    let claims = v
        .claims
        .into_iter()
        .map(|(at, actor, detail)| ClaimEntry {
            at: at.format(FMT).to_string(),
            actor,
            detail,
        })
        .collect();
    // The review history, latest campaign first: who decided what, when and why.
    let mut reviews = Vec::new();
    for (campaign, item, decisions) in v.reviews {
        for d in decisions {
            reviews.push(ReviewEntry {
                campaign: campaign.clone(),
                item: item.id,
                decision: d.decision.as_str().to_owned(),
                actor: d.actor,
                at: d.at.format(FMT).to_string(),
                justification: d.justification,
            });
        }
        if item.state != roster_core::campaign::ItemState::Decided {
            reviews.push(ReviewEntry {
                campaign: campaign.clone(),
                item: item.id,
                decision: item.state.as_str().to_owned(),
                actor: item.reviewer.clone(),
                at: String::new(),
                justification: String::new(),
            });
        }
    }
    let page = IdentityPage {
        sample_banner: state.sample_banner,
        me: session.signed_in(),
        may_name_owner: v.can_name_owner,
        claimed: query.claimed.is_some(),
        tier_reason: state.roster.policy().tier_reason(&v.item.findings),
        trust: v.trust,
        review_scope: format!("id={}", v.item.id),
        remediation: v.remediation,
        plan,
        exceptions: v.exceptions,
        requested: query.requested.is_some(),
        item: v.item,
        parent: v.parent,
        children: v.children,
        timeline,
        claims,
        can_claim: v.can_claim,
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
    let id = parse_record_id(&path)?;
    state
        .roster
        .claim(
            &session.principal,
            id,
            form.owner.as_deref(),
            &form.note,
            Utc::now(),
        )
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", format!("/identities/{id}?claimed=1")))
        .finish())
}

#[derive(serde::Deserialize)]
pub struct DryRunForm {
    /// One of the actions the record's connector offers.
    action: String,
}

/// POST /identities/{id}/remediate (admins; CSRF-checked): a dry run of one action, then back
/// to the page showing its plan. Nothing here carries it out.
pub async fn remediate_dry_run(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<DryRunForm>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    let id = parse_record_id(&path)?;
    let event = state
        .roster
        .remediation_dry_run(&session.principal, id, form.action.trim(), Utc::now())
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            "Location",
            format!("/identities/{id}?plan={event}#remediation"),
        ))
        .finish())
}

/// What an exception request form (or API call) says.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct ExceptionRequestForm {
    pub rule: String,
    pub reason: String,
    /// The last day it would apply, `YYYY-MM-DD`.
    #[schema(format = Date)]
    pub expires: String,
}

impl ExceptionRequestForm {
    pub fn ask(&self) -> Result<ExceptionAsk<'_>, WebError> {
        let expires =
            chrono::NaiveDate::parse_from_str(self.expires.trim(), "%Y-%m-%d").map_err(|_| {
                WebError::bad_request(format!(
                    "expires: `{}` is not a date such as 2027-01-31",
                    self.expires
                ))
            })?;
        Ok(ExceptionAsk {
            rule: &self.rule,
            reason: &self.reason,
            expires,
        })
    }
}

/// POST /identities/{id}/exception-requests (the record's owner or an admin; CSRF-checked):
/// asks for an exception for one current finding, then back to the page.
pub async fn request_exception_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ExceptionRequestForm>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    let id = parse_record_id(&path)?;
    let ask = form.ask()?;
    state
        .roster
        .request_exception(&session.principal, id, &ask, Utc::now())
        .await?;
    Ok(HttpResponse::SeeOther()
        .insert_header((
            "Location",
            format!("/identities/{id}?requested=1#exceptions"),
        ))
        .finish())
}
