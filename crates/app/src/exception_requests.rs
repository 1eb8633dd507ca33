//! Exception requests: the record's owner (or an admin) asks that a current finding be accepted
//! until a date, for a reason; an admin approves or rejects it. Exceptions are policy as code,
//! so an approval changes no evaluation: it hands out the `[[exceptions]]` block to add to the
//! policy file, naming exactly the record (platform, scope, external id), and the request reads
//! "in effect" once the loaded policy carries a matching exception. The request and each
//! decision commit with their audit event.

use chrono::{DateTime, Days, NaiveDate, Utc};
use roster_core::exception_request::{
    ExceptionRequestState, MAX_EXCEPTION_DAYS, RequestProblem, check_decision, check_request,
};
use roster_core::policy::{Exception, ExpiryDate};
use roster_core::{InventoryItem, Platform, RecordId};
use roster_store::audit::NewAuditEvent;
use roster_store::exception_requests::NewExceptionRequest;
use serde_json::json;

pub use roster_store::exception_requests::ExceptionRequest;

use crate::Roster;
use crate::access::{Ownership, Principal};
use crate::error::AppError;

/// How many requests the list shows at most.
pub const LIST_LIMIT: u64 = 500;

/// What a request asks.
#[derive(Debug, Clone)]
pub struct ExceptionAsk<'a> {
    /// A rule among the record's current findings.
    pub rule: &'a str,
    pub reason: &'a str,
    /// The last day the exception would apply (UTC).
    pub expires: NaiveDate,
}

/// Where an approved request stands against the policy in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Waiting for an admin.
    Proposed,
    Rejected,
    /// Approved, and the loaded policy holds an exception covering the rule on the record.
    InEffect,
    /// Approved, but the policy file does not carry it yet.
    AwaitingPolicy,
    /// Approved, and its expiry has passed.
    Expired,
}

impl Standing {
    pub fn label(self) -> &'static str {
        match self {
            Standing::Proposed => "proposed",
            Standing::Rejected => "rejected",
            Standing::InEffect => "in effect",
            Standing::AwaitingPolicy => "approved — add it to the policy file",
            Standing::Expired => "approved — expired",
        }
    }

    /// A CSS-friendly word.
    pub fn key(self) -> &'static str {
        match self {
            Standing::Proposed => "proposed",
            Standing::Rejected => "rejected",
            Standing::InEffect => "in-effect",
            Standing::AwaitingPolicy => "awaiting-policy",
            Standing::Expired => "expired",
        }
    }
}

/// A request with where it stands and, once approved, the policy block that makes it so.
#[derive(Debug, Clone)]
pub struct ExceptionRequestView {
    pub request: ExceptionRequest,
    pub standing: Standing,
    /// The `[[exceptions]]` block to add to the policy file (approved requests).
    pub toml: Option<String>,
}

/// The exception part of an identity page.
#[derive(Debug, Clone)]
pub struct RecordExceptions {
    /// Every request on the record, newest first.
    pub requests: Vec<ExceptionRequestView>,
    /// May ask for one here.
    pub can_request: bool,
    /// The rules a request may name: the record's current findings without an open request.
    pub rules: Vec<String>,
    /// The expiry a request may propose: from tomorrow to `latest_expiry`.
    pub earliest_expiry: NaiveDate,
    pub latest_expiry: NaiveDate,
    /// For admins: how many requests await a decision, on every record.
    pub proposed_everywhere: Option<u64>,
}

/// The `/exceptions` page.
#[derive(Debug, Clone)]
pub struct ExceptionRequestList {
    pub requests: Vec<ExceptionRequestView>,
    pub proposed: u64,
    pub can_decide: bool,
    /// The policy file in effect (`[policy] file`), where approved blocks go.
    pub policy_file: Option<String>,
}

/// The exception an approved request asks the policy file to carry: its rule on exactly the
/// record (platform, scope and external id), owned by the requester, until its expiry.
pub fn exception_of(r: &ExceptionRequest) -> Result<Exception, AppError> {
    let platform: Platform = r
        .platform
        .parse()
        .map_err(|e: roster_core::ParseEnumError| {
            AppError::Internal(format!("exception request {}: {e}", r.id))
        })?;
    Ok(Exception {
        rule: r.rule.clone(),
        platform: Some(platform),
        scope: Some(r.scope.clone()),
        kind: None,
        name: None,
        external_id: Some(r.external_id.clone()),
        owner: r.owner.clone(),
        reason: r.reason.clone(),
        expires: ExpiryDate(r.expires_on),
    })
}

/// The `[[exceptions]]` block for `r`, through the `toml` serializer: whatever a person typed
/// is quoted as TOML requires, never pasted into the text.
pub fn exception_toml(r: &ExceptionRequest) -> Result<String, AppError> {
    #[derive(serde::Serialize)]
    struct Block {
        exceptions: Vec<Exception>,
    }
    let block = Block {
        exceptions: vec![exception_of(r)?],
    };
    let body = toml::to_string(&block)
        .map_err(|e| AppError::Internal(format!("exception request {}: {e}", r.id)))?;
    // A comment holds no control character (TOML refuses them there): a name from a
    // platform could carry one.
    let comment = |text: &str| -> String {
        text.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    Ok(format!(
        "# Exception request #{} on `{}`, approved by {}\n{body}",
        r.id,
        comment(&r.record_name),
        comment(r.decided_by.as_deref().unwrap_or("an admin"))
    ))
}

fn invalid(p: RequestProblem) -> AppError {
    match p {
        RequestProblem::AlreadyDecided(_) => AppError::Conflict(p.to_string()),
        other => AppError::Invalid(other.to_string()),
    }
}

impl Roster {
    /// Record `id` evaluated now, whoever may see it (the caller checks).
    async fn evaluated(&self, id: RecordId, now: DateTime<Utc>) -> Result<InventoryItem, AppError> {
        let reader = self.reader().await?;
        Ok(reader.evaluate(self.store.record(id.0).await?, now)?)
    }

    /// The longest an exception may be asked for, in days: the policy sets no limit, so a
    /// year.
    pub fn max_exception_days(&self) -> i64 {
        MAX_EXCEPTION_DAYS
    }

    /// Where `r` stands against the policy in effect at `now`, with its policy block once
    /// approved.
    async fn view_request(
        &self,
        r: ExceptionRequest,
        now: DateTime<Utc>,
    ) -> Result<ExceptionRequestView, AppError> {
        let standing = match r.state {
            ExceptionRequestState::Proposed => Standing::Proposed,
            ExceptionRequestState::Rejected => Standing::Rejected,
            ExceptionRequestState::Approved => {
                let record = match self.store.record(r.record_id).await {
                    Ok(row) => Some(row.to_record()?),
                    Err(roster_store::StoreError::NotFound(_)) => None,
                    Err(e) => return Err(e.into()),
                };
                let covered = record.is_some_and(|rec| {
                    self.policy
                        .exceptions
                        .iter()
                        .any(|e| e.covers(&r.rule, &rec, now))
                });
                if covered {
                    Standing::InEffect
                } else if r.expires_on < now.date_naive() {
                    Standing::Expired
                } else {
                    Standing::AwaitingPolicy
                }
            }
        };
        let toml = match r.state {
            ExceptionRequestState::Approved => Some(exception_toml(&r)?),
            _ => None,
        };
        Ok(ExceptionRequestView {
            request: r,
            standing,
            toml,
        })
    }

    /// The exception part of `item`'s page, as `p` sees it. `record` is what the access policy
    /// needs of its ownership (the record's owner and its identity's).
    pub async fn record_exceptions(
        &self,
        p: &Principal,
        item: &InventoryItem,
        record: Ownership<'_>,
        now: DateTime<Utc>,
    ) -> Result<RecordExceptions, AppError> {
        let mut requests = Vec::new();
        for r in self.store.exception_requests_for(item.id.0).await? {
            requests.push(self.view_request(r, now).await?);
        }
        let open: Vec<&str> = requests
            .iter()
            .filter(|v| v.request.state == ExceptionRequestState::Proposed)
            .map(|v| v.request.rule.as_str())
            .collect();
        let mut rules: Vec<String> = Vec::new();
        for f in &item.findings {
            if !open.contains(&f.rule.as_str()) && !rules.contains(&f.rule) {
                rules.push(f.rule.clone());
            }
        }
        let today = now.date_naive();
        Ok(RecordExceptions {
            can_request: p.can_request_exception(record),
            rules,
            earliest_expiry: today.checked_add_days(Days::new(1)).unwrap_or(today),
            latest_expiry: today
                .checked_add_days(Days::new(self.max_exception_days().unsigned_abs()))
                .unwrap_or(today),
            proposed_everywhere: if p.can_decide_exceptions() {
                Some(
                    self.store
                        .count_exception_requests(ExceptionRequestState::Proposed)
                        .await?,
                )
            } else {
                None
            },
            requests,
        })
    }

    /// Asks for an exception for one current finding of record `id`: its owner or an admin,
    /// with a reason (at most 2000 characters) and an expiry after today and within
    /// [`Roster::max_exception_days`]. The request and its audit event commit together.
    pub async fn request_exception(
        &self,
        p: &Principal,
        id: RecordId,
        ask: &ExceptionAsk<'_>,
        now: DateTime<Utc>,
    ) -> Result<ExceptionRequest, AppError> {
        let item = self.evaluated(id, now).await?;
        let parent = match item.parent_id {
            Some(pid) => match self.evaluated(pid, now).await {
                Ok(parent) => Some(parent),
                Err(AppError::NotFound(_)) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        let ownership = Ownership::of(&item, parent.as_ref());
        p.require_visible(Ownership::of(&item, None))?;
        p.require_request_exception(ownership)?;
        let rule = ask.rule.trim();
        if !item.findings.iter().any(|f| f.rule == rule) {
            let current: Vec<&str> = item.findings.iter().map(|f| f.rule.as_str()).collect();
            return Err(AppError::Invalid(format!(
                "`{rule}` is not a current finding of this record (its findings: {})",
                if current.is_empty() {
                    "none".to_owned()
                } else {
                    current.join(", ")
                }
            )));
        }
        check_request(
            ask.reason,
            ask.expires,
            now.date_naive(),
            self.max_exception_days(),
        )
        .map_err(invalid)?;
        let actor = p.actor();
        let reason = ask.reason.trim();
        let saved = self
            .store
            .request_exception_audited(
                NewExceptionRequest {
                    record_id: id.0,
                    platform: item.platform.as_str(),
                    scope: &item.scope,
                    external_id: &item.external_id,
                    record_name: &item.name,
                    rule,
                    reason,
                    expires_on: ask.expires,
                    owner: &p.who,
                    requested_by: &actor,
                },
                NewAuditEvent {
                    actor: actor.clone(),
                    action: "exception.request".into(),
                    target: Some(id.to_string()),
                    detail: json!({"rule": rule, "reason": reason, "expires": ask.expires,
                                   "record": item.name}),
                },
                now,
            )
            .await?;
        Ok(saved)
    }

    /// Approves (`approve`) or rejects a proposed request; a rejection says why in `note`. A
    /// request is decided once. The decision and its audit event commit together; an approval's
    /// event carries the policy block it hands out.
    pub async fn decide_exception_request(
        &self,
        p: &Principal,
        request: i64,
        approve: bool,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<ExceptionRequestView, AppError> {
        p.require_decide_exceptions()?;
        let current = self.store.exception_request(request).await?;
        let to = if approve {
            ExceptionRequestState::Approved
        } else {
            ExceptionRequestState::Rejected
        };
        let note = note.trim();
        check_decision(current.state, to, note).map_err(invalid)?;
        let actor = p.actor();
        let mut detail = json!({"rule": current.rule, "record": current.record_name,
                                "expires": current.expires_on, "note": note});
        if approve {
            let mut approved = current.clone();
            approved.decided_by = Some(actor.clone());
            detail["policy_block"] = exception_toml(&approved)?.into();
        }
        let saved = self
            .store
            .decide_exception_request_audited(
                request,
                to,
                &actor,
                (!note.is_empty()).then_some(note),
                NewAuditEvent {
                    actor: actor.clone(),
                    action: if approve {
                        "exception.approve"
                    } else {
                        "exception.reject"
                    }
                    .into(),
                    target: Some(RecordId(current.record_id).to_string()),
                    detail,
                },
                now,
            )
            .await?;
        self.view_request(saved, now).await
    }

    /// The latest requests (in `state`, or all), newest first, with the count still proposed.
    pub async fn exception_requests(
        &self,
        p: &Principal,
        state: Option<ExceptionRequestState>,
        now: DateTime<Utc>,
    ) -> Result<ExceptionRequestList, AppError> {
        p.require_see_exception_requests()?;
        let mut requests = Vec::new();
        for r in self.store.exception_requests(state, LIST_LIMIT).await? {
            requests.push(self.view_request(r, now).await?);
        }
        Ok(ExceptionRequestList {
            requests,
            proposed: self
                .store
                .count_exception_requests(ExceptionRequestState::Proposed)
                .await?,
            can_decide: p.can_decide_exceptions(),
            policy_file: self
                .config
                .policy
                .file
                .as_ref()
                .map(|f| f.display().to_string()),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::access::Role;
    use crate::remediate::PlanOutcome;
    use roster_connector_sdk::FakeClock;
    use roster_connector_synthetic::{SyntheticConfig, SyntheticConnector, default_anchor};
    use std::sync::Arc;

    const CONFIG: &str = "[[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = 60\n";

    fn roster(store: roster_store::Store, policy: crate::policy::LoadedPolicy) -> Roster {
        Roster::new(
            store,
            crate::config::Config::from_toml_str(CONFIG).unwrap(),
            policy,
        )
    }

    fn defaults() -> crate::policy::LoadedPolicy {
        crate::policy::load_with_hash(None).unwrap()
    }

    async fn synced(store: &roster_store::Store) {
        let source = roster_sync::SyncSource {
            name: "sample".into(),
            connector: Box::new(
                SyntheticConnector::new(SyntheticConfig {
                    count: 60,
                    seed: 1,
                    anchor: default_anchor(),
                    page_size: 100,
                })
                .unwrap(),
            ),
        };
        roster_sync::SyncEngine::new(
            store.clone(),
            roster_core::RiskPolicy::default(),
            Arc::new(FakeClock::new(default_anchor())),
        )
        .run(&[source], &roster_sync::NoProgress)
        .await
        .unwrap();
    }

    /// Owned records with findings, owned by two different people.
    async fn two_owners_records(r: &Roster, now: DateTime<Utc>) -> (InventoryItem, InventoryItem) {
        let scope = crate::scope::Scope::from_query_string("").unwrap();
        let (items, _) = r
            .inventory_page(&Principal::cli("test"), &scope, 500, now)
            .await
            .unwrap();
        let owned: Vec<InventoryItem> = items
            .into_iter()
            .filter(|i| i.owner.is_some() && !i.findings.is_empty())
            .collect();
        let first = owned[0].clone();
        let other = owned
            .iter()
            .find(|i| i.owner != first.owner)
            .expect("records of two owners")
            .clone();
        (first, other)
    }

    fn ask<'a>(rule: &'a str, reason: &'a str, expires: NaiveDate) -> ExceptionAsk<'a> {
        ExceptionAsk {
            rule,
            reason,
            expires,
        }
    }

    /// The block reads as a person would write it; typed text is quoted, never pasted.
    #[test]
    fn the_policy_block_is_plain_toml() {
        let r = ExceptionRequest {
            id: 7,
            record_id: 1,
            platform: "aws".into(),
            scope: "111122223333".into(),
            external_id: "AIDAEXAMPLE".into(),
            record_name: "deploy-bot\n[[exceptions]]\u{7}".into(),
            rule: "usage.stale".into(),
            reason: "runs \"yearly\"".into(),
            expires_on: NaiveDate::from_ymd_opt(2027, 1, 31).unwrap(),
            owner: "owner@acme.example".into(),
            requested_by: "sso:owner@acme.example".into(),
            requested_at: default_anchor(),
            state: ExceptionRequestState::Approved,
            decided_by: Some("sso:iam@acme.example".into()),
            decided_at: Some(default_anchor()),
            decision_note: None,
        };
        assert_eq!(
            toml::from_str::<roster_core::RiskPolicy>(&exception_toml(&r).unwrap())
                .unwrap()
                .exceptions
                .len(),
            1
        );
        assert_eq!(
            exception_toml(&r).unwrap(),
            "# Exception request #7 on `deploy-bot [[exceptions]] `, approved by sso:iam@acme.example\n\
             [[exceptions]]\n\
             rule = \"usage.stale\"\n\
             platform = \"aws\"\n\
             scope = \"111122223333\"\n\
             external_id = \"AIDAEXAMPLE\"\n\
             owner = \"owner@acme.example\"\n\
             reason = 'runs \"yearly\"'\n\
             expires = \"2027-01-31\"\n"
        );
    }

    /// An owner asks on their own record; an admin approves, and the policy block handed out
    /// parses with the real policy loader and covers exactly that record, in effect once
    /// loaded. Wrong asks and wrong deciders are refused, and a request is decided once.
    #[tokio::test]
    async fn an_owner_asks_an_admin_decides_and_the_policy_block_matches_the_record() {
        for t in roster_store::testing::test_stores().await.unwrap() {
            let b = t.backend;
            synced(&t.store).await;
            let r = roster(t.store.clone(), defaults());
            let now = default_anchor();
            let today = now.date_naive();
            let in_30 = today + chrono::Duration::days(30);
            let (mine, theirs) = two_owners_records(&r, now).await;
            let owner = Principal::person(Role::Owner, mine.owner.clone().unwrap());
            let auditor = Principal::person(Role::Auditor, "audit@acme.example");
            let admin = Principal::person(Role::Admin, "iam@acme.example");
            let rule = mine.findings[0].rule.as_str();

            // Refused: someone else's record, an auditor, a rule that is not a finding, a
            // missing or long reason, an expiry today or past the limit.
            let refused = r
                .request_exception(
                    &owner,
                    theirs.id,
                    &ask(&theirs.findings[0].rule, "x", in_30),
                    now,
                )
                .await;
            assert!(
                matches!(refused, Err(AppError::Forbidden(_))),
                "{b}: {refused:?}"
            );
            let refused = r
                .request_exception(&auditor, mine.id, &ask(rule, "x", in_30), now)
                .await;
            assert!(
                matches!(refused, Err(AppError::Forbidden(_))),
                "{b}: {refused:?}"
            );
            let long = "x".repeat(2001);
            for (rule, reason, expires) in [
                ("privilege.nonsense", "x", in_30),
                (rule, "  ", in_30),
                (rule, long.as_str(), in_30),
                (rule, "x", today),
                (rule, "x", today + chrono::Duration::days(366)),
            ] {
                let refused = r
                    .request_exception(&owner, mine.id, &ask(rule, reason, expires), now)
                    .await;
                assert!(
                    matches!(refused, Err(AppError::Invalid(_))),
                    "{b}: {rule} {expires}: {refused:?}"
                );
            }

            let asked = r
                .request_exception(
                    &owner,
                    mine.id,
                    &ask(rule, "batch job, runs yearly", in_30),
                    now,
                )
                .await
                .unwrap();
            assert_eq!(asked.state, ExceptionRequestState::Proposed, "{b}");
            assert_eq!(asked.owner, owner.who);
            let again = r
                .request_exception(&owner, mine.id, &ask(rule, "again", in_30), now)
                .await;
            assert!(
                matches!(again, Err(AppError::Conflict(_))),
                "{b}: {again:?}"
            );
            let page = r
                .record_exceptions(&admin, &mine, Ownership::of(&mine, None), now)
                .await
                .unwrap();
            assert_eq!(page.proposed_everywhere, Some(1));
            assert!(
                !page.rules.iter().any(|r| r == rule),
                "no second request offered"
            );
            assert_eq!(page.requests[0].standing, Standing::Proposed);
            assert_eq!(
                r.record_exceptions(&owner, &mine, Ownership::of(&mine, None), now)
                    .await
                    .unwrap()
                    .proposed_everywhere,
                None
            );

            // Deciding: not by an auditor or an owner; a rejection needs a note.
            for who in [&auditor, &owner] {
                let refused = r
                    .decide_exception_request(who, asked.id, true, "", now)
                    .await;
                assert!(
                    matches!(refused, Err(AppError::Forbidden(_))),
                    "{b}: {refused:?}"
                );
            }
            assert!(r.exception_requests(&owner, None, now).await.is_err());
            let refused = r
                .decide_exception_request(&admin, asked.id, false, " ", now)
                .await;
            assert!(
                matches!(refused, Err(AppError::Invalid(_))),
                "{b}: {refused:?}"
            );
            let approved = r
                .decide_exception_request(&admin, asked.id, true, "", now)
                .await
                .unwrap();
            assert_eq!(approved.request.state, ExceptionRequestState::Approved);
            assert_eq!(approved.standing, Standing::AwaitingPolicy, "{b}");
            for approve in [true, false] {
                let twice = r
                    .decide_exception_request(&admin, asked.id, approve, "changed my mind", now)
                    .await;
                assert!(
                    matches!(twice, Err(AppError::Conflict(_))),
                    "{b}: {twice:?}"
                );
            }
            let missing = r
                .decide_exception_request(&admin, 9999, true, "", now)
                .await;
            assert!(matches!(missing, Err(AppError::NotFound(_))), "{missing:?}");

            // A rejection, with its note; the admin may ask on anyone's record, and whatever
            // is typed stays data in the policy block.
            let tricky =
                "needs \"quotes\"\nand a line\n[[exceptions]]\nrule = \"*\"\n''' \"\"\" \\";
            let other_rule = theirs.findings[0].rule.as_str();
            let second = r
                .request_exception(&admin, theirs.id, &ask(other_rule, tricky, in_30), now)
                .await
                .unwrap();
            let rejected = r
                .decide_exception_request(&admin, second.id, false, "rotate it instead", now)
                .await
                .unwrap();
            assert_eq!(rejected.standing, Standing::Rejected);
            assert_eq!(
                rejected.request.decision_note.as_deref(),
                Some("rotate it instead")
            );
            assert!(rejected.toml.is_none());
            let third = r
                .request_exception(&admin, theirs.id, &ask(other_rule, tricky, in_30), now)
                .await
                .unwrap();
            let tricky_approved = r
                .decide_exception_request(&admin, third.id, true, "", now)
                .await
                .unwrap();

            // The blocks, appended to a policy file, load with the real loader: one exception
            // each, the typed text intact, covering exactly its record.
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("policy.toml");
            std::fs::write(
                &path,
                format!(
                    "stale_days = 90\n\n{}\n{}",
                    approved.toml.as_deref().unwrap(),
                    tricky_approved.toml.as_deref().unwrap()
                ),
            )
            .unwrap();
            let loaded = crate::policy::load_with_hash(Some(&path)).unwrap();
            let exceptions = &loaded.policy.exceptions;
            assert_eq!(exceptions.len(), 2, "{exceptions:?}");
            assert_eq!(exceptions[1].reason, tricky.trim());
            assert_eq!(exceptions[0].owner, owner.who);
            assert_eq!(exceptions[0].expires.0, in_30);
            let record = |id: RecordId| {
                let store = t.store.clone();
                async move { store.record(id.0).await.unwrap().to_record().unwrap() }
            };
            let (mine_rec, theirs_rec) = (record(mine.id).await, record(theirs.id).await);
            assert!(exceptions[0].covers(rule, &mine_rec, now));
            assert!(
                !exceptions[0].covers(rule, &theirs_rec, now),
                "only its record"
            );
            assert!(exceptions[1].covers(other_rule, &theirs_rec, now));
            assert!(!exceptions[0].covers(rule, &mine_rec, now + chrono::Duration::days(31)));

            // Under that policy the approvals are in effect and the finding is accepted.
            let r2 = roster(t.store.clone(), loaded);
            let list = r2.exception_requests(&auditor, None, now).await.unwrap();
            assert!(!list.can_decide);
            let standing = |id: i64| {
                list.requests
                    .iter()
                    .find(|v| v.request.id == id)
                    .unwrap()
                    .standing
            };
            assert_eq!(standing(asked.id), Standing::InEffect, "{b}");
            assert_eq!(standing(third.id), Standing::InEffect, "{b}");
            assert_eq!(standing(second.id), Standing::Rejected);
            assert_eq!(list.proposed, 0);
            let item = r2.record(&owner, mine.id, now).await.unwrap();
            assert!(
                item.findings
                    .iter()
                    .any(|f| f.rule == rule && f.exception.is_some()),
                "{b}: {:?}",
                item.findings
            );
            let later = now + chrono::Duration::days(60);
            let list = r2
                .exception_requests(&admin, Some(ExceptionRequestState::Approved), later)
                .await
                .unwrap();
            assert!(
                list.requests
                    .iter()
                    .all(|v| v.standing == Standing::Expired)
            );

            // Every step is in the audit trail, by its actor.
            let target = mine.id.to_string();
            let asked_ev = t
                .store
                .audit_events_for(&target, "exception.request")
                .await
                .unwrap();
            assert_eq!(asked_ev.len(), 1, "{b}");
            assert_eq!(asked_ev[0].actor, owner.actor());
            let approved_ev = t
                .store
                .audit_events_for(&target, "exception.approve")
                .await
                .unwrap();
            assert_eq!(approved_ev.len(), 1, "{b}");
            assert!(approved_ev[0].detail.contains("[[exceptions]]"));
            let theirs_target = theirs.id.to_string();
            assert_eq!(
                t.store
                    .audit_events_for(&theirs_target, "exception.reject")
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert!(t.store.verify_audit().await.unwrap().1.is_none(), "{b}");
        }
    }

    /// An admin sees the connector's actions for the record, runs a dry run and reads the plan
    /// back from its audit event; an owner is offered nothing and may not run one.
    #[tokio::test]
    async fn a_dry_run_from_the_identity_page_is_planned_and_audited() {
        for t in roster_store::testing::test_stores().await.unwrap() {
            let b = t.backend;
            synced(&t.store).await;
            let r = roster(t.store.clone(), defaults());
            let now = default_anchor();
            let (mine, theirs) = two_owners_records(&r, now).await;
            let admin = Principal::person(Role::Admin, "iam@acme.example");
            let owner = Principal::person(Role::Owner, mine.owner.clone().unwrap());
            let offer = r
                .remediation_offer(&admin, &mine.connector, &mine.resource_type)
                .await
                .unwrap();
            assert_eq!(offer.actions, ["revoke"], "{b}");
            assert!(offer.none_because.is_none());
            assert!(offer.execution_off.unwrap().contains("sample data"));
            assert!(
                r.remediation_offer(&owner, &mine.connector, &mine.resource_type)
                    .await
                    .is_none()
            );
            let gone = r.remediation_offer(&admin, "removed", "x").await.unwrap();
            assert!(gone.actions.is_empty());
            assert!(gone.none_because.unwrap().contains("`removed`"));
            let tokens = r
                .remediation_offer(&admin, "roster", "roster.api_token")
                .await
                .unwrap();
            assert!(tokens.none_because.unwrap().contains("API tokens page"));

            let refused = r.remediation_dry_run(&owner, mine.id, "revoke", now).await;
            assert!(
                matches!(refused, Err(AppError::Forbidden(_))),
                "{refused:?}"
            );
            let refused = r.remediation_dry_run(&admin, mine.id, "delete", now).await;
            assert!(matches!(refused, Err(AppError::Invalid(_))), "{refused:?}");
            let event = r
                .remediation_dry_run(&admin, mine.id, "revoke", now)
                .await
                .unwrap();
            let plan = r.remediation_plan(&admin, mine.id, event).await.unwrap();
            assert!(plan.dry_run && plan.action == "revoke", "{plan:?}");
            assert_eq!(plan.actor, admin.actor());
            match &plan.outcome {
                PlanOutcome::Planned { summary, calls } => {
                    assert!(summary.starts_with("SAMPLE DATA"), "{summary}");
                    assert_eq!(calls, &[format!("(sample) revoke {}", mine.external_id)]);
                }
                other => panic!("{b}: {other:?}"),
            }
            // The event names its record: another record's page does not show it.
            let other = r.remediation_plan(&admin, theirs.id, event).await;
            assert!(matches!(other, Err(AppError::NotFound(_))), "{other:?}");
            assert!(r.remediation_plan(&owner, mine.id, event).await.is_err());
        }
    }
}
