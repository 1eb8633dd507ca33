//! The inventory's use-cases: pages, exports, one identity with its context, claims, and the
//! governance reads (dashboard summaries, sync runs and coverage). Each reads as the principal
//! may see: an owner's view is restricted by [`Principal::visible_filter`].

use chrono::{DateTime, Utc};
use roster_core::{InventoryItem, RecordId};
use roster_store::audit::NewAuditEvent;
use roster_store::campaigns::{CampaignDecision, CampaignItem};

use crate::Roster;
use crate::access::{Ownership, Principal};
use crate::error::AppError;
use crate::inventory_view::{InventoryQuery, InventoryReader};
use crate::scope::{Cursor, Scope, Sort};

/// One identity or credential with what its page shows around it.
pub struct IdentityView {
    pub item: InventoryItem,
    pub parent: Option<InventoryItem>,
    pub children: Vec<InventoryItem>,
    /// (sync run, when, what changed), oldest first, starting with "first seen".
    pub timeline: Vec<(i64, Option<DateTime<Utc>>, String)>,
    /// Ownership claims from the audit trail: (when, who, detail JSON).
    pub claims: Vec<(DateTime<Utc>, String, String)>,
    /// The review history, latest campaign first: each item with its campaign's name.
    pub reviews: Vec<(String, CampaignItem, Vec<CampaignDecision>)>,
    pub can_claim: bool,
    pub can_name_owner: bool,
    /// Who can assume it, for a role with a trust policy (AWS).
    pub trust: Option<TrustView>,
    /// The remediation its connector offers, for those who may remediate.
    pub remediation: Option<crate::remediate::RemediationOffer>,
    /// Exception requests on it, and whether the principal may ask for one.
    pub exceptions: crate::exception_requests::RecordExceptions,
}

/// A role's trust policy: who can assume it in plain words, and the document as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustView {
    /// Per trusted CI issuer: the issuer and who can assume the role through it.
    pub ci: Vec<(String, Vec<String>)>,
    /// Who in AWS can assume it, in plain words with the conditions that confine them
    /// ("any AWS principal, confined to organisation o-…").
    pub aws: Vec<String>,
    /// Other principals trusted (services, other federations; AWS principals too when the
    /// connector did not put them in words), as written.
    pub others: Vec<String>,
    /// The policy document, pretty-printed.
    pub document: String,
}

impl TrustView {
    /// From a record's stored `raw` (the AWS connector's `trust`: document, ci, other_principals).
    pub fn of_raw(raw: &str) -> Option<TrustView> {
        let raw: serde_json::Value = serde_json::from_str(raw).ok()?;
        let trust = raw.get("trust").filter(|t| t.is_object())?;
        let strings = |v: Option<&serde_json::Value>| -> Vec<String> {
            v.and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let ci = trust
            .get("ci")
            .and_then(|c| c.as_array())
            .map(|a| {
                a.iter()
                    .map(|c| {
                        let issuer = c["issuer"].as_str().unwrap_or("?").to_owned();
                        let mut who = strings(c.get("who"));
                        if c["unusable"].as_bool() == Some(true) {
                            who.push("nobody: no token can satisfy these conditions".into());
                        }
                        (issuer, who)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let document = match trust.get("document") {
            // The AWS connector keeps the document's text (URL-decoded): shown indented when
            // it is JSON, as it is otherwise.
            Some(serde_json::Value::String(text)) => {
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(d) => serde_json::to_string_pretty(&d).unwrap_or_else(|_| text.clone()),
                    Err(_) => text.clone(),
                }
            }
            Some(d) if !d.is_null() => serde_json::to_string_pretty(d).unwrap_or_default(),
            _ => trust
                .get("error")
                .and_then(|e| e.as_str())
                .map(|e| format!("(the document did not parse: {e})"))
                .unwrap_or_default(),
        };
        let aws = strings(trust.get("aws"));
        let mut others = strings(trust.get("other_principals"));
        if !aws.is_empty() {
            // Said in words above: not again as written.
            others.retain(|o| !o.starts_with("AWS: ") && !o.starts_with("anyone: "));
        }
        Some(TrustView {
            ci,
            aws,
            others,
            document,
        })
    }
}

/// One sync run's row as the sync-runs page lists it.
pub use roster_store::entity::listing::Model as Listing;
pub use roster_store::entity::sync_run::Model as SyncRun;

impl Roster {
    /// A reader of the inventory with the evaluation context of the store's current state.
    pub(crate) async fn reader(&self) -> Result<InventoryReader<'_>, AppError> {
        let ctx = self.contexts.get(&self.store).await?;
        Ok(InventoryReader::with_context(
            &self.store,
            &self.policy,
            ctx,
        ))
    }

    /// Whether stored evaluations may narrow a read at `as_of`: they were made with the policy
    /// in effect and the moment asked about is not before now.
    pub async fn stored_evaluations_hold(
        &self,
        as_of: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, AppError> {
        Ok(as_of >= now
            && self.store.evaluations_policy_hash().await?.as_deref()
                == Some(self.policy_hash.as_str()))
    }

    /// The query of `scope` evaluated now, as `p` may see it. The server marks stored
    /// evaluations made under another policy due when it starts, so they can narrow the read.
    pub fn scope_query(&self, p: &Principal, scope: &Scope, now: DateTime<Utc>) -> InventoryQuery {
        let mut q = scope.query_at(now);
        q.trust_stored = true;
        q.filter.visible_to = p.visible_filter();
        q
    }

    /// How many records `scope` holds as `p` may see it, now (up to a bound); `None` when that
    /// cannot be counted without evaluating every record (see [`InventoryReader::count`]).
    pub async fn inventory_total(
        &self,
        p: &Principal,
        scope: &Scope,
        now: DateTime<Utc>,
    ) -> Result<Option<crate::inventory_view::Total>, AppError> {
        let q = self.scope_query(p, scope, now);
        Ok(self.reader().await?.count(&q).await?)
    }

    /// One page of `scope` as `p` may see it, and the cursor of the next (`None` at the end).
    pub async fn inventory_page(
        &self,
        p: &Principal,
        scope: &Scope,
        limit: usize,
        now: DateTime<Utc>,
    ) -> Result<(Vec<InventoryItem>, Option<Cursor>), AppError> {
        let q = self.scope_query(p, scope, now);
        self.query_page(p, &q, scope.sort, scope.after, limit).await
    }

    /// One page of a query the face built (the CLI has filters no URL carries), restricted to
    /// what `p` may see.
    pub async fn query_page(
        &self,
        p: &Principal,
        q: &InventoryQuery,
        sort: Sort,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<(Vec<InventoryItem>, Option<Cursor>), AppError> {
        let mut q = q.clone();
        if let Some(me) = p.visible_filter() {
            q.filter.visible_to = Some(me);
        }
        let reader = self.reader().await?;
        match sort {
            Sort::Risk => {
                let after = match after {
                    Some(Cursor::Risk(t, id)) => Some((t, id)),
                    Some(Cursor::Id(_)) => {
                        return Err(AppError::Invalid("an id cursor for sort=risk".into()));
                    }
                    None => None,
                };
                let (items, next) = reader.page_by_risk(&q, after, limit).await?;
                Ok((items, next.map(|(t, id)| Cursor::Risk(t, id))))
            }
            Sort::Id => {
                let after = match after {
                    Some(Cursor::Id(id)) => Some(id),
                    Some(Cursor::Risk(..)) => {
                        return Err(AppError::Invalid("a risk cursor for sort=id".into()));
                    }
                    None => None,
                };
                let (items, next) = reader.page(&q, after, limit).await?;
                Ok((items, next.map(Cursor::Id)))
            }
        }
    }

    /// One record evaluated now, if `p` may see it.
    pub async fn record(
        &self,
        p: &Principal,
        id: RecordId,
        now: DateTime<Utc>,
    ) -> Result<InventoryItem, AppError> {
        let reader = self.reader().await?;
        let item = reader.evaluate(self.store.record(id.0).await?, now)?;
        p.require_visible(Ownership::of(&item, None))?;
        Ok(item)
    }

    /// One identity or credential with its parent, credentials, history, claims and reviews.
    pub async fn identity(
        &self,
        p: &Principal,
        id: RecordId,
        now: DateTime<Utc>,
    ) -> Result<IdentityView, AppError> {
        let reader = self.reader().await?;
        let row = self.store.record(id.0).await?;
        let trust = TrustView::of_raw(&row.raw);
        let item = reader.evaluate(row, now)?;
        p.require_visible(Ownership::of(&item, None))?;
        let parent = match item.parent_id {
            Some(pid) => match self.store.record(pid.0).await {
                Ok(row) => Some(reader.evaluate(row, now)?),
                Err(roster_store::StoreError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            None => None,
        };
        // Who may claim is decided on the whole record; what is shown of its parent and
        // credentials, only as far as the principal may see them.
        let can_claim = p.can_claim(Ownership::of(&item, parent.as_ref()));
        let exceptions = self
            .record_exceptions(p, &item, Ownership::of(&item, parent.as_ref()), now)
            .await?;
        let remediation = self
            .remediation_offer(p, &item.connector, &item.resource_type)
            .await;
        let parent = parent.filter(|pi| p.visible(Ownership::of(pi, None)));
        let children = self
            .store
            .children(id.0)
            .await?
            .into_iter()
            .map(|row| reader.evaluate(row, now))
            .filter(|c| {
                c.as_ref()
                    .map_or(true, |c| p.visible(Ownership::of(c, None)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let runs: std::collections::HashMap<i64, DateTime<Utc>> = self
            .store
            .recent_sync_runs(1000)
            .await?
            .into_iter()
            .map(|r| (r.id, r.started_at))
            .collect();
        let mut timeline = vec![(
            item.first_seen_run,
            runs.get(&item.first_seen_run).copied(),
            "first seen".to_owned(),
        )];
        timeline.extend(
            self.store
                .record_timeline(id.0)
                .await?
                .into_iter()
                .map(|h| (h.sync_run_id, Some(h.at), h.change)),
        );
        let claims = self
            .store
            .audit_events_for(&id.to_string(), "ownership.claim")
            .await?
            .into_iter()
            .map(|e| (e.at, e.actor, e.detail))
            .collect();
        let mut names: std::collections::HashMap<i64, String> = Default::default();
        let mut reviews = Vec::new();
        for (ci, decisions) in self.store.record_reviews(id.0, 20).await? {
            if !names.contains_key(&ci.campaign_id) {
                let c = self.store.campaign(ci.campaign_id).await?;
                names.insert(c.id, c.name);
            }
            let name = names.get(&ci.campaign_id).cloned().unwrap_or_default();
            reviews.push((name, ci, decisions));
        }
        Ok(IdentityView {
            can_claim,
            can_name_owner: p.can_name_owner(),
            trust,
            remediation,
            exceptions,
            item,
            parent,
            children,
            timeline,
            claims,
            reviews,
        })
    }

    /// Records an ownership claim: the policy decides who may be named; the record must
    /// exist; an owner may not take over what someone else owns (the record, its identity, or
    /// an earlier claim). The claim and its audit event commit in one transaction. Returns the
    /// owner claimed, and the owner the record keeps when one comes before claims.
    pub async fn claim(
        &self,
        p: &Principal,
        id: RecordId,
        owner: Option<&str>,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<Claimed, AppError> {
        if note.len() > 4000 {
            return Err(AppError::Invalid(
                "a note is at most 4000 characters".into(),
            ));
        }
        let row = self.store.record(id.0).await?;
        let mut claims = if p.can_name_owner() {
            Default::default()
        } else {
            self.store.ownership_claims().await?
        };
        let current = row
            .owner
            .clone()
            .or_else(|| claims.remove(&id.0).map(|c| c.owner));
        let parent_owner = match row.parent_id {
            Some(pid) if !p.can_name_owner() => {
                let parent = self.store.record(pid).await?;
                parent
                    .owner
                    .clone()
                    .or_else(|| claims.remove(&pid).map(|c| c.owner))
            }
            _ => None,
        };
        let owner = p.claim_owner(
            owner,
            Ownership {
                owner: current.as_deref(),
                parent_owner: parent_owner.as_deref(),
            },
        )?;
        if owner.is_empty() || owner.len() > 320 {
            return Err(AppError::Invalid(
                "an owner is a person or team of 1 to 320 characters".into(),
            ));
        }
        let by = p.actor();
        self.store
            .claim_ownership_audited(
                id.0,
                &owner,
                &by,
                note,
                NewAuditEvent {
                    actor: by.clone(),
                    action: "ownership.claim".into(),
                    target: Some(id.to_string()),
                    detail: serde_json::json!({"owner": owner, "note": note, "record": row.name}),
                },
                now,
            )
            .await?;
        Ok(Claimed {
            owner,
            name: row.name,
            kept: row.owner.map(|o| (o, row.owner_source.unwrap_or_default())),
        })
    }

    /// The latest sync runs with their stored summaries, newest first (the dashboard).
    pub async fn run_summaries(
        &self,
        p: &Principal,
        runs: u64,
    ) -> Result<Vec<(SyncRun, serde_json::Value)>, AppError> {
        p.require_governance("the dashboard is for admins and auditors")?;
        Ok(self.store.run_summaries(runs).await?)
    }

    /// The latest sync runs and every listing's coverage (the sync-runs page).
    pub async fn sync_runs(
        &self,
        p: &Principal,
        runs: u64,
    ) -> Result<(Vec<SyncRun>, Vec<Listing>), AppError> {
        p.require_governance("sync runs are for admins and auditors")?;
        Ok((
            self.store.recent_sync_runs(runs).await?,
            self.store.listings().await?,
        ))
    }
}

/// What a claim recorded.
pub struct Claimed {
    pub owner: String,
    /// The record's name.
    pub name: String,
    /// The owner the record keeps (with its source) because it comes before claims.
    pub kept: Option<(String, String)>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::TrustView;

    /// The AWS connector's stored trust: who can assume the role per issuer (an unusable
    /// condition said so), other principals as written, the document pretty-printed; a record
    /// without one has none, and a document that did not parse says so.
    #[test]
    fn a_role_s_trust_in_words_and_as_stored() {
        let raw = serde_json::json!({"trust": {
            "document": "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\"}]}",
            "ci": [
                {"issuer": "https://token.actions.githubusercontent.com", "ci": "github",
                 "who": ["any repository of `acme`"], "unusable": false},
                {"issuer": "https://gitlab.com", "ci": "gitlab", "who": [], "unusable": true}
            ],
            "other_principals": ["AWS: arn:aws:iam::444455556666:root"]
        }});
        let t = TrustView::of_raw(&raw.to_string()).unwrap();
        assert_eq!(
            t.ci,
            vec![
                (
                    "https://token.actions.githubusercontent.com".to_owned(),
                    vec!["any repository of `acme`".to_owned()]
                ),
                (
                    "https://gitlab.com".to_owned(),
                    vec!["nobody: no token can satisfy these conditions".to_owned()]
                ),
            ]
        );
        assert_eq!(t.others, vec!["AWS: arn:aws:iam::444455556666:root"]);
        assert!(
            t.document.contains("\"Version\": \"2012-10-17\""),
            "{}",
            t.document
        );
        assert_eq!(TrustView::of_raw(r#"{"id": "k"}"#), None);
        assert_eq!(TrustView::of_raw("not json"), None);
        let broken = TrustView::of_raw(r#"{"trust": {"error": "bad JSON"}}"#).unwrap();
        assert!(broken.document.contains("did not parse: bad JSON"));
    }

    /// AWS principals in words replace the same principals as written; services stay.
    #[test]
    fn aws_principals_are_shown_in_words_once() {
        let raw = serde_json::json!({"trust": {
            "document": "{}",
            "ci": [],
            "aws": ["any AWS principal, confined to organisation o-acme123456"],
            "other_principals": ["anyone: *", "AWS: *", "Service: ec2.amazonaws.com"]
        }});
        let t = TrustView::of_raw(&raw.to_string()).unwrap();
        assert_eq!(
            t.aws,
            vec!["any AWS principal, confined to organisation o-acme123456"]
        );
        assert_eq!(t.others, vec!["Service: ec2.amazonaws.com"]);
    }
}
