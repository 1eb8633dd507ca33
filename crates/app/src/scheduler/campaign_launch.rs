//! A `[[campaigns]]` definition's scheduled launch.

use chrono::{DateTime, Utc};

use super::JobContext;
use crate::access::Principal;

pub async fn run(ctx: &JobContext, definition: &str, now: DateTime<Utc>) {
    let request = match ctx.roster.definition_request(definition, now) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(definition, error = %e, "scheduled campaign: bad definition");
            return;
        }
    };
    // The scheduler launches as IAM would, under its own name.
    let scheduler = Principal::cli(format!("scheduler:{}", ctx.holder));
    match ctx.roster.launch_campaign(&scheduler, request, now).await {
        Ok(c) => tracing::info!(
            definition,
            campaign = c.id,
            items = c.item_count,
            "scheduled campaign launched"
        ),
        Err(e) => tracing::error!(definition, error = %e, "scheduled campaign launch failed"),
    }
}
