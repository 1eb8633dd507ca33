//! The dashboard: the latest sync run's summary (counts that click through to the filtered
//! inventory, and plots), plus the trend across runs. Admins and auditors; an owner is sent to
//! their own identities.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use roster_core::Tier;

use super::AppState;
use super::charts::{BarChart, CHART_WIDTH, LINE_HEIGHT, LineChart, StackChart};
use super::error::WebError;
use super::session::{SignedIn, require_session};
use roster_app::summary::{AGE_BUCKETS, InventorySummary, LAST_USED_BUCKETS, tier_index};

/// Runs shown in the trend plot.
const TREND_RUNS: u64 = 20;

pub struct Tile {
    pub label: &'static str,
    pub value: u64,
    pub href: String,
    pub class: &'static str,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    sample_banner: bool,
    me: SignedIn,
    run: Option<(i64, String, String)>,
    total: u64,
    identities: u64,
    credentials: u64,
    tiles: Vec<Tile>,
    tier_tiles: Vec<Tile>,
    by_platform: StackChart,
    bar_charts: Vec<BarChart>,
    trend: Option<LineChart>,
    chart_width: u32,
    line_height: u32,
}

fn tier_class(t: Tier) -> &'static str {
    match t {
        Tier::Critical => "fill-critical",
        Tier::High => "fill-high",
        Tier::Medium => "fill-medium",
        Tier::Low => "fill-low",
    }
}

const TIERS: [Tier; 4] = [Tier::Critical, Tier::High, Tier::Medium, Tier::Low];

pub async fn dashboard(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebError> {
    let session = require_session(&req, &state)?;
    // Owners have no dashboard: their start page is what they own.
    if !session.principal.can_see_everything() {
        return Ok(HttpResponse::SeeOther()
            .insert_header(("Location", "/my"))
            .finish());
    }
    let runs = state
        .roster
        .run_summaries(&session.principal, TREND_RUNS)
        .await?;
    let latest = runs.first();
    let summary: InventorySummary = latest
        .and_then(|(_, v)| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    let run = latest.map(|(r, _)| {
        (
            r.id,
            r.finished_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default(),
            r.status.clone(),
        )
    });

    let tile = |t: roster_app::summary::SummaryTile, class: &'static str| Tile {
        label: t.label,
        value: t.value,
        href: format!("/inventory?{}", t.query),
        class,
    };
    let tiles = summary
        .attention_tiles()
        .into_iter()
        .map(|t| tile(t, ""))
        .collect();
    let tier_tiles = summary
        .tier_tiles()
        .into_iter()
        .map(|t| {
            let class = t.label;
            tile(t, class)
        })
        .collect();

    let by_platform = StackChart::new(
        "Tier by platform",
        summary
            .by_platform
            .iter()
            .map(|(platform, counts)| {
                (
                    platform.clone(),
                    TIERS
                        .iter()
                        .map(|t| {
                            (
                                t.as_str().to_owned(),
                                counts[tier_index(*t)],
                                tier_class(*t),
                                Some(format!(
                                    "/inventory?platform={platform}&tier={}",
                                    t.as_str()
                                )),
                            )
                        })
                        .collect(),
                )
            })
            .collect(),
    );
    let credential_age = BarChart::new(
        "Credentials by age",
        AGE_BUCKETS
            .iter()
            .map(|(_, l)| (*l).to_owned())
            .chain(["unknown".to_owned()])
            .zip(summary.credential_age.iter().copied())
            .map(|(l, v)| (l, v, "fill-accent", None)),
    );
    let last_used = BarChart::new(
        "Last used",
        LAST_USED_BUCKETS
            .iter()
            .map(|(_, l)| ((*l).to_owned(), "fill-accent", None))
            .chain([
                (
                    "never used".to_owned(),
                    "fill-high",
                    Some("/inventory?rule=usage.never_used".to_owned()),
                ),
                (
                    "no usage data".to_owned(),
                    "fill-muted",
                    Some("/inventory?rule=usage.no_data".to_owned()),
                ),
                // New within the grace period, or not live: nothing to judge yet.
                ("no last use yet".to_owned(), "fill-muted", None),
            ])
            .zip(summary.last_used.iter().copied())
            .map(|((l, class, href), v)| (l, v, class, href)),
    );

    // Oldest first, for the plot.
    let mut points: Vec<(String, InventorySummary)> = runs
        .iter()
        .filter_map(|(r, v)| {
            Some((
                format!("#{}", r.id),
                serde_json::from_value(v.clone()).ok()?,
            ))
        })
        .collect();
    points.reverse();
    let trend = (points.len() >= 2).then(|| {
        let labels: Vec<String> = points.iter().map(|(l, _)| l.clone()).collect();
        LineChart::new(
            "Across sync runs",
            &labels,
            vec![
                (
                    "all",
                    "line-total",
                    points.iter().map(|(_, s)| s.total()).collect(),
                ),
                (
                    "critical + high",
                    "line-high",
                    points
                        .iter()
                        .map(|(_, s)| s.tiers[0] + s.tiers[1])
                        .collect(),
                ),
                (
                    "stale",
                    "line-stale",
                    points.iter().map(|(_, s)| s.stale).collect(),
                ),
            ],
        )
    });

    let page = DashboardPage {
        sample_banner: state.sample_banner,
        me: session.signed_in(),
        run,
        total: summary.total(),
        identities: summary.identities,
        credentials: summary.credentials,
        tiles,
        tier_tiles,
        by_platform,
        bar_charts: vec![credential_age, last_used],
        trend,
        chart_width: CHART_WIDTH,
        line_height: LINE_HEIGHT,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(page.render()?))
}
