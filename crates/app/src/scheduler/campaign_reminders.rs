//! Reminders to reviewers with pending items, on the campaign's schedule relative to its due
//! date (e.g. 7, 3 and 1 days before), then daily once overdue with a copy to the fallback
//! reviewer (escalation). Each reminder is claimed in the database before it is sent, so it
//! goes out once however many servers run this job; a failed delivery gives the claim back.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::campaign::{self, Reminder};
use roster_store::audit::NewAuditEvent;
use roster_store::campaigns::Campaign;

use super::JobContext;

/// One message to one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReminderMessage {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub link: String,
}

/// Where reminders go (email, chat webhook).
#[async_trait]
pub trait ReminderChannel: Send + Sync {
    async fn deliver(&self, message: &ReminderMessage) -> Result<(), String>;
}

/// The configured `[notifications]` channels. A reminder counts as delivered only when every
/// channel took it; otherwise it is retried on the next run.
#[async_trait]
impl ReminderChannel for roster_notify::Notifier {
    async fn deliver(&self, m: &ReminderMessage) -> Result<(), String> {
        let report = self
            .send(&roster_notify::Notification {
                to: vec![m.to.clone()],
                subject: m.subject.clone(),
                text: m.text.clone(),
                link: Some(m.link.clone()),
            })
            .await;
        if report.all_delivered() {
            Ok(())
        } else {
            Err(format!("{report:?}"))
        }
    }
}

pub async fn run(ctx: &JobContext, now: DateTime<Utc>) {
    let open = match ctx.roster.store.open_campaigns().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "reminders: cannot read campaigns");
            return;
        }
    };
    // The overdue reminder first (it tells each reviewer, and copies the fallback reviewer),
    // then escalation moves the items, with or without a channel to tell anyone.
    if let Some(channel) = ctx.reminders.clone() {
        for c in &open {
            if let Err(e) = remind(ctx, &channel, c, now).await {
                tracing::error!(campaign = c.id, error = %e, "reminders failed");
            }
        }
    }
    for c in &open {
        if let Err(e) = escalate_overdue(ctx, c, now).await {
            tracing::error!(campaign = c.id, error = %e, "escalation failed");
        }
    }
}

/// Past its due date, a campaign under the escalate rule moves its pending items to the
/// fallback reviewer: they show in that person's inbox, marked escalated on the item.
pub async fn escalate_overdue(
    ctx: &JobContext,
    c: &Campaign,
    now: DateTime<Utc>,
) -> Result<u64, roster_store::StoreError> {
    if now < c.due_at || c.rules.close_out != campaign::CloseOut::Escalate {
        return Ok(0);
    }
    let to = c.rules.fallback_reviewer.clone();
    // Once per campaign: what the fallback reviewer hands on afterwards stays handed on.
    const ONCE: &str = "escalation:moved";
    if !ctx
        .roster
        .store
        .claim_reminder(c.id, &to, ONCE, now)
        .await?
    {
        return Ok(0);
    }
    let moved = ctx
        .roster
        .store
        .escalate_pending(
            c.id,
            &to,
            |n, from| NewAuditEvent {
                actor: "system:escalation".into(),
                action: "campaign.escalated".into(),
                target: None,
                detail: serde_json::json!({"campaign": c.id, "name": c.name, "items": n,
                                           "to": to, "from": from, "due_at": c.due_at}),
            },
            now,
        )
        .await;
    let moved = match moved {
        Ok(n) => n,
        Err(e) => {
            // Not done: the next run tries again.
            ctx.roster.store.release_reminder(c.id, &to, ONCE).await?;
            return Err(e);
        }
    };
    if moved > 0 {
        tracing::info!(
            campaign = c.id,
            items = moved,
            "overdue items escalated to the fallback reviewer"
        );
    }
    Ok(moved)
}

fn message(ctx: &JobContext, c: &Campaign, to: &str, pending: u64, r: Reminder) -> ReminderMessage {
    let link = format!("{}/reviews", ctx.public_url.trim_end_matches('/'));
    let due = c.due_at.format("%Y-%m-%d");
    let (subject, lead) = match r {
        Reminder::BeforeDue { days } => (
            format!(
                "[Roster] {pending} identities wait for your review: {} (due in {days} day(s))",
                c.name
            ),
            format!("Access review \"{}\" is due on {due}.", c.name),
        ),
        Reminder::Overdue { .. } => (
            format!(
                "[Roster] OVERDUE: {pending} identities wait for your review: {}",
                c.name
            ),
            match c.rules.close_out {
                campaign::CloseOut::Escalate
                    if !to.eq_ignore_ascii_case(&c.rules.fallback_reviewer) =>
                {
                    format!(
                        "Access review \"{}\" was due on {due} and is overdue: your items move to {} now.",
                        c.name, c.rules.fallback_reviewer
                    )
                }
                _ => format!(
                    "Access review \"{}\" was due on {due} and is overdue; IAM has been told.",
                    c.name
                ),
            },
        ),
    };
    ReminderMessage {
        to: to.to_owned(),
        subject,
        text: format!(
            "{lead}\n\n{pending} identit{} assigned to you still need a decision (keep, revoke, rotate, reduce scope, set expiry, reassign or delegate).",
            if pending == 1 { "y is" } else { "ies are" }
        ),
        link,
    }
}

async fn send_once(
    ctx: &JobContext,
    channel: &Arc<dyn ReminderChannel>,
    c: &Campaign,
    key: &str,
    m: ReminderMessage,
    now: DateTime<Utc>,
) -> Result<(), roster_store::StoreError> {
    if !ctx
        .roster
        .store
        .claim_reminder(c.id, &m.to, key, now)
        .await?
    {
        return Ok(());
    }
    // A reviewer known only by a login or team name cannot be mailed: said once, not retried.
    if !m.to.contains('@') {
        tracing::warn!(campaign = c.id, reviewer = %m.to, "reviewer has no email address; reminder not sent");
        return Ok(());
    }
    match channel.deliver(&m).await {
        Ok(()) => {
            ctx.roster
                .store
                .append_audit(
                    NewAuditEvent {
                        actor: format!("scheduler:{}", ctx.holder),
                        action: "campaign.reminder".into(),
                        target: None,
                        detail: serde_json::json!({"campaign": c.id, "to": m.to, "reminder": key}),
                    },
                    now,
                )
                .await?;
        }
        Err(e) => {
            tracing::warn!(campaign = c.id, to = %m.to, error = %e, "reminder not delivered; retried next run");
            ctx.roster.store.release_reminder(c.id, &m.to, key).await?;
        }
    }
    Ok(())
}

async fn remind(
    ctx: &JobContext,
    channel: &Arc<dyn ReminderChannel>,
    c: &Campaign,
    now: DateTime<Utc>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let Some(reminder) = campaign::reminder_due(&c.rules, c.launched_at, c.due_at, now) else {
        return Ok(());
    };
    let key = reminder.key();
    for (reviewer, pending) in ctx.roster.store.pending_reviewers(c.id).await? {
        let m = message(ctx, c, &reviewer, pending, reminder);
        send_once(ctx, channel, c, &key, m, now).await?;
        if reminder.escalates() && !reviewer.eq_ignore_ascii_case(&c.rules.fallback_reviewer) {
            let mut m = message(ctx, c, &c.rules.fallback_reviewer, pending, reminder);
            m.subject = format!(
                "[Roster] ESCALATION: {reviewer} has {pending} overdue review(s) in {}",
                c.name
            );
            m.text = format!(
                "{reviewer} has not decided {pending} item(s) of \"{}\", due {}. You are its fallback reviewer: follow up, or decide them yourself as an admin.",
                c.name,
                c.due_at.format("%Y-%m-%d"),
            );
            m.link = format!(
                "{}/campaigns/{}",
                ctx.public_url.trim_end_matches('/'),
                c.id
            );
            send_once(
                ctx,
                channel,
                c,
                &format!("{key}:escalation:{reviewer}"),
                m,
                now,
            )
            .await?;
        }
    }
    Ok(())
}
