//! A suggested decision for each review item, with its reason in words: "revoke — not used in
//! 214 days; its owner left", "keep — used yesterday; read-only; kept in Q3". The rules live in
//! the policy file beside the risk rules (`[[suggestions]]`, first match wins; the built-in set
//! below when there are none). No I/O; time is passed in.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::campaign::DecisionKind;
use crate::inventory::InventoryItem;
use crate::model::{Privilege, Tier, Usage};

/// What an owner condition asks of the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerIs {
    /// The directory says the owner left (`owner.departed`).
    Departed,
    /// Nobody owns it.
    Missing,
    /// Owned by someone the directory has present (or at least not departed).
    Present,
}

/// `[[suggestions]]`: when every condition set holds, suggest `decision` (first rule wins).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestionRule {
    /// Named in the evidence when a suggestion is accepted.
    pub id: String,
    pub decision: DecisionKind,
    /// Not used for at least this many days (never used: since it was created). Items whose
    /// platform does not report use never match.
    pub unused_days_at_least: Option<u32>,
    /// Used within this many days.
    pub used_within_days: Option<u32>,
    pub owner: Option<OwnerIs>,
    /// At most this privilege (`read` < `write` < `admin`; `unknown` never matches).
    pub privilege_at_most: Option<Privilege>,
    /// Carries a finding of this rule id.
    pub has_finding: Option<String>,
    /// The same record's last review ended this way (e.g. `keep`).
    pub previously: Option<DecisionKind>,
}

/// A suggestion for one item: `decision` is `None` when no rule suggests one (decide by hand).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub decision: Option<DecisionKind>,
    /// The rule that made it.
    pub rule: String,
    /// Why, in words.
    pub reason: String,
}

/// The rule id of "no rule applies".
pub const BY_HAND: &str = "by_hand";

fn rule(id: &str, decision: DecisionKind) -> SuggestionRule {
    SuggestionRule {
        id: id.into(),
        decision,
        unused_days_at_least: None,
        used_within_days: None,
        owner: None,
        privilege_at_most: None,
        has_finding: None,
        previously: None,
    }
}

/// The built-in rules, used when the policy file has no `[[suggestions]]`.
pub fn default_rules() -> Vec<SuggestionRule> {
    vec![
        SuggestionRule {
            unused_days_at_least: Some(90),
            owner: Some(OwnerIs::Departed),
            ..rule("revoke.unused_owner_left", DecisionKind::Revoke)
        },
        SuggestionRule {
            unused_days_at_least: Some(180),
            ..rule("revoke.long_unused", DecisionKind::Revoke)
        },
        SuggestionRule {
            used_within_days: Some(90),
            has_finding: Some("lifetime.rotation_age".into()),
            ..rule("rotate.used_but_old", DecisionKind::Rotate)
        },
        SuggestionRule {
            used_within_days: Some(30),
            privilege_at_most: Some(Privilege::Read),
            owner: Some(OwnerIs::Present),
            ..rule("keep.used_read_only", DecisionKind::Keep)
        },
    ]
}

/// What the rules see beyond the snapshot.
#[derive(Debug, Clone, Copy)]
pub struct SuggestionContext<'a> {
    /// How the same record's last review ended, and that campaign's name.
    pub previously: Option<(DecisionKind, &'a str)>,
    pub now: DateTime<Utc>,
}

fn days(n: i64) -> String {
    match n {
        0 => "today".into(),
        1 => "yesterday".into(),
        n => format!("{n} days ago"),
    }
}

/// Days since last use (never used: since creation); `None` when the platform cannot say.
fn unused_days(item: &InventoryItem, now: DateTime<Utc>) -> Option<i64> {
    match item.usage {
        Usage::Used => item.last_used_at.map(|t| (now - t).num_days()),
        Usage::NeverUsed => item.created_at.map(|t| (now - t).num_days()),
        Usage::NoTelemetry => None,
    }
}

fn privilege_rank(p: Privilege) -> Option<u8> {
    match p {
        Privilege::Read => Some(0),
        Privilege::Write => Some(1),
        Privilege::Admin => Some(2),
        Privilege::Unknown => None,
    }
}

/// Findings that count: an accepted exception is shown, not acted on.
fn counted(item: &InventoryItem) -> impl Iterator<Item = &crate::Finding> {
    item.findings.iter().filter(|f| f.exception.is_none())
}

fn owner_is(item: &InventoryItem) -> OwnerIs {
    let has = |rule: &str| counted(item).any(|f| f.rule == rule);
    if has("owner.departed") {
        OwnerIs::Departed
    } else if item.owner.as_deref().is_none_or(|o| o.trim().is_empty()) {
        OwnerIs::Missing
    } else {
        OwnerIs::Present
    }
}

/// Whether `r` holds for `item`; if so, the words for each condition, in order.
fn holds(
    r: &SuggestionRule,
    item: &InventoryItem,
    cx: &SuggestionContext<'_>,
) -> Option<Vec<String>> {
    let mut why = Vec::new();
    let unused = unused_days(item, cx.now);
    if let Some(min) = r.unused_days_at_least {
        let d = unused.filter(|d| *d >= i64::from(min))?;
        why.push(match item.usage {
            Usage::NeverUsed => format!("never used in the {d} days since it was created"),
            _ => format!("not used in {d} days"),
        });
    }
    if let Some(max) = r.used_within_days {
        let d = unused.filter(|d| *d <= i64::from(max) && item.usage == Usage::Used)?;
        why.push(format!("used {}", days(d)));
    }
    if let Some(p) = r.privilege_at_most {
        let (have, most) = (privilege_rank(item.privilege)?, privilege_rank(p)?);
        if have > most {
            return None;
        }
        why.push(match item.privilege {
            Privilege::Read => "read-only".into(),
            other => format!("{} privilege", other.as_str()),
        });
    }
    if let Some(want) = r.owner {
        if owner_is(item) != want {
            return None;
        }
        why.push(
            match want {
                OwnerIs::Departed => "its owner left",
                OwnerIs::Missing => "nobody owns it",
                OwnerIs::Present => "its owner is present",
            }
            .into(),
        );
    }
    if let Some(rule) = &r.has_finding {
        let f = counted(item).find(|f| &f.rule == rule)?;
        why.push(f.message.clone());
    }
    if let Some(want) = r.previously {
        match cx.previously {
            Some((was, campaign)) if was == want => {
                why.push(format!("{} in {campaign}", past(was)));
            }
            _ => return None,
        }
    }
    Some(why)
}

fn past(k: DecisionKind) -> &'static str {
    match k {
        DecisionKind::Keep => "kept",
        DecisionKind::Revoke => "revoked",
        DecisionKind::Rotate => "rotated",
        DecisionKind::ReduceScope => "scope reduced",
        DecisionKind::SetExpiry => "expiry set",
        DecisionKind::Reassign => "reassigned",
        DecisionKind::Delegate => "delegated",
    }
}

/// The first rule of `rules` that holds (the built-in set when `rules` is empty), or "decide
/// by hand" with the item's top finding.
pub fn suggest(
    rules: &[SuggestionRule],
    item: &InventoryItem,
    cx: &SuggestionContext<'_>,
) -> Suggestion {
    // Built once: every inbox row asks.
    static DEFAULTS: std::sync::LazyLock<Vec<SuggestionRule>> =
        std::sync::LazyLock::new(default_rules);
    let rules = if rules.is_empty() { &DEFAULTS } else { rules };
    for r in rules {
        if let Some(why) = holds(r, item, cx) {
            return Suggestion {
                decision: Some(r.decision),
                rule: r.id.clone(),
                reason: why.join("; "),
            };
        }
    }
    Suggestion {
        decision: None,
        rule: BY_HAND.into(),
        reason: "no suggestion rule applies: decide by hand".into(),
    }
}

/// Checks `[[suggestions]]`: each has an id (unique), a concluding decision (a hand-over is
/// no suggestion), and at least one condition.
pub fn check(rules: &[SuggestionRule]) -> Result<(), crate::policy::PolicyProblem> {
    let bad = |index, why: String| crate::policy::PolicyProblem::BadSuggestion { index, why };
    let mut seen = std::collections::HashSet::new();
    for (i, r) in rules.iter().enumerate() {
        if r.id.trim().is_empty() || r.id == BY_HAND {
            return Err(bad(i, format!("an id other than `{BY_HAND}` is needed")));
        }
        if !seen.insert(r.id.as_str()) {
            return Err(bad(i, format!("the id `{}` is used twice", r.id)));
        }
        if r.decision.hands_over() {
            return Err(bad(
                i,
                format!("`{}` is not a decision to suggest", r.decision),
            ));
        }
        let conditions = [
            r.unused_days_at_least.is_some(),
            r.used_within_days.is_some(),
            r.owner.is_some(),
            r.privilege_at_most.is_some(),
            r.has_finding.is_some(),
            r.previously.is_some(),
        ];
        if !conditions.contains(&true) {
            return Err(bad(i, "a rule needs at least one condition".into()));
        }
        if let Some(f) = &r.has_finding
            && !crate::policy::is_known_rule(f)
        {
            return Err(bad(i, format!("has_finding: no such rule `{f}`")));
        }
    }
    Ok(())
}

/// Whether suggestions may be accepted in bulk for an item of `tier` (at or below `up_to`).
pub fn bulk_acceptable(tier: Tier, up_to: Tier) -> bool {
    tier <= up_to
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Platform, RecordClass, Status};
    use crate::{Finding, RecordId};
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
    }

    fn item(usage: Usage, last_used_days: Option<i64>, privilege: Privilege) -> InventoryItem {
        InventoryItem {
            id: RecordId(1),
            platform: Platform::Aws,
            connector: "aws".into(),
            resource_type: "aws.iam.access_key".into(),
            scope: "123".into(),
            class: RecordClass::Credential,
            kind: Kind::AccessKey,
            external_id: "AKIA1".into(),
            name: "etl-key".into(),
            parent_id: None,
            status: Status::Active,
            created_at: Some(now() - chrono::Duration::days(400)),
            last_used_at: last_used_days.map(|d| now() - chrono::Duration::days(d)),
            usage,
            expires_at: None,
            privilege,
            privilege_detail: vec![],
            owner: Some("alice@acme.example".into()),
            owner_source: Some("policy".into()),
            credential_fingerprint: None,
            tier: Tier::Medium,
            findings: vec![],
            first_seen_run: 1,
            last_seen_run: Some(1),
            changed_run: 1,
            gone_run: None,
            sample: false,
        }
    }

    fn finding(rule: &str, message: &str) -> Finding {
        Finding {
            rule: rule.into(),
            owasp: crate::model::OwaspCode::Nhi1,
            severity: crate::model::Severity::High,
            message: message.into(),
            exception: None,
        }
    }

    fn cx() -> SuggestionContext<'static> {
        SuggestionContext {
            previously: None,
            now: now(),
        }
    }

    #[test]
    fn unused_with_an_owner_who_left_is_revoked_and_its_twin_used_yesterday_is_not() {
        let mut left = item(Usage::Used, Some(214), Privilege::Write);
        left.findings.push(finding("owner.departed", "owner left"));
        let s = suggest(&[], &left, &cx());
        assert_eq!(s.decision, Some(DecisionKind::Revoke));
        assert_eq!(s.rule, "revoke.unused_owner_left");
        assert_eq!(s.reason, "not used in 214 days; its owner left");
        // The clean twin: same owner gone, used yesterday: not revoked for disuse.
        left.last_used_at = Some(now() - chrono::Duration::days(1));
        assert_ne!(
            suggest(&[], &left, &cx()).decision,
            Some(DecisionKind::Revoke)
        );
    }

    #[test]
    fn never_used_counts_from_creation_and_no_telemetry_never_reads_as_unused() {
        let never = item(Usage::NeverUsed, None, Privilege::Read);
        let s = suggest(&[], &never, &cx());
        assert_eq!(
            (s.decision, s.rule.as_str()),
            (Some(DecisionKind::Revoke), "revoke.long_unused")
        );
        assert!(
            s.reason.contains("never used in the 400 days"),
            "{}",
            s.reason
        );
        let blind = item(Usage::NoTelemetry, None, Privilege::Read);
        assert_eq!(
            suggest(&[], &blind, &cx()).decision,
            None,
            "we cannot see its use"
        );
    }

    #[test]
    fn used_read_only_and_kept_before_is_kept_with_the_reasons_and_write_is_not() {
        let rules = vec![SuggestionRule {
            used_within_days: Some(30),
            privilege_at_most: Some(Privilege::Read),
            previously: Some(DecisionKind::Keep),
            ..rule("keep.attested", DecisionKind::Keep)
        }];
        let used = item(Usage::Used, Some(1), Privilege::Read);
        let cx = SuggestionContext {
            previously: Some((DecisionKind::Keep, "Q3 review")),
            now: now(),
        };
        let s = suggest(&rules, &used, &cx);
        assert_eq!(s.decision, Some(DecisionKind::Keep));
        assert_eq!(s.reason, "used yesterday; read-only; kept in Q3 review");
        let write = item(Usage::Used, Some(1), Privilege::Write);
        assert_eq!(suggest(&rules, &write, &cx).rule, BY_HAND);
        let first_review = SuggestionContext {
            previously: None,
            now: now(),
        };
        assert_eq!(suggest(&rules, &used, &first_review).rule, BY_HAND);
    }

    #[test]
    fn rotation_is_suggested_for_an_old_key_in_use() {
        let mut old = item(Usage::Used, Some(3), Privilege::Admin);
        old.findings
            .push(finding("lifetime.rotation_age", "not rotated for 400 days"));
        let s = suggest(&[], &old, &cx());
        assert_eq!(s.decision, Some(DecisionKind::Rotate));
        assert_eq!(s.reason, "used 3 days ago; not rotated for 400 days");
    }

    #[test]
    fn bulk_acceptance_stops_above_the_policy_tier() {
        assert!(bulk_acceptable(Tier::Low, Tier::Medium));
        assert!(bulk_acceptable(Tier::Medium, Tier::Medium));
        assert!(!bulk_acceptable(Tier::High, Tier::Medium));
    }

    #[test]
    fn impossible_rules_are_refused_by_the_policy_check() {
        let mut r = rule("x", DecisionKind::Keep);
        assert!(check(std::slice::from_ref(&r)).is_err(), "no condition");
        r.used_within_days = Some(3);
        assert!(check(std::slice::from_ref(&r)).is_ok());
        assert!(check(&[r.clone(), r.clone()]).is_err(), "the same id twice");
        let mut handover = r.clone();
        handover.decision = DecisionKind::Delegate;
        assert!(check(&[handover]).is_err());
        let mut unknown = r;
        unknown.has_finding = Some("no.such.rule".into());
        assert!(check(&[unknown]).is_err());
        assert!(
            check(&default_rules()).is_ok(),
            "the built-in set passes its own check"
        );
    }

    #[test]
    fn a_rule_with_an_unknown_field_is_refused() {
        let bad = toml::from_str::<SuggestionRule>("id = \"x\"\ndecision = \"keep\"\nunused = 3\n");
        assert!(bad.is_err());
        let ok: SuggestionRule = toml::from_str(
            "id = \"x\"\ndecision = \"revoke\"\nunused_days_at_least = 3\nowner = \"departed\"\n",
        )
        .unwrap();
        assert_eq!(ok.owner, Some(OwnerIs::Departed));
    }
}
