//! Risk evaluation and the tier formula; the rules themselves are in `rules/`, one file per
//! family. Every rule has a stable id, an OWASP NHI code and a severity, and its message names
//! the evidence and the threshold it was held against.
//!
//! Tier formula (documented in README and shown with every result):
//! - no finding of severity low or above → `low`;
//! - otherwise the highest severity among the findings (info counts as nothing, low → `low`,
//!   medium → `medium`, high → `high`, critical → `critical`);
//! - `escalate_high_count` or more high findings on one record → `critical`;
//! - `escalate_medium_count` (0: off) or more medium findings → at least `high`;
//! - findings accepted by an unexpired policy exception are shown but not counted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::model::{OwaspCode, Severity, Status, Tier};
use crate::policy::{AppliedException, Exception, PolicyProblem, RuleOverride};
use crate::record::Record;
use crate::rules::{FAMILIES, Horizon, RuleContext};

/// Thresholds the rules are held against. Defaults are DESIGN.md §3's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskPolicy {
    /// Unused for longer than this → stale.
    pub stale_days: i64,
    /// Secret material older than this without rotation.
    pub rotation_days: i64,
    /// A CI secret not updated for longer than this.
    pub secret_max_age_days: i64,
    /// Expiring within this many days.
    pub expiring_soon_days: i64,
    /// A credential younger than this is not judged "never used" or stale.
    pub grace_days: i64,
    /// This many high findings on one record make it critical.
    pub escalate_high_count: usize,
    /// This many medium findings on one record make it at least high; 0 switches it off.
    pub escalate_medium_count: usize,
    /// `[rules."id"]`: rule switches and severity overrides.
    pub rules: BTreeMap<String, RuleOverride>,
    /// `[[exceptions]]`: accepted findings, each with an owner, a reason and an expiry.
    pub exceptions: Vec<Exception>,
    /// `[[owners]]`: identity-as-code ownership (see [`crate::ownership`]).
    pub owners: Vec<crate::ownership::OwnerRule>,
    /// `[[suggestions]]`: the decision suggested to reviewers, first match wins (see
    /// [`crate::suggestion`]); empty: the built-in rules.
    pub suggestions: Vec<crate::suggestion::SuggestionRule>,
    /// Reviewers may accept suggestions in bulk for items at or below this tier.
    pub accept_suggestions_up_to: Tier,
}

impl Default for RiskPolicy {
    fn default() -> Self {
        Self {
            stale_days: 90,
            rotation_days: 90,
            secret_max_age_days: 365,
            expiring_soon_days: 14,
            grace_days: 7,
            escalate_high_count: 2,
            escalate_medium_count: 0,
            rules: BTreeMap::new(),
            exceptions: Vec::new(),
            owners: Vec::new(),
            suggestions: Vec::new(),
            accept_suggestions_up_to: Tier::Medium,
        }
    }
}

/// A rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Finding {
    pub rule: String,
    pub owasp: OwaspCode,
    pub severity: Severity,
    pub message: String,
    /// Set when a policy exception accepts this finding: it is shown, but not counted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<AppliedException>,
}

/// What the rules know of a record beyond the record itself.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The people directory (empty: nothing is said about owners' presence).
    pub directory: &'a crate::directory::Directory,
    /// Active credentials whose parent is this record.
    pub active_credentials: u32,
    /// Where else this credential's material is used, when it is used in more than one place.
    pub credential_reuse: Option<&'a crate::credential_fingerprint::CredentialReuse>,
}

static EMPTY_DIRECTORY: std::sync::LazyLock<crate::directory::Directory> =
    std::sync::LazyLock::new(crate::directory::Directory::default);

impl Default for Context<'_> {
    fn default() -> Self {
        Self {
            directory: &EMPTY_DIRECTORY,
            active_credentials: 0,
            credential_reuse: None,
        }
    }
}

/// The result of evaluating one record at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub tier: Tier,
    pub findings: Vec<Finding>,
    /// The first later moment at which a time threshold of the rules (grace period, staleness,
    /// expiry, rotation age, an exception's end) is crossed: until then the same record in the
    /// same context has the same tier and rules, so a stored evaluation can be trusted up to it.
    /// `None`: no threshold lies ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

impl RiskPolicy {
    /// Sets the record's owner from `[[owners]]` when an entry matches.
    pub fn resolve_owner(&self, r: &mut Record) {
        crate::ownership::resolve_owner(&self.owners, r);
    }

    /// Evaluates one record's own rules at `now`, without a people directory.
    pub fn evaluate(&self, r: &Record, now: DateTime<Utc>) -> Evaluation {
        self.evaluate_with(r, now, &Context::default())
    }

    /// Evaluates one record at `now` with what other records and the directory say about it.
    pub fn evaluate_with(&self, r: &Record, now: DateTime<Utc>, ctx: &Context<'_>) -> Evaluation {
        let rules = RuleContext {
            policy: self,
            context: ctx,
            live: r.status == Status::Active,
        };
        let mut findings = Vec::new();
        let mut horizon = Horizon::new(now);
        for check in FAMILIES {
            check(r, &rules, now, &mut findings, &mut horizon);
        }
        // An exception covers through its expiry date: its end changes the tier too.
        for e in &self.exceptions {
            horizon.note_end_of(e.expires.0);
        }
        let findings = self.apply_overrides(r, now, findings);
        let tier = self.tier(&findings);
        Evaluation {
            tier,
            findings,
            until: horizon.next(),
        }
    }

    /// Checks the thresholds, rule ids and exceptions (see [`crate::policy::check`]).
    pub fn validate(&self) -> Result<(), PolicyProblem> {
        for (key, value) in [
            ("stale_days", self.stale_days),
            ("rotation_days", self.rotation_days),
            ("secret_max_age_days", self.secret_max_age_days),
            ("expiring_soon_days", self.expiring_soon_days),
            ("grace_days", self.grace_days),
        ] {
            if !(0..=crate::policy::MAX_POLICY_DAYS).contains(&value) {
                return Err(PolicyProblem::DaysOutOfRange { key, value });
            }
        }
        crate::policy::check(&self.rules, &self.exceptions)?;
        crate::suggestion::check(&self.suggestions)?;
        match self.owners.iter().position(|o| !o.is_scoped()) {
            Some(i) => Err(PolicyProblem::UnscopedOwner(i)),
            None => Ok(()),
        }
    }

    /// Drops switched-off rules, applies severity overrides, marks excepted findings.
    fn apply_overrides(
        &self,
        r: &Record,
        now: DateTime<Utc>,
        findings: Vec<Finding>,
    ) -> Vec<Finding> {
        if self.rules.is_empty() && self.exceptions.is_empty() {
            return findings;
        }
        findings
            .into_iter()
            .filter_map(|mut f| {
                if let Some(o) = self.rules.get(&f.rule) {
                    if !o.enabled {
                        return None;
                    }
                    if let Some(sev) = o.severity {
                        f.severity = sev;
                    }
                }
                if let Some(e) = self.exceptions.iter().find(|e| e.covers(&f.rule, r, now)) {
                    f.exception = Some(AppliedException {
                        owner: e.owner.clone(),
                        reason: e.reason.clone(),
                        expires: e.expires.0,
                    });
                }
                Some(f)
            })
            .collect()
    }

    /// [`Self::tier`] applied to these findings, in one line: which rule of the formula set the
    /// tier, with the policy values it used ("2 high findings → critical
    /// (escalate_high_count = 2)").
    pub fn tier_reason(&self, findings: &[Finding]) -> String {
        let counted: Vec<&Finding> = findings.iter().filter(|f| f.exception.is_none()).collect();
        let excepted = findings.len() - counted.len();
        let aside = match excepted {
            0 => String::new(),
            n => format!("; {n} finding(s) under an exception not counted"),
        };
        let highs = counted
            .iter()
            .filter(|f| f.severity >= Severity::High)
            .count();
        let tier = self.tier(findings);
        if highs >= self.escalate_high_count.max(1) && tier == Tier::Critical {
            let critical = counted.iter().any(|f| f.severity == Severity::Critical);
            if critical {
                return format!("a critical finding → critical{aside}");
            }
            return format!(
                "{highs} high findings → critical (escalate_high_count = {}){aside}",
                self.escalate_high_count
            );
        }
        let mediums = counted
            .iter()
            .filter(|f| f.severity == Severity::Medium)
            .count();
        let most = counted.iter().map(|f| f.severity).max();
        match most {
            None => format!("no findings → low{aside}"),
            Some(Severity::Medium)
                if self.escalate_medium_count > 0
                    && mediums >= self.escalate_medium_count
                    && tier == Tier::High =>
            {
                format!(
                    "{mediums} medium findings → high (escalate_medium_count = {}){aside}",
                    self.escalate_medium_count
                )
            }
            Some(s) => format!("highest finding {} → {}{aside}", s.as_str(), tier.as_str()),
        }
    }

    /// The tier formula (see the module documentation).
    pub fn tier(&self, findings: &[Finding]) -> Tier {
        let counted = || findings.iter().filter(|f| f.exception.is_none());
        let highs = counted().filter(|f| f.severity >= Severity::High).count();
        if highs >= self.escalate_high_count.max(1) {
            return Tier::Critical;
        }
        let highest = counted()
            .map(|f| match f.severity {
                Severity::Info | Severity::Low => Tier::Low,
                Severity::Medium => Tier::Medium,
                Severity::High => Tier::High,
                Severity::Critical => Tier::Critical,
            })
            .max()
            .unwrap_or(Tier::Low);
        let mediums = counted().filter(|f| f.severity == Severity::Medium).count();
        if self.escalate_medium_count > 0 && mediums >= self.escalate_medium_count {
            return highest.max(Tier::High);
        }
        highest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Kind, Platform, Privilege, Usage};
    use crate::rules::finding;
    use crate::rules::fixtures::{key, now, rules};
    use chrono::Duration;

    /// Thresholds are days from 0 to a hundred years: a negative one or one near 10^11 (which
    /// panicked the date arithmetic) is refused naming the key; the bounds themselves hold.
    #[test]
    fn thresholds_out_of_range_are_refused_by_name() {
        for (key, value) in [("grace_days", 100_000_000_000_i64), ("stale_days", -1)] {
            let p: RiskPolicy = toml::from_str(&format!("{key} = {value}")).unwrap();
            let err = p.validate().unwrap_err().to_string();
            assert!(err.contains(key) && err.contains("0 to 36500"), "{err}");
        }
        for value in [0, crate::policy::MAX_POLICY_DAYS] {
            let p: RiskPolicy = toml::from_str(&format!("expiring_soon_days = {value}")).unwrap();
            assert!(p.validate().is_ok(), "{value}");
            // Evaluating at the bound does not panic.
            let _ = p.evaluate(&key(), now());
        }
    }

    #[test]
    fn the_tier_reason_names_the_part_of_the_formula_that_set_it() {
        let f = |sev: Severity| Finding {
            rule: "x".into(),
            owasp: crate::model::OwaspCode::Nhi1,
            severity: sev,
            message: "m".into(),
            exception: None,
        };
        let p = RiskPolicy::default();
        let cases = [
            (vec![], "no findings → low"),
            (vec![f(Severity::Medium)], "highest finding medium → medium"),
            (vec![f(Severity::High)], "highest finding high → high"),
            (
                vec![f(Severity::High), f(Severity::High)],
                "2 high findings → critical (escalate_high_count = 2)",
            ),
        ];
        for (findings, want) in cases {
            assert_eq!(p.tier_reason(&findings), want);
            // The tier the reason states is the one tier() computes.
            let stated = want
                .split("→ ")
                .nth(1)
                .and_then(|t| t.split([' ', ';']).next());
            assert_eq!(stated, Some(p.tier(&findings).as_str()), "{want}");
        }
        // An excepted high does not count, and the reason says so.
        let mut excepted = f(Severity::High);
        excepted.exception = Some(crate::policy::AppliedException {
            owner: "iam".into(),
            reason: "known".into(),
            expires: chrono::NaiveDate::from_ymd_opt(2027, 1, 1).unwrap(),
        });
        let two = vec![f(Severity::High), excepted];
        assert_eq!(p.tier(&two), Tier::High);
        assert_eq!(
            p.tier_reason(&two),
            "highest finding high → high; 1 finding(s) under an exception not counted"
        );
        // Mediums that add up, when the policy says so.
        let p = RiskPolicy {
            escalate_medium_count: 3,
            ..RiskPolicy::default()
        };
        let mediums = vec![f(Severity::Medium); 3];
        assert_eq!(p.tier(&mediums), Tier::High);
        assert_eq!(
            p.tier_reason(&mediums),
            "3 medium findings → high (escalate_medium_count = 3)"
        );
    }

    #[test]
    fn a_healthy_key_is_low_with_no_findings() {
        let e = RiskPolicy::default().evaluate(&key(), now());
        assert!(e.findings.is_empty(), "{e:?}");
        assert_eq!(e.tier, Tier::Low);
    }

    #[test]
    fn admin_without_owner_escalates_only_with_two_highs() {
        let p = RiskPolicy::default();
        let mut r = key();
        r.kind = Kind::ServiceAccount;
        r.privilege = Privilege::Admin;
        r.privilege_detail = vec!["AdministratorAccess".into()];
        r.owner = None;
        let e = p.evaluate(&r, now());
        assert_eq!(e.tier, Tier::High);
        assert!(rules(&e).contains(&"owner.missing"));
        let admin = e
            .findings
            .iter()
            .find(|f| f.rule == "privilege.admin")
            .unwrap()
            .clone();
        assert_eq!(p.tier(&[admin.clone(), admin]), Tier::Critical);
    }

    fn admin_key() -> Record {
        let mut r = key();
        r.privilege = Privilege::Admin;
        r.name = "sample-gha-deploy-7".into();
        r
    }

    fn exception(expires: &str) -> crate::policy::Exception {
        serde_json::from_value(serde_json::json!({
            "rule": "privilege.admin", "platform": "aws", "name": "sample-gha-*",
            "owner": "alice@acme.example", "reason": "break-glass role", "expires": expires
        }))
        .unwrap()
    }

    #[test]
    fn exceptions_apply_until_they_expire() {
        let mut p = RiskPolicy::default();
        p.exceptions.push(exception("2026-06-01"));
        p.validate().unwrap();
        // On its last day it applies: the finding is shown, marked, and not counted.
        let e = p.evaluate(&admin_key(), now());
        let f = e
            .findings
            .iter()
            .find(|f| f.rule == "privilege.admin")
            .unwrap();
        assert_eq!(f.exception.as_ref().unwrap().owner, "alice@acme.example");
        assert_eq!(e.tier, Tier::Low);
        // The day after, it does not.
        let later = p.evaluate(&admin_key(), now() + Duration::days(1));
        assert!(later.findings.iter().all(|f| f.exception.is_none()));
        assert_eq!(later.tier, Tier::High);
        // Another name is not covered.
        let mut other = admin_key();
        other.name = "prod-admin".into();
        assert_eq!(p.evaluate(&other, now()).tier, Tier::High);
    }

    #[test]
    fn rules_can_be_switched_off_or_reweighted() {
        let mut p = RiskPolicy::default();
        p.rules.insert(
            "privilege.admin".into(),
            crate::policy::RuleOverride {
                enabled: true,
                severity: Some(Severity::Critical),
            },
        );
        assert_eq!(p.evaluate(&admin_key(), now()).tier, Tier::Critical);
        p.rules.insert(
            "privilege.admin".into(),
            crate::policy::RuleOverride {
                enabled: false,
                severity: None,
            },
        );
        let e = p.evaluate(&admin_key(), now());
        assert!(e.findings.is_empty() && e.tier == Tier::Low);
    }

    #[test]
    fn impossible_policies_are_refused() {
        let mut p = RiskPolicy::default();
        p.rules.insert(
            "privilege.adnim".into(),
            crate::policy::RuleOverride {
                enabled: false,
                severity: None,
            },
        );
        assert!(
            p.validate()
                .unwrap_err()
                .to_string()
                .contains("privilege.adnim")
        );
        let mut p = RiskPolicy::default();
        let mut e = exception("2027-01-01");
        e.platform = None;
        e.name = None;
        p.exceptions.push(e);
        assert!(
            p.validate()
                .unwrap_err()
                .to_string()
                .contains("exceptions[0]")
        );
    }

    #[test]
    fn owners_in_the_policy_win_over_platform_hints_in_order() {
        let p: RiskPolicy = toml::from_str(
            r#"
[[owners]]
platform = "aws"
name = "AKIA*"
owner = "payments-team"
[[owners]]
platform = "aws"
owner = "cloud-team"
"#,
        )
        .unwrap();
        p.validate().unwrap();
        let mut r = key();
        r.name = "AKIA1 (etl)".into();
        p.resolve_owner(&mut r);
        assert_eq!(r.owner.as_deref(), Some("payments-team"));
        assert_eq!(r.owner_source.as_deref(), Some("policy:owners[0]"));
        let mut r = key();
        r.platform = Platform::Github;
        p.resolve_owner(&mut r);
        assert_eq!(
            r.owner_source.as_deref(),
            Some("aws_tag:owner"),
            "no match keeps the platform's"
        );
        let bad: RiskPolicy = toml::from_str("[[owners]]\nowner = \"x\"\n").unwrap();
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("owners[0]")
        );
    }

    #[test]
    fn many_mediums_can_escalate_when_the_policy_says_so() {
        let f = |sev| finding("usage.stale", OwaspCode::Nhi1, sev, String::new());
        let three = [
            f(Severity::Medium),
            f(Severity::Medium),
            f(Severity::Medium),
        ];
        let mut p = RiskPolicy::default();
        assert_eq!(p.tier(&three), Tier::Medium);
        p.escalate_medium_count = 3;
        assert_eq!(p.tier(&three), Tier::High);
        assert_eq!(p.tier(&three[..2]), Tier::Medium);
    }

    /// Walks a record through a year an hour at a time: wherever the rules' outcome changes,
    /// the evaluation before the change named that moment (or an earlier one) as its end.
    #[test]
    fn an_evaluation_holds_until_the_moment_it_names() {
        // An exception that ends in the middle of the walk is a threshold too.
        let p: RiskPolicy = toml::from_str(
            "[[exceptions]]\nrule = \"lifetime.no_expiry\"\nowner = \"a\"\nreason = \"r\"\nexpires = 2026-08-15\nplatform = \"aws\"\n",
        )
        .unwrap();
        let mut used = key();
        used.last_used_at = Some(now() - Duration::days(80));
        used.expires_at = Some(now() + Duration::days(120));
        let mut never = key();
        never.usage = Usage::NeverUsed;
        never.last_used_at = None;
        never.created_at = Some(now() - Duration::days(2));
        never.expires_at = None;
        let outcome = |e: &Evaluation| (e.tier, rules(e).join(","));
        for r in [used, never] {
            let mut at = now();
            let mut e = p.evaluate(&r, at);
            let mut changes = 0;
            while at < now() + Duration::days(365) {
                at += Duration::hours(1);
                let next = p.evaluate(&r, at);
                if outcome(&next) != outcome(&e) {
                    changes += 1;
                    let until = e
                        .until
                        .expect("a change was ahead, so a threshold was named");
                    assert!(
                        until <= at,
                        "{:?} changed at {at} but claimed to hold until {until}",
                        outcome(&e)
                    );
                }
                if e.until.is_some_and(|u| u <= at) || outcome(&next) != outcome(&e) {
                    e = next;
                }
            }
            assert!(changes >= 2, "the walk crossed thresholds ({changes})");
        }
        let mut timeless = key();
        timeless.created_at = None;
        timeless.expires_at = None;
        timeless.last_used_at = None;
        timeless.usage = Usage::NoTelemetry;
        assert_eq!(RiskPolicy::default().evaluate(&timeless, now()).until, None);
    }
}
