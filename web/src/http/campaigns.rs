//! Campaign pages and API: IAM launches, follows and signs off campaigns (admins; auditors
//! read), reviewers work through their inbox (owners and admins), everyone with read access
//! exports the evidence. Each handler checks the principal first, then validates, then calls
//! the campaign service.

use actix_web::{HttpRequest, HttpResponse, get, post, web};

use super::openapi::{Refused, RefusedOrMissing};
use askama::Template;
use chrono::{NaiveDate, Utc};
use roster_app::AppError;
use roster_app::campaigns::{
    Campaign, CampaignDecision, CampaignItem, Evidence, ItemCounts, LaunchRequest, RemediationTask,
};
use roster_app::inbox::{INBOX_PAGE, InboxFilter, InboxPage, InboxRequest, InboxSort};
use roster_core::InventoryItem;
use roster_core::campaign::{DecisionInput, DecisionKind, ItemState};
use serde::Deserialize;

use super::AppState;
use super::error::WebError;
use super::session::{SignedIn, require_session};

/// Items shown per page of a campaign or an inbox.
const PAGE: u64 = 200;

fn html(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body)
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header(("Location", to.to_owned()))
        .finish()
}

pub struct CampaignRow {
    pub c: Campaign,
    pub counts: ItemCounts,
    /// Percent decided, for the progress bar.
    pub done_pct: u64,
    pub overdue: bool,
}

fn row(c: Campaign, counts: ItemCounts, now: chrono::DateTime<Utc>) -> CampaignRow {
    let total = counts.pending + counts.decided + counts.unreviewed;
    let done_pct = (counts.decided * 100).checked_div(total).unwrap_or(100);
    let overdue = c.is_open() && c.due_at < now;
    CampaignRow {
        c,
        counts,
        done_pct,
        overdue,
    }
}

pub struct DefinitionRow {
    pub name: String,
    pub scope: String,
    pub schedule: String,
    pub due_days: u32,
}

#[derive(Template)]
#[template(path = "campaigns.html")]
struct CampaignsPage {
    sample_banner: bool,
    me: SignedIn,
    campaigns: Vec<CampaignRow>,
    definitions: Vec<DefinitionRow>,
    may_launch: bool,
    /// The launch form's scope, from "review this view" on the inventory.
    scope: String,
}

/// GET /campaigns.
pub async fn campaigns(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let now = Utc::now();
    let rows = state
        .roster
        .campaigns(&s.principal, 200)
        .await?
        .into_iter()
        .map(|(c, counts)| row(c, counts, now))
        .collect();
    let page = CampaignsPage {
        sample_banner: state.sample_banner,
        me: s.signed_in(),
        campaigns: rows,
        definitions: state
            .roster
            .campaign_definitions()
            .iter()
            .map(|d| DefinitionRow {
                name: d.name.clone(),
                scope: d.scope.clone(),
                schedule: d.schedule.clone().unwrap_or_else(|| "by hand".into()),
                due_days: d.due_days,
            })
            .collect(),
        may_launch: s.principal.can_launch(),
        scope: url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default(),
    };
    Ok(html(page.render()?))
}

#[derive(Deserialize, Clone, Default)]
pub struct LaunchForm {
    /// `1`: show what the launch would write, and write nothing.
    preview: Option<String>,
    /// A `[[campaigns]]` definition to launch now; else the fields below.
    from: Option<String>,
    name: Option<String>,
    scope: Option<String>,
    due_days: Option<u32>,
    fallback_reviewer: Option<String>,
    close_out: Option<String>,
    keep_justification_from: Option<String>,
}

fn launch_request(form: &LaunchForm, state: &AppState) -> Result<LaunchRequest, WebError> {
    if let Some(from) = form.from.as_deref().filter(|f| !f.is_empty()) {
        return Ok(state.roster.definition_request(from, Utc::now())?);
    }
    let mut rules = roster_core::campaign::CampaignRules::new(
        form.fallback_reviewer.as_deref().unwrap_or("").trim(),
    );
    if let Some(c) = form.close_out.as_deref().filter(|c| !c.is_empty()) {
        rules.close_out = c
            .parse()
            .map_err(|e: roster_core::ParseEnumError| WebError::bad_request(e.to_string()))?;
    }
    rules.keep_justification_from = roster_core::campaign::parse_keep_justification_from(
        form.keep_justification_from.as_deref().unwrap_or(""),
    )
    .map_err(|e| WebError::bad_request(e.to_string()))?;
    Ok(LaunchRequest {
        name: form.name.clone().unwrap_or_default(),
        definition: None,
        scope: form.scope.clone().unwrap_or_default(),
        due_days: form.due_days.unwrap_or(14),
        rules,
    })
}

#[derive(Template)]
#[template(path = "campaign_preview.html")]
struct PreviewPage {
    sample_banner: bool,
    me: SignedIn,
    request: LaunchRequest,
    p: roster_app::campaigns::LaunchPreview,
    /// The form as submitted, carried to the launch.
    form: LaunchForm,
}

impl LaunchForm {
    pub fn field(&self, name: &str) -> &str {
        match name {
            "from" => self.from.as_deref(),
            "name" => self.name.as_deref(),
            "scope" => self.scope.as_deref(),
            "fallback_reviewer" => self.fallback_reviewer.as_deref(),
            "close_out" => self.close_out.as_deref(),
            "keep_justification_from" => self.keep_justification_from.as_deref(),
            _ => None,
        }
        .unwrap_or("")
    }

    pub fn due_days_text(&self) -> String {
        self.due_days.map(|d| d.to_string()).unwrap_or_default()
    }
}

/// POST /campaigns: previews (`preview=1`: what would be written, and nothing is) or launches.
pub async fn launch(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<LaunchForm>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    // Who may launch is checked before the form is read, so a refusal says so.
    s.principal.require_launch()?;
    let request = launch_request(&form, &state)?;
    if form.preview.as_deref() == Some("1") {
        let p = state
            .roster
            .preview_campaign(&s.principal, &request, Utc::now())
            .await?;
        let page = PreviewPage {
            sample_banner: state.sample_banner,
            me: s.signed_in(),
            request,
            p,
            form: form.into_inner(),
        };
        return Ok(html(page.render()?));
    }
    let c = state
        .roster
        .launch_campaign(&s.principal, request, Utc::now())
        .await?;
    Ok(see_other(&format!("/campaigns/{}", c.id)))
}

pub struct ItemRow {
    pub id: i64,
    pub record: String,
    pub name: String,
    pub platform: String,
    pub kind: String,
    pub tier: String,
    pub reviewer: String,
    pub state: String,
    pub decision: String,
}

fn item_row(i: &CampaignItem) -> ItemRow {
    ItemRow {
        id: i.id,
        record: roster_core::RecordId(i.record_id).to_string(),
        name: i.name.clone(),
        platform: i.platform.clone(),
        kind: i.kind.clone(),
        tier: i.tier.clone(),
        reviewer: i.reviewer.clone(),
        state: i.state.as_str().to_owned(),
        decision: i
            .decision
            .map(|d| d.as_str().to_owned())
            .unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "campaign.html")]
struct CampaignPage {
    sample_banner: bool,
    me: SignedIn,
    r: CampaignRow,
    rules: roster_core::campaign::CampaignRules,
    progress: Vec<roster_app::campaigns::ReviewerProgress>,
    /// The reviewer just reminded, for the notice.
    reminded: Option<String>,
    items: Vec<ItemRow>,
    state_filter: String,
    next: Option<i64>,
    tasks: Vec<RemediationTask>,
    is_admin: bool,
    close_out_words: String,
}

#[derive(Deserialize)]
pub struct ItemsQuery {
    state: Option<String>,
    reviewer: Option<String>,
    after: Option<i64>,
}

/// GET /campaigns/{id}.
pub async fn campaign(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    query: web::Query<ItemsQuery>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let item_state = query
        .state
        .as_deref()
        .and_then(|v| v.parse::<ItemState>().ok());
    let reviewer = query.reviewer.as_deref().filter(|r| !r.is_empty());
    let v = state
        .roster
        .campaign_view(
            &s.principal,
            path.into_inner(),
            reviewer,
            item_state,
            query.after,
            PAGE,
        )
        .await?;
    let close_out_words = roster_app::campaigns::close_out_words(&v.rules);
    // Only a reviewer of this campaign: a crafted link cannot announce any other name.
    let reminded = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "reminded")
        .map(|(_, who)| who.into_owned())
        .filter(|who| v.progress.iter().any(|p| p.reviewer == *who));
    let page = CampaignPage {
        sample_banner: state.sample_banner,
        me: s.signed_in(),
        rules: v.rules,
        progress: v.progress,
        reminded,
        tasks: v.tasks,
        items: v.items.iter().map(item_row).collect(),
        state_filter: item_state.map(|s| s.as_str()).unwrap_or("").to_owned(),
        next: v.next,
        r: row(v.campaign, v.counts, Utc::now()),
        is_admin: s.principal.can_launch(),
        close_out_words,
    };
    Ok(html(page.render()?))
}

#[derive(Deserialize)]
pub struct SignOffForm {
    /// The pending count the admin confirmed closing unreviewed.
    confirm_unreviewed: Option<u64>,
}

/// POST /campaigns/{id}/sign-off: with items pending, only with `confirm_unreviewed` equal
/// to their number.
pub async fn sign_off(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<SignOffForm>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let c = state
        .roster
        .sign_off_campaign(
            &s.principal,
            path.into_inner(),
            form.confirm_unreviewed,
            Utc::now(),
        )
        .await?;
    Ok(see_other(&format!("/campaigns/{}", c.id)))
}

#[derive(Deserialize)]
pub struct RemindForm {
    reviewer: String,
}

/// POST /campaigns/{id}/remind: a reminder to one reviewer now.
pub async fn remind(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<RemindForm>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let id = path.into_inner();
    state
        .roster
        .remind_now(&s.principal, id, &form.reviewer, Utc::now())
        .await?;
    let who: String =
        url::form_urlencoded::byte_serialize(form.reviewer.trim().as_bytes()).collect();
    Ok(see_other(&format!(
        "/campaigns/{id}?reminded={who}#waiting"
    )))
}

#[derive(Deserialize)]
pub struct RemediateForm {
    execute: Option<String>,
}

/// POST /campaigns/{id}/remediate: a dry run unless `execute=1`.
pub async fn remediate(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<RemediateForm>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let id = path.into_inner();
    let execute = form.execute.as_deref() == Some("1");
    state
        .roster
        .carry_out_campaign(&s.principal, id, execute, Utc::now())
        .await?;
    Ok(see_other(&format!("/campaigns/{id}#remediation")))
}

#[derive(Template)]
#[template(path = "campaign_report.html")]
struct ReportPage<'a> {
    e: &'a Evidence,
}

/// The printable evidence report (also `roster campaign export --format html`).
pub fn campaign_report_html(e: &Evidence) -> Result<String, askama::Error> {
    ReportPage { e }.render()
}

/// GET /campaigns/{id}/evidence.{csv|json|html} and /campaigns/{id}/tickets.csv.
pub async fn evidence(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let (id, format) = path.into_inner();
    let e = state.roster.campaign_evidence(&s.principal, id).await?;
    let (body, content_type, ext) = match format.as_str() {
        "evidence.csv" => (
            roster_app::campaigns::evidence_csv(&e)?,
            "text/csv; charset=utf-8",
            "csv",
        ),
        "tickets.csv" => (
            roster_app::campaigns::tickets_csv(&e)?,
            "text/csv; charset=utf-8",
            "tickets.csv",
        ),
        "evidence.json" => (
            serde_json::to_string_pretty(&e).map_err(|e| WebError::internal(e.to_string()))?,
            "application/json",
            "json",
        ),
        "evidence.html" => (
            campaign_report_html(&e)?,
            "text/html; charset=utf-8",
            "html",
        ),
        other => return Err(WebError::not_found(format!("export `{other}`"))),
    };
    let mut resp = HttpResponse::Ok();
    resp.content_type(content_type)
        .insert_header(("Cache-Control", "no-store"));
    if ext != "html" {
        resp.insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"campaign-{id}.{ext}\""),
        ));
    }
    Ok(resp.body(body))
}

pub struct InboxRow {
    pub item: ItemRow,
    pub campaign: String,
    pub due: String,
    pub overdue: bool,
    pub finding: String,
    pub finding_rule: String,
    pub more_findings: usize,
    pub last_use: String,
    pub privilege: String,
    pub owner: String,
    pub since_last: String,
    /// The row after this one on the page: where the list comes back to after a decision.
    pub next: Option<i64>,
    /// The suggested decision (empty: decide by hand), its reason and rule.
    pub suggested: String,
    pub suggestion_reason: String,
    pub suggestion_rule: String,
    pub bulk_acceptable: bool,
}

#[derive(Template)]
#[template(path = "reviews.html")]
struct ReviewsPage {
    sample_banner: bool,
    me: SignedIn,
    rows: Vec<InboxRow>,
    page: InboxPage,
    decided: usize,
    kinds: Vec<(&'static str, &'static str)>,
    sorts: [(&'static str, &'static str); 4],
    filtered: bool,
    f_platform: String,
    f_kind: String,
    f_tier: String,
    f_sort: String,
    /// `decided` shows the reviewer's decided items (changeable until sign-off).
    f_state: String,
    /// This page's query string, for links and for the way back after a decision.
    here: String,
    /// The same view's first page: what waits once this page is decided.
    first_page: String,
    prev_page: Option<String>,
    next_page: Option<String>,
    /// Percent of the reviewer's items decided.
    done_pct: u64,
    /// Suggestions accepted by the last bulk acceptance, and those it left.
    accepted: Option<(usize, u64)>,
    /// The most one bulk decision covers.
    inbox_limit: u64,
}

/// The inbox's query: filters, state, sort and page, read by name so that a number in a
/// query string is never mistaken for a string (or refused) by a flattened struct.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReviewsQuery {
    decided: usize,
    platform: String,
    kind: String,
    tier: String,
    campaign: Option<i64>,
    state: String,
    sort: String,
    page: u64,
    /// After a bulk acceptance: how many were accepted and how many left.
    accepted: Option<usize>,
    left: u64,
}

impl ReviewsQuery {
    /// Unknown keys are ignored (a bookmarked URL from an older page still opens); a bad
    /// number is refused.
    fn parse(query: &str) -> Result<Self, WebError> {
        let mut q = Self::default();
        let number = |k: &str, v: &str| {
            v.parse::<u64>()
                .map_err(|_| WebError::bad_request(format!("`{k}` must be a number")))
        };
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "decided" => q.decided = number(&k, &v)?.try_into().unwrap_or(usize::MAX),
                "platform" => q.platform = v.into_owned(),
                "kind" => q.kind = v.into_owned(),
                "tier" => q.tier = v.into_owned(),
                "campaign" if !v.is_empty() => {
                    q.campaign = Some(i64::try_from(number(&k, &v)?).unwrap_or(i64::MAX));
                }
                "state" => q.state = v.into_owned(),
                "sort" => q.sort = v.into_owned(),
                "page" if !v.is_empty() => q.page = number(&k, &v)?,
                "accepted" => {
                    q.accepted = Some(number(&k, &v)?.try_into().unwrap_or(usize::MAX));
                }
                "left" => q.left = number(&k, &v)?,
                _ => {}
            }
        }
        Ok(q)
    }

    fn filter(&self) -> InboxFilter {
        let set = |v: &str| Some(v.to_owned()).filter(|v| !v.is_empty());
        InboxFilter {
            platform: set(&self.platform),
            kind: set(&self.kind),
            tier: set(&self.tier),
            campaign: self.campaign,
        }
    }

    /// The query string of this view (without the one-off `decided` notice), page `page`.
    fn to_query(&self, page: u64) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("platform", self.platform.as_str()),
            ("kind", self.kind.as_str()),
            ("tier", self.tier.as_str()),
            ("state", self.state.as_str()),
            ("sort", self.sort.as_str()),
        ] {
            if !v.is_empty() {
                out.append_pair(k, v);
            }
        }
        if let Some(c) = self.campaign {
            out.append_pair("campaign", &c.to_string());
        }
        if page > 1 {
            out.append_pair("page", &page.to_string());
        }
        out.finish()
    }
}

fn decision_kinds() -> Vec<(&'static str, &'static str)> {
    DecisionKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label()))
        .collect()
}

fn since_last(e: &roster_app::inbox::InboxEntry) -> String {
    match &e.since_last {
        None => "first review".into(),
        Some(s) if s.changes.is_empty() => {
            format!("{} in {}; nothing changed", s.outcome, s.campaign)
        }
        Some(s) => format!(
            "{} in {}; since: {}",
            s.outcome,
            s.campaign,
            s.changes.join("; ")
        ),
    }
}

/// GET /reviews: the signed-in person's items across open campaigns, a page at a time.
pub async fn reviews(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let query = ReviewsQuery::parse(req.query_string())?;
    let now = Utc::now();
    let item_state = match query.state.as_str() {
        "" | "pending" => ItemState::Pending,
        "decided" => ItemState::Decided,
        other => {
            return Err(WebError::bad_request(format!(
                "state `{other}`: pending or decided"
            )));
        }
    };
    let sort: InboxSort = query.sort.parse()?;
    let page = state
        .roster
        .inbox(
            &s.principal,
            &InboxRequest {
                filter: query.filter(),
                state: item_state,
                sort,
                page: query.page.max(1),
                per_page: INBOX_PAGE,
                now,
            },
        )
        .await?;
    // Past the end (the last items of the last page were decided): the last page that holds
    // any, not "nothing waits".
    if page.entries.is_empty() && page.total > 0 && query.page > 1 {
        let last = page.total.div_ceil(page.per_page);
        return Ok(see_other(&format!("/reviews?{}", query.to_query(last))));
    }
    let ids: Vec<i64> = page.entries.iter().map(|e| e.item.id).collect();
    let rows = page
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| InboxRow {
            item: item_row(&e.item),
            campaign: e.campaign.clone(),
            due: e.due_at.format("%Y-%m-%d").to_string(),
            overdue: e.due_at < now,
            finding: e
                .top_finding
                .as_ref()
                .map(|f| f.0.clone())
                .unwrap_or_else(|| "no findings".into()),
            finding_rule: e
                .top_finding
                .as_ref()
                .map(|f| f.1.clone())
                .unwrap_or_default(),
            more_findings: e.more_findings,
            last_use: e.last_use.clone(),
            privilege: e.snapshot.privilege.as_str().to_owned(),
            owner: e.owner.clone(),
            since_last: since_last(e),
            next: ids.get(i + 1).copied(),
            suggested: e
                .suggestion
                .decision
                .map(|d| d.as_str().to_owned())
                .unwrap_or_default(),
            suggestion_reason: e.suggestion.reason.clone(),
            suggestion_rule: e.suggestion.rule.clone(),
            bulk_acceptable: e.bulk_acceptable,
        })
        .collect();
    let current = query.page.max(1);
    let mine_total = page.mine.pending + page.mine.decided;
    let view = ReviewsPage {
        sample_banner: state.sample_banner,
        me: s.signed_in(),
        rows,
        decided: query.decided,
        kinds: decision_kinds(),
        sorts: InboxSort::ALL,
        filtered: query.filter().is_set(),
        f_platform: query.platform.clone(),
        f_kind: query.kind.clone(),
        f_tier: query.tier.clone(),
        f_sort: sort.as_str().to_owned(),
        f_state: item_state.as_str().to_owned(),
        here: query.to_query(current),
        first_page: query.to_query(1),
        prev_page: (current > 1).then(|| query.to_query(current - 1)),
        next_page: page.has_next().then(|| query.to_query(current + 1)),
        done_pct: (page.mine.decided * 100)
            .checked_div(mine_total)
            .unwrap_or(100),
        accepted: query.accepted.map(|a| (a, query.left)),
        inbox_limit: roster_app::campaigns::INBOX_LIMIT,
        page,
    };
    Ok(html(view.render()?))
}

pub struct DecisionRow {
    pub decision: String,
    pub actor: String,
    pub at: String,
    pub justification: String,
    pub detail: String,
    pub warnings: String,
}

fn decision_rows(ds: &[CampaignDecision]) -> Vec<DecisionRow> {
    ds.iter()
        .map(|d| DecisionRow {
            decision: d.decision.as_str().to_owned(),
            actor: d.actor.clone(),
            at: d.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            justification: d.justification.clone(),
            detail: match (&d.expires_on, &d.handed_to) {
                (Some(e), _) => format!("expires {e}"),
                (_, Some(to)) => format!("to {to}"),
                _ => String::new(),
            },
            warnings: serde_json::from_str::<Vec<roster_core::campaign::DecisionWarning>>(
                &d.warnings,
            )
            .map(|w| {
                w.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "review_item.html")]
struct ReviewItemPage {
    sample_banner: bool,
    me: SignedIn,
    item: CampaignItem,
    snap: InventoryItem,
    campaign: Campaign,
    decisions: Vec<DecisionRow>,
    /// What changed since the previous campaign, and the decision then.
    previous: Option<(String, Vec<String>, String)>,
    may_decide: bool,
    admin_decided: bool,
    keep_needs_justification: bool,
    kinds: Vec<(&'static str, &'static str)>,
    error: Option<String>,
    /// What the reviewer typed, kept when a decision is refused.
    typed: DecisionForm,
    last_use: String,
}

/// GET /reviews/{item}: the item as snapshotted, what changed, the decisions so far.
pub async fn review_item(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    render_item(&state, &s, path.into_inner(), None, DecisionForm::default()).await
}

async fn render_item(
    state: &AppState,
    s: &super::session::Session,
    id: i64,
    error: Option<String>,
    typed: DecisionForm,
) -> Result<HttpResponse, WebError> {
    let v = state.roster.review_item(&s.principal, id).await?;
    let page = ReviewItemPage {
        sample_banner: state.sample_banner,
        me: s.signed_in(),
        decisions: decision_rows(&v.decisions),
        may_decide: v.may_decide,
        admin_decided: v.admin_decided,
        keep_needs_justification: v
            .rules
            .keep_justification_from
            .is_some_and(|t| v.snapshot.tier >= t),
        kinds: decision_kinds(),
        last_use: roster_app::inbox::last_use(&v.snapshot, Utc::now()),
        item: v.item,
        snap: v.snapshot,
        campaign: v.campaign,
        previous: v.previous,
        error,
        typed,
    };
    Ok(html(page.render()?))
}

/// A decision as a form or JSON carries it. From the inbox's row, `back` is the inbox view
/// to return to and `next` the row after this one.
#[derive(Debug, Default, Clone, Deserialize, utoipa::ToSchema)]
pub struct DecisionForm {
    #[serde(default)]
    #[schema(value_type = DecisionKind)]
    decision: String,
    /// Why; required for a keep at or above the campaign's `keep_justification_from` tier.
    #[serde(default)]
    justification: String,
    /// For `set_expiry`: the day, `YYYY-MM-DD`.
    #[schema(format = Date)]
    expires_on: Option<String>,
    /// For `reassign` and `delegate`: the person who decides instead.
    to: Option<String>,
    /// The inbox page to return to (pages only).
    back: Option<String>,
    /// The inbox row after this one (pages only).
    next: Option<i64>,
    /// `1`: accept the item's suggestion instead (the other fields are ignored).
    accept: Option<String>,
    /// The suggested decision the reviewer saw, when accepting.
    expect: Option<String>,
}

/// The longest a person's name in a hand-over may be (an email address is at most 320).
const MAX_PERSON: usize = 320;

impl DecisionForm {
    fn input(&self) -> Result<DecisionInput, WebError> {
        let kind: DecisionKind = self
            .decision
            .parse()
            .map_err(|e: roster_core::ParseEnumError| WebError::bad_request(e.to_string()))?;
        let expires_on = self
            .expires_on
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d"))
            .transpose()
            .map_err(|_| WebError::bad_request("expires_on must be YYYY-MM-DD"))?;
        if self.justification.len() > 4000 {
            return Err(WebError::bad_request(
                "a justification is at most 4000 characters",
            ));
        }
        if self.to.as_deref().is_some_and(|t| t.len() > MAX_PERSON) {
            return Err(WebError::bad_request(format!(
                "the person who takes an item is at most {MAX_PERSON} characters"
            )));
        }
        Ok(DecisionInput {
            kind,
            justification: self.justification.clone(),
            expires_on,
            to: self.to.clone().filter(|t| !t.trim().is_empty()),
        })
    }

    pub fn decision(&self) -> &str {
        &self.decision
    }

    pub fn justification(&self) -> &str {
        &self.justification
    }

    pub fn expires_on(&self) -> &str {
        self.expires_on.as_deref().unwrap_or("")
    }

    pub fn to(&self) -> &str {
        self.to.as_deref().unwrap_or("")
    }

    /// The inbox view a row's decision came from, rebuilt from its known keys only (never a
    /// URL taken as given).
    fn back_to_inbox(&self) -> Option<String> {
        let back = self.back.as_deref()?;
        let q = ReviewsQuery::parse(back).ok()?;
        Some(q.to_query(q.page.max(1)))
    }
}

/// POST /reviews/{item}/decide: from the item's page, on to the next pending item ("save &
/// next"); from an inbox row, back to the same view at the row after it.
pub async fn decide(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: web::Form<DecisionForm>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    s.principal.require_review()?;
    let id = path.into_inner();
    let form = form.into_inner();
    let decided = if form.accept.as_deref() == Some("1") {
        let expect = form
            .expect
            .as_deref()
            .filter(|e| !e.is_empty())
            .map(str::parse::<DecisionKind>)
            .transpose()
            .map_err(|e| WebError::bad_request(e.to_string()))?;
        state
            .roster
            .accept_suggestions(&s.principal, &[id], false, expect, Utc::now())
            .await
            .and_then(|a| {
                a.decisions.into_iter().next().map(|_| ()).ok_or_else(|| {
                    AppError::Invalid("no rule suggests a decision for this item".into())
                })
            })
    } else {
        let input = form.input()?;
        state
            .roster
            .decide(&s.principal, &[id], &input, Utc::now())
            .await
            .map(|_| ())
    };
    match decided {
        Ok(_) => {
            if let Some(back) = form.back_to_inbox() {
                let sep = if back.is_empty() { "" } else { "&" };
                let anchor = form.next.map(|n| format!("#row-{n}")).unwrap_or_default();
                return Ok(see_other(&format!("/reviews?{back}{sep}decided=1{anchor}")));
            }
            match state.roster.next_pending(&s.principal).await? {
                Some(next) => Ok(see_other(&format!("/reviews/{next}?decided=1"))),
                None => Ok(see_other("/reviews?decided=1")),
            }
        }
        // A refused decision comes back to the form with the reason and what was typed.
        Err(AppError::Invalid(why) | AppError::Conflict(why)) => {
            let mut resp = render_item(&state, &s, id, Some(why), form).await?;
            *resp.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(e) => Err(e.into()),
    }
}

/// POST /reviews/decide: one decision over the selected items (repeated `item` fields), or
/// over every pending item the filtered inbox holds (`all=1`).
pub async fn decide_bulk(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    s.principal.require_review()?;
    let mut items = Vec::new();
    let mut all = false;
    let mut form = DecisionForm::default();
    let mut back = String::new();
    let mut accept = false;
    for (k, v) in url::form_urlencoded::parse(&body) {
        match k.as_ref() {
            "item" => items.push(
                v.parse::<i64>()
                    .map_err(|_| WebError::bad_request(format!("bad item `{v}`")))?,
            ),
            "decision" => form.decision = v.into_owned(),
            "justification" => form.justification = v.into_owned(),
            "expires_on" => form.expires_on = Some(v.into_owned()),
            "to" => form.to = Some(v.into_owned()),
            "all" => all = v == "1",
            "back" => back = v.into_owned(),
            "accept" => accept = v == "1",
            _ => {}
        }
    }
    let view = ReviewsQuery::parse(&back)?;
    if all {
        // Every item the filtered inbox holds, read again now.
        items = state
            .roster
            .inbox_items(&s.principal, &view.filter())
            .await?
            .iter()
            .map(|i| i.id)
            .collect();
    }
    let here = view.to_query(1);
    let sep = if here.is_empty() { "" } else { "&" };
    if accept {
        // Suggestions, only up to the policy's tier; what is left is counted on the page.
        let a = state
            .roster
            .accept_suggestions(&s.principal, &items, true, None, Utc::now())
            .await?;
        return Ok(see_other(&format!(
            "/reviews?{here}{sep}accepted={}&left={}",
            a.decisions.len(),
            a.above_tier + a.no_suggestion
        )));
    }
    let input = form.input()?;
    let done = state
        .roster
        .decide(&s.principal, &items, &input, Utc::now())
        .await?;
    Ok(see_other(&format!(
        "/reviews?{here}{sep}decided={}",
        done.len()
    )))
}

// ---- JSON API ----

fn json<T: serde::Serialize>(v: &T) -> Result<HttpResponse, WebError> {
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "no-store"))
        .body(serde_json::to_string(v).map_err(|e| WebError::internal(e.to_string()))?))
}

/// A campaign with its progress.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CampaignSummary {
    id: i64,
    name: String,
    status: roster_core::campaign::CampaignStatus,
    /// The inventory filter it reviews, as a query string.
    scope: String,
    launched_by: String,
    launched_at: chrono::DateTime<Utc>,
    due_at: chrono::DateTime<Utc>,
    items: i64,
    counts: roster_app::campaigns::ItemCounts,
    signed_off_by: Option<String>,
    closed_at: Option<chrono::DateTime<Utc>>,
    /// The audit trail's head hash when it closed.
    audit_hash_at_close: Option<String>,
}

/// Campaigns, newest first (at most 500), with their progress counts and, once closed, the
/// audit hash at close. Admins and auditors.
#[utoipa::path(
    tag = "campaigns",
    responses(
        (status = 200, description = "Campaigns", body = Vec<CampaignSummary>),
        Refused,
    ),
)]
#[get("/campaigns")]
pub async fn api_campaigns(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let mut out = Vec::new();
    for (c, counts) in state.roster.campaigns(&s.principal, 500).await? {
        out.push(CampaignSummary {
            id: c.id,
            name: c.name,
            status: c.status,
            scope: c.scope,
            launched_by: c.launched_by,
            launched_at: c.launched_at,
            due_at: c.due_at,
            items: c.item_count,
            counts,
            signed_off_by: c.signed_off_by,
            closed_at: c.closed_at,
            audit_hash_at_close: c.audit_hash_at_close,
        });
    }
    json(&out)
}

/// One campaign's evidence: its settings, counts, every item with its decisions, and the
/// remediation. Admins and auditors.
#[utoipa::path(
    tag = "campaigns",
    params(("id" = i64, Path, description = "The campaign's id")),
    responses(
        (status = 200, description = "The evidence", body = roster_app::campaigns::Evidence),
        RefusedOrMissing,
    ),
)]
#[get("/campaigns/{id}")]
pub async fn api_campaign(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    json(
        &state
            .roster
            .campaign_evidence(&s.principal, path.into_inner())
            .await?,
    )
}

/// An item waiting for the caller's decision.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PendingReview {
    item: i64,
    campaign: i64,
    record: roster_core::RecordId,
    name: String,
    #[schema(value_type = roster_core::Platform)]
    platform: String,
    #[schema(value_type = roster_core::Kind)]
    kind: String,
    /// The tier at launch.
    #[schema(value_type = roster_core::Tier)]
    tier: String,
    reviewer: String,
    /// The record as it was when the campaign launched: what the decision is about.
    snapshot: roster_core::InventoryItem,
}

/// The caller's pending items (riskiest first, at most 1000), with their snapshots. Reviewers
/// (admins and owners), not auditors.
#[utoipa::path(
    tag = "reviews",
    responses(
        (status = 200, description = "Pending items", body = Vec<PendingReview>),
        Refused,
    ),
)]
#[get("/reviews")]
pub async fn api_reviews(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    let items = state
        .roster
        .inbox_items(&s.principal, &InboxFilter::default())
        .await?;
    let mut out = Vec::with_capacity(items.len());
    for i in items {
        let snapshot = roster_app::campaigns::snapshot_of(&i)?;
        out.push(PendingReview {
            item: i.id,
            campaign: i.campaign_id,
            record: roster_core::RecordId(i.record_id),
            name: i.name,
            platform: i.platform,
            kind: i.kind,
            tier: i.tier,
            reviewer: i.reviewer,
            snapshot,
        });
    }
    json(&out)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AcceptForm {
    /// The suggested decision the caller saw: refused if the suggestion is another by now.
    expect: Option<String>,
}

/// Records the item's suggested decision, with the suggestion's reason as the justification
/// and its rule; 400 when no rule suggests one. Reviewers, not auditors.
#[utoipa::path(
    tag = "reviews",
    params(("item" = i64, Path, description = "The campaign item's id")),
    request_body(
        content((AcceptForm = "application/x-www-form-urlencoded")),
        description = "Optional: the suggestion the caller saw",
    ),
    responses(
        (status = 200, description = "The recorded decision", body = DecisionRecorded),
        RefusedOrMissing,
    ),
)]
#[post("/reviews/{item}/accept-suggestion")]
pub async fn api_accept_suggestion(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    form: Option<web::Form<AcceptForm>>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    s.principal.require_review()?;
    let expect = form
        .and_then(|f| f.into_inner().expect)
        .filter(|e| !e.is_empty())
        .map(|e| e.parse::<DecisionKind>())
        .transpose()
        .map_err(|e| WebError::bad_request(e.to_string()))?;
    let a = state
        .roster
        .accept_suggestions(
            &s.principal,
            &[path.into_inner()],
            false,
            expect,
            Utc::now(),
        )
        .await?;
    let d = a
        .decisions
        .first()
        .ok_or_else(|| WebError::bad_request("no rule suggests a decision for this item"))?;
    json(&decision_json(d))
}

/// A recorded decision.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct DecisionRecorded {
    id: i64,
    item: i64,
    decision: DecisionKind,
    actor: String,
    at: chrono::DateTime<Utc>,
    justification: String,
    /// What the reviewer was warned of and decided anyway (e.g. deciding on their own
    /// credential).
    warnings: serde_json::Value,
    /// The suggestion rule the decision accepted, if it was one.
    suggestion_rule: Option<String>,
}

fn decision_json(d: &CampaignDecision) -> DecisionRecorded {
    DecisionRecorded {
        id: d.id,
        item: d.item_id,
        decision: d.decision,
        actor: d.actor.clone(),
        at: d.at,
        justification: d.justification.clone(),
        warnings: serde_json::from_str(&d.warnings).unwrap_or_default(),
        suggestion_rule: d.suggestion_rule.clone(),
    }
}

/// Records a decision on one item (`decision`, `justification`, `expires_on`, `to`); answers
/// 200 only once the decision and its audit event are committed. Reviewers, not auditors.
#[utoipa::path(
    tag = "reviews",
    params(("item" = i64, Path, description = "The campaign item's id")),
    request_body(content(
        (DecisionForm = "application/json"),
        (DecisionForm = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "The recorded decision", body = DecisionRecorded),
        RefusedOrMissing,
    ),
)]
#[post("/reviews/{item}/decision")]
pub async fn api_decide(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<i64>,
    body: super::api::JsonOrForm<DecisionForm>,
) -> Result<HttpResponse, WebError> {
    let s = require_session(&req, &state)?;
    s.principal.require_review()?;
    let input = body.0.input()?;
    let saved = state
        .roster
        .decide(&s.principal, &[path.into_inner()], &input, Utc::now())
        .await?;
    let d = saved
        .first()
        .ok_or_else(|| WebError::internal("no decision recorded"))?;
    json(&decision_json(d))
}
