//! Suggested decisions on review items (the rules are `roster_core::suggestion`'s, set in the
//! policy file), and accepting them: one at a time from the row, or in bulk for items at or
//! below the policy's `accept_suggestions_up_to` tier. An accepted suggestion is an ordinary
//! decision whose justification is the suggestion's reason, recorded with the rule that made it.

use chrono::{DateTime, Utc};
use roster_core::InventoryItem;
use roster_core::campaign::{DecisionInput, DecisionKind};
use roster_core::suggestion::{self, Suggestion, SuggestionContext};

use crate::Roster;
use crate::access::Principal;
use crate::campaigns::{CampaignDecision, CampaignItem, ItemDecision, decide_each, snapshot_of};
use crate::error::AppError;

/// What a bulk acceptance did.
#[derive(Debug, Clone, Default)]
pub struct Accepted {
    pub decisions: Vec<CampaignDecision>,
    /// Left for the reviewer: above the tier bulk acceptance stops at.
    pub above_tier: u64,
    /// Left for the reviewer: no rule suggests a decision.
    pub no_suggestion: u64,
}

/// The justification an accepted suggestion records.
pub fn accepted_reason(s: &Suggestion) -> String {
    format!("suggestion accepted: {}", s.reason)
}

impl Roster {
    /// The suggestion for `item` (snapshotted as `snap`) at `now`, given how the same record's
    /// last review ended.
    pub(crate) fn suggestion(
        &self,
        snap: &InventoryItem,
        previously: Option<(DecisionKind, &str)>,
        now: DateTime<Utc>,
    ) -> Suggestion {
        suggestion::suggest(
            &self.policy.suggestions,
            snap,
            &SuggestionContext { previously, now },
        )
    }

    async fn suggestion_for_item(
        &self,
        item: &CampaignItem,
        now: DateTime<Utc>,
    ) -> Result<Suggestion, AppError> {
        let snap = snapshot_of(item)?;
        let previous = match item.previous_item_id {
            Some(prev) => {
                let prev = self.store.campaign_item(prev).await?;
                match prev.decision {
                    Some(d) => Some((d, self.store.campaign(prev.campaign_id).await?.name)),
                    None => None,
                }
            }
            None => None,
        };
        Ok(self.suggestion(&snap, previous.as_ref().map(|(d, n)| (*d, n.as_str())), now))
    }

    /// Accepts the suggestion on each of `item_ids`; with `bulk`, only for items at or below
    /// the policy's tier (the rest are left and counted). `expect`: the decision the reviewer
    /// saw suggested; if the suggestion is another by now (time passed, the policy changed),
    /// nothing is recorded. One transaction.
    pub async fn accept_suggestions(
        &self,
        p: &Principal,
        item_ids: &[i64],
        bulk: bool,
        expect: Option<DecisionKind>,
        now: DateTime<Utc>,
    ) -> Result<Accepted, AppError> {
        p.require_review()?;
        if item_ids.is_empty() {
            return Err(AppError::Invalid("select at least one item".into()));
        }
        if item_ids.len() as u64 > crate::campaigns::INBOX_LIMIT {
            return Err(AppError::Invalid(format!(
                "at most {} items at once",
                crate::campaigns::INBOX_LIMIT
            )));
        }
        let mut out = Accepted::default();
        let mut each = Vec::new();
        for &id in item_ids {
            let item = self.store.campaign_item(id).await?;
            p.require_view_item(&item)?;
            let s = self.suggestion_for_item(&item, now).await?;
            if let Some(want) = expect
                && s.decision != Some(want)
            {
                return Err(AppError::Conflict(format!(
                    "the suggestion for item {id} is now {}: look again",
                    s.decision.map_or("to decide by hand", DecisionKind::as_str)
                )));
            }
            let Some(kind) = s.decision else {
                out.no_suggestion += 1;
                continue;
            };
            let tier: roster_core::Tier = item
                .tier
                .parse()
                .map_err(|e: roster_core::ParseEnumError| AppError::Internal(e.to_string()))?;
            if bulk && !suggestion::bulk_acceptable(tier, self.policy.accept_suggestions_up_to) {
                out.above_tier += 1;
                continue;
            }
            each.push(ItemDecision {
                item: id,
                input: DecisionInput {
                    kind,
                    justification: accepted_reason(&s),
                    expires_on: None,
                    to: None,
                },
                suggestion_rule: Some(s.rule),
            });
        }
        if !each.is_empty() {
            out.decisions = decide_each(&self.store, p.decider(), each, now).await?;
        }
        Ok(out)
    }
}
