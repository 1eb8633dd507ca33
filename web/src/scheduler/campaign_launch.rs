//! A `[[campaigns]]` definition's scheduled launch.

use chrono::{DateTime, Utc};

use super::JobContext;
use crate::campaigns;

pub async fn run(ctx: &JobContext, definition: &str, now: DateTime<Utc>) {
    let Some(def) = ctx.config.campaigns.iter().find(|d| d.name == definition) else {
        return;
    };
    let request = match crate::cli::campaign::definition_request(def, now) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(definition, error = %e, "scheduled campaign: bad definition");
            return;
        }
    };
    let actor = format!("scheduler:{}", ctx.holder);
    match campaigns::launch(&ctx.store, &ctx.policy, request, &actor, now).await {
        Ok(c) => tracing::info!(
            definition,
            campaign = c.id,
            items = c.item_count,
            "scheduled campaign launched"
        ),
        Err(e) => tracing::error!(definition, error = %e, "scheduled campaign launch failed"),
    }
}
