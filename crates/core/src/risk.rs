//! Risk rules and the tier formula. Every rule has a stable id, an OWASP NHI code and a
//! severity, and its message names the evidence and the threshold it was held against.
//!
//! Tier formula (documented in README and shown with every result):
//! - no finding of severity low or above → `low`;
//! - otherwise the highest severity among the findings (info counts as nothing, low → `low`,
//!   medium → `medium`, high → `high`, critical → `critical`);
//! - `escalate_high_count` or more high findings on one record → `critical`;
//! - `escalate_medium_count` (0: off) or more medium findings → at least `high`;
//! - findings accepted by an unexpired policy exception are shown but not counted.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::model::{OwaspCode, Privilege, RecordClass, Severity, Status, Tier, Usage};
use crate::policy::{AppliedException, Exception, PolicyProblem, RuleOverride};
use crate::record::Record;

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
        }
    }
}

/// A rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The earliest threshold after `now` that evaluation passed by.
struct Horizon {
    now: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
}

impl Horizon {
    fn note(&mut self, at: DateTime<Utc>) {
        if at > self.now && self.next.is_none_or(|n| at < n) {
            self.next = Some(at);
        }
    }

    /// `days_between(from, now) > days` becomes true `days + 1` whole days after `from`.
    fn note_days_after(&mut self, from: DateTime<Utc>, days: i64) {
        if let Some(at) = days
            .checked_add(1)
            .and_then(Duration::try_days)
            .and_then(|d| from.checked_add_signed(d))
        {
            self.note(at);
        }
    }
}

fn finding(rule: &str, owasp: OwaspCode, severity: Severity, message: String) -> Finding {
    Finding {
        rule: rule.to_owned(),
        owasp,
        severity,
        message,
        exception: None,
    }
}

/// `a`, `a and b`, `a, b and c`, and beyond five the count of the rest.
fn name_places(places: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut named: Vec<&str> = places.iter().take(SHOWN).map(String::as_str).collect();
    let more = places.len().saturating_sub(SHOWN);
    let more_text = format!("{more} more");
    if more > 0 {
        named.push(&more_text);
    }
    match named.split_last() {
        None => String::new(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

fn days_between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> i64 {
    (later - earlier).num_days()
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
        let directory = ctx.directory;
        let mut findings = Vec::new();
        let live = r.status == Status::Active;
        let mut horizon = Horizon { now, next: None };
        // Every threshold the rules below compare `now` with, whether or not it applies: an
        // extra one only makes a stored evaluation be redone sooner.
        if let Some(c) = r.created_at {
            if let Some(at) =
                Duration::try_days(self.grace_days).and_then(|d| c.checked_add_signed(d))
            {
                horizon.note(at);
            }
            horizon.note_days_after(c, self.rotation_days);
            horizon.note_days_after(c, self.secret_max_age_days);
        }
        if let Some(last) = r.last_used_at {
            horizon.note_days_after(last, self.stale_days);
        }
        if let Some(last) = r.interactive_sign_in.as_ref().and_then(|s| s.last_at) {
            horizon.note_days_after(last, self.stale_days);
        }
        if let Some(exp) = r.expires_at {
            horizon.note(exp);
            if let Some(at) =
                Duration::try_days(self.expiring_soon_days).and_then(|d| exp.checked_sub_signed(d))
            {
                horizon.note(at);
            }
        }
        for e in &self.exceptions {
            // An exception covers through its expiry date, UTC.
            if let Some(day) = e.expires.0.succ_opt()
                && let Some(at) = day.and_hms_opt(0, 0, 0)
            {
                horizon.note(at.and_utc());
            }
        }
        let in_grace = r
            .created_at
            .is_some_and(|c| now - c < Duration::days(self.grace_days));

        // Usage. Disabled or gone records are not "unused"; no telemetry is not "never used".
        if live && !in_grace {
            match r.usage {
                Usage::Used => {
                    if let Some(last) = r.last_used_at {
                        let idle = days_between(last, now);
                        if idle > self.stale_days {
                            findings.push(finding(
                                "usage.stale",
                                OwaspCode::Nhi1,
                                Severity::Medium,
                                format!(
                                    "{} `{}` last used {idle} days ago, policy threshold {}",
                                    r.kind, r.name, self.stale_days
                                ),
                            ));
                        }
                    }
                }
                Usage::NeverUsed => {
                    let age = r.created_at.map(|c| days_between(c, now));
                    findings.push(finding(
                        "usage.never_used",
                        OwaspCode::Nhi1,
                        Severity::Medium,
                        match age {
                            Some(age) => format!(
                                "{} `{}` never used in the {age} days since it was created (grace period {} days)",
                                r.kind, r.name, self.grace_days
                            ),
                            None => format!("{} `{}` was never used", r.kind, r.name),
                        },
                    ));
                }
                Usage::NoTelemetry => findings.push(finding(
                    "usage.no_data",
                    OwaspCode::Nhi1,
                    Severity::Info,
                    format!(
                        "no usage data: the source cannot say whether `{}` is used",
                        r.name
                    ),
                )),
            }
        }

        // Human use of a non-human identity: a person can sign in as it. Worse when one has,
        // recently (within the staleness threshold): then someone is working as it.
        if live
            && r.class() == RecordClass::Identity
            && let Some(sign_in) = &r.interactive_sign_in
        {
            let recent = sign_in
                .last_at
                .map(|last| days_between(last, now))
                .filter(|days| *days <= self.stale_days);
            let when = match (sign_in.last_at, recent) {
                (Some(_), Some(days)) => format!("someone signed in that way {days} days ago"),
                (Some(last), None) => format!(
                    "the last sign-in that way was {} days ago",
                    days_between(last, now)
                ),
                (None, _) => "the platform reports no sign-in that way".to_owned(),
            };
            findings.push(finding(
                "usage.human_sign_in",
                OwaspCode::Nhi10,
                if recent.is_some() {
                    Severity::High
                } else {
                    Severity::Medium
                },
                format!(
                    "a person can sign in as {} `{}` ({}); {when}",
                    r.kind, r.name, sign_in.method
                ),
            ));
        }

        // Lifetime of secret material.
        if live && r.kind.is_secret_material() {
            match r.expires_at {
                None => findings.push(finding(
                    "lifetime.no_expiry",
                    OwaspCode::Nhi7,
                    Severity::Low,
                    format!("{} `{}` never expires", r.kind, r.name),
                )),
                Some(exp) if exp <= now => findings.push(finding(
                    "lifetime.expired_present",
                    OwaspCode::Nhi7,
                    Severity::Low,
                    format!(
                        "{} `{}` expired {} days ago and is still present",
                        r.kind,
                        r.name,
                        days_between(exp, now)
                    ),
                )),
                Some(exp) if exp - now <= Duration::days(self.expiring_soon_days) => {
                    findings.push(finding(
                        "lifetime.expiring_soon",
                        OwaspCode::Nhi7,
                        Severity::Low,
                        format!(
                            "{} `{}` expires in {} days (policy warns at {})",
                            r.kind,
                            r.name,
                            days_between(now, exp),
                            self.expiring_soon_days
                        ),
                    ))
                }
                Some(_) => {}
            }
            if let Some(created) = r.created_at {
                let age = days_between(created, now);
                if age > self.rotation_days {
                    findings.push(finding(
                        "lifetime.rotation_age",
                        OwaspCode::Nhi7,
                        Severity::Medium,
                        format!(
                            "{} `{}` not rotated for {age} days, policy threshold {}",
                            r.kind, r.name, self.rotation_days
                        ),
                    ));
                }
            }
        }

        // CI secrets: only names and dates are visible, so age since the last update is the
        // signal (connectors put the update time in `created_at`).
        if live
            && r.kind == crate::model::Kind::CiSecret
            && let Some(updated) = r.created_at
        {
            let age = days_between(updated, now);
            if age > self.secret_max_age_days {
                findings.push(finding(
                    "lifetime.secret_age",
                    OwaspCode::Nhi7,
                    Severity::Low,
                    format!(
                        "{} `{}` not updated for {age} days, policy threshold {}",
                        r.kind, r.name, self.secret_max_age_days
                    ),
                ));
            }
        }

        if live && r.privilege == Privilege::Admin {
            let detail = if r.privilege_detail.is_empty() {
                String::new()
            } else {
                format!(" ({})", r.privilege_detail.join(", "))
            };
            findings.push(finding(
                "privilege.admin",
                OwaspCode::Nhi5,
                Severity::High,
                format!("{} `{}` holds admin privilege{detail}", r.kind, r.name),
            ));
        }

        if live && r.class() == RecordClass::Identity && r.owner.is_none() {
            findings.push(finding(
                "owner.missing",
                OwaspCode::Nhi1,
                Severity::Medium,
                format!("{} `{}` has no owner", r.kind, r.name),
            ));
        }
        if live && r.class() == RecordClass::Identity && ctx.active_credentials >= 2 {
            findings.push(finding(
                "credential.two_active",
                OwaspCode::Nhi9,
                Severity::Medium,
                format!(
                    "{} `{}` holds {} active credentials: one should be retired after rotation",
                    r.kind, r.name, ctx.active_credentials
                ),
            ));
        }
        if live && let Some(reuse) = ctx.credential_reuse {
            findings.push(finding(
                "credential.reused_across_scopes",
                OwaspCode::Nhi9,
                Severity::High,
                format!(
                    "{} of `{}` is also used by {} ({} places)",
                    crate::credential_fingerprint::describe(&reuse.fingerprint),
                    r.name,
                    name_places(&reuse.elsewhere),
                    reuse.places,
                ),
            ));
        }
        if live && let Some(owner) = &r.owner {
            let source = r.owner_source.as_deref().unwrap_or("unknown source");
            match directory.status(owner) {
                Some(crate::directory::OwnerStatus::Departed) => findings.push(finding(
                    "owner.departed",
                    OwaspCode::Nhi1,
                    Severity::High,
                    format!(
                        "{} `{}` is owned by `{owner}` ({source}), who has left the directory",
                        r.kind, r.name
                    ),
                )),
                Some(crate::directory::OwnerStatus::Unknown) => findings.push(finding(
                    "owner.unknown",
                    OwaspCode::Nhi1,
                    Severity::Low,
                    format!(
                        "{} `{}` is owned by `{owner}` ({source}), whom the directory does not know",
                        r.kind, r.name
                    ),
                )),
                Some(crate::directory::OwnerStatus::Present) | None => {}
            }
        }

        // Platform rules the connector saw. A disabled record's configuration cannot be used,
        // so like the rules above they apply to live records only.
        if live {
            for s in &r.signals {
                if let Some(rule) = crate::signal::platform_rule(&s.rule) {
                    findings.push(finding(
                        rule.id,
                        rule.owasp,
                        rule.severity,
                        s.message.clone(),
                    ));
                }
            }
        }

        let findings = self.apply_overrides(r, now, findings);
        let tier = self.tier(&findings);
        Evaluation {
            tier,
            findings,
            until: horizon.next,
        }
    }

    /// Checks rule ids and exceptions (see [`crate::policy::check`]).
    pub fn validate(&self) -> Result<(), PolicyProblem> {
        crate::policy::check(&self.rules, &self.exceptions)?;
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
    use crate::model::{Kind, Platform};
    use crate::record::RecordKey;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
    }

    fn key() -> Record {
        Record {
            key: RecordKey {
                resource_type: "aws.access_key".into(),
                scope: "1".into(),
                external_id: "AKIA1".into(),
            },
            platform: Platform::Aws,
            kind: Kind::AccessKey,
            name: "AKIA…XYZ".into(),
            parent: None,
            status: Status::Active,
            created_at: Some(now() - Duration::days(30)),
            last_used_at: Some(now() - Duration::days(1)),
            usage: Usage::Used,
            expires_at: Some(now() + Duration::days(200)),
            privilege: Privilege::Read,
            privilege_detail: vec![],
            owner: Some("alice".into()),
            owner_source: Some("aws_tag:owner".into()),
            credential_fingerprint: None,
            signals: vec![],
            interactive_sign_in: None,
            raw: serde_json::Value::Null,
        }
    }

    fn rules(e: &Evaluation) -> Vec<&str> {
        e.findings.iter().map(|f| f.rule.as_str()).collect()
    }

    #[test]
    fn a_healthy_key_is_low_with_no_findings() {
        let e = RiskPolicy::default().evaluate(&key(), now());
        assert!(e.findings.is_empty(), "{e:?}");
        assert_eq!(e.tier, Tier::Low);
    }

    #[test]
    fn stale_key_names_days_and_threshold() {
        let mut r = key();
        r.last_used_at = Some(now() - Duration::days(212));
        let e = RiskPolicy::default().evaluate(&r, now());
        let f = e.findings.iter().find(|f| f.rule == "usage.stale").unwrap();
        assert!(
            f.message.contains("212 days ago, policy threshold 90"),
            "{}",
            f.message
        );
        assert_eq!(e.tier, Tier::Medium);
    }

    #[test]
    fn disabled_records_are_not_unused() {
        let mut r = key();
        r.status = Status::Disabled;
        r.usage = Usage::NeverUsed;
        assert!(
            RiskPolicy::default()
                .evaluate(&r, now())
                .findings
                .is_empty()
        );
    }

    /// NHI10: a person can sign in as a service identity. Medium while nobody has lately, high
    /// once someone has within the staleness threshold, until that sign-in is older; never on
    /// a credential or a disabled identity.
    #[test]
    fn people_who_can_sign_in_as_a_service_identity() {
        let policy = RiskPolicy::default();
        let human = |r: &Record, at: DateTime<Utc>| {
            policy
                .evaluate(r, at)
                .findings
                .into_iter()
                .find(|f| f.rule == "usage.human_sign_in")
        };
        let mut r = key();
        r.kind = Kind::ServiceAccount;
        r.name = "ci-deploy".into();
        r.expires_at = None;
        assert!(human(&r, now()).is_none(), "no sign-in method, no finding");

        r.interactive_sign_in = Some(crate::record::InteractiveSignIn {
            method: "console password".into(),
            last_at: None,
        });
        let f = human(&r, now()).unwrap();
        assert_eq!((f.severity, f.owasp), (Severity::Medium, OwaspCode::Nhi10));
        assert_eq!(
            f.message,
            "a person can sign in as service_account `ci-deploy` (console password); the platform reports no sign-in that way"
        );

        let signed_in = now() - Duration::days(12);
        if let Some(s) = r.interactive_sign_in.as_mut() {
            s.last_at = Some(signed_in);
        }
        let e = policy.evaluate(&r, now());
        let f = e
            .findings
            .iter()
            .find(|f| f.rule == "usage.human_sign_in")
            .unwrap();
        assert_eq!(f.severity, Severity::High);
        assert!(
            f.message
                .ends_with("someone signed in that way 12 days ago"),
            "{}",
            f.message
        );
        // The evaluation says when it stops holding: when that sign-in turns stale.
        let stale_at = signed_in + Duration::days(policy.stale_days);
        assert!(e.until.is_some_and(|u| u <= stale_at + Duration::days(1)));
        let later = human(&r, stale_at + Duration::days(1)).unwrap();
        assert_eq!(later.severity, Severity::Medium);
        assert!(
            later
                .message
                .ends_with("the last sign-in that way was 91 days ago"),
            "{}",
            later.message
        );

        r.status = Status::Disabled;
        assert!(human(&r, now()).is_none(), "a disabled identity");
        let mut credential = key();
        credential.interactive_sign_in = r.interactive_sign_in.clone();
        assert!(human(&credential, now()).is_none(), "a credential");
    }

    #[test]
    fn no_telemetry_is_not_never_used() {
        let mut r = key();
        r.usage = Usage::NoTelemetry;
        r.last_used_at = None;
        let e = RiskPolicy::default().evaluate(&r, now());
        assert_eq!(rules(&e), vec!["usage.no_data"]);
        assert_eq!(e.tier, Tier::Low);
    }

    #[test]
    fn fresh_key_in_grace_period_is_not_never_used() {
        let mut r = key();
        r.usage = Usage::NeverUsed;
        r.last_used_at = None;
        r.created_at = Some(now() - Duration::days(1));
        assert!(!rules(&RiskPolicy::default().evaluate(&r, now())).contains(&"usage.never_used"));
        r.created_at = Some(now() - Duration::days(30));
        assert!(rules(&RiskPolicy::default().evaluate(&r, now())).contains(&"usage.never_used"));
    }

    #[test]
    fn lifetime_rules() {
        let p = RiskPolicy::default();
        let mut r = key();
        r.expires_at = None;
        r.created_at = Some(now() - Duration::days(400));
        let e = p.evaluate(&r, now());
        assert!(
            rules(&e).contains(&"lifetime.no_expiry")
                && rules(&e).contains(&"lifetime.rotation_age")
        );
        r.expires_at = Some(now() + Duration::days(3));
        assert!(rules(&p.evaluate(&r, now())).contains(&"lifetime.expiring_soon"));
        r.expires_at = Some(now() - Duration::days(3));
        assert!(rules(&p.evaluate(&r, now())).contains(&"lifetime.expired_present"));
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
    fn platform_signals_become_findings_under_the_same_policy() {
        let mut r = key();
        r.kind = Kind::Role;
        r.signals = vec![
            crate::Signal::new("aws.trust.no_sub", "no `sub` condition"),
            crate::Signal::new("no.such.rule", "ignored"),
        ];
        let p = RiskPolicy::default();
        let e = p.evaluate(&r, now());
        let f = e
            .findings
            .iter()
            .find(|f| f.rule == "aws.trust.no_sub")
            .unwrap();
        assert_eq!((f.owasp, f.severity), (OwaspCode::Nhi6, Severity::Critical));
        assert_eq!(e.tier, Tier::Critical);
        assert!(!rules(&e).contains(&"no.such.rule"));

        // Overrides and exceptions reach platform rules too.
        let mut p = RiskPolicy::default();
        p.rules.insert(
            "aws.trust.no_sub".into(),
            crate::policy::RuleOverride {
                enabled: true,
                severity: Some(Severity::Medium),
            },
        );
        p.validate().unwrap();
        assert_eq!(p.evaluate(&r, now()).tier, Tier::Medium);

        // A disabled role cannot be assumed: no finding.
        r.status = Status::Disabled;
        assert!(!rules(&RiskPolicy::default().evaluate(&r, now())).contains(&"aws.trust.no_sub"));
    }

    #[test]
    fn ci_secrets_age_from_their_last_update() {
        let mut r = key();
        r.kind = Kind::CiSecret;
        r.expires_at = None;
        r.created_at = Some(now() - Duration::days(400));
        let e = RiskPolicy::default().evaluate(&r, now());
        let f = e
            .findings
            .iter()
            .find(|f| f.rule == "lifetime.secret_age")
            .unwrap();
        assert!(f.message.contains("400 days"), "{}", f.message);
        r.created_at = Some(now() - Duration::days(300));
        assert!(
            !rules(&RiskPolicy::default().evaluate(&r, now())).contains(&"lifetime.secret_age")
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
    fn owners_who_left_the_directory_orphan_their_identities() {
        let mut d = crate::directory::Directory::default();
        let mut r = key();
        r.kind = Kind::ServiceAccount;
        let p = RiskPolicy::default();
        // No directory imported: nothing to say about the owner.
        assert!(
            p.evaluate_with(
                &r,
                now(),
                &Context {
                    directory: &d,
                    active_credentials: 0,
                    credential_reuse: None,
                }
            )
            .findings
            .is_empty()
        );
        d.insert(["alice"], false);
        let e = p.evaluate_with(
            &r,
            now(),
            &Context {
                directory: &d,
                active_credentials: 0,
                credential_reuse: None,
            },
        );
        let f = e
            .findings
            .iter()
            .find(|f| f.rule == "owner.departed")
            .unwrap();
        assert!(
            f.message.contains("`alice` (aws_tag:owner)"),
            "{}",
            f.message
        );
        assert_eq!(e.tier, Tier::High);
        d.insert(["alice"], true);
        assert!(
            p.evaluate_with(
                &r,
                now(),
                &Context {
                    directory: &d,
                    active_credentials: 0,
                    credential_reuse: None,
                }
            )
            .findings
            .is_empty()
        );
        r.owner = Some("zed".into());
        assert_eq!(
            rules(&p.evaluate_with(
                &r,
                now(),
                &Context {
                    directory: &d,
                    active_credentials: 0,
                    credential_reuse: None,
                }
            )),
            vec!["owner.unknown"]
        );
        // A disabled identity is not judged.
        r.status = Status::Disabled;
        assert!(
            p.evaluate_with(
                &r,
                now(),
                &Context {
                    directory: &d,
                    active_credentials: 0,
                    credential_reuse: None,
                }
            )
            .findings
            .is_empty()
        );
    }

    #[test]
    fn identities_with_two_active_credentials() {
        let mut r = key();
        r.kind = Kind::ServiceAccount;
        let p = RiskPolicy::default();
        let d = crate::directory::Directory::default();
        let ctx = |n| Context {
            directory: &d,
            active_credentials: n,
            credential_reuse: None,
        };
        assert!(p.evaluate_with(&r, now(), &ctx(1)).findings.is_empty());
        let e = p.evaluate_with(&r, now(), &ctx(2));
        assert_eq!(rules(&e), vec!["credential.two_active"]);
        assert_eq!(e.findings[0].owasp, OwaspCode::Nhi9);
        r.kind = Kind::AccessKey;
        assert!(
            p.evaluate_with(&r, now(), &ctx(2)).findings.is_empty(),
            "credentials are not judged"
        );
    }

    #[test]
    fn credential_material_used_in_several_places() {
        use crate::credential_fingerprint::{CredentialUse, reuse_by_record};
        let fp = "ssh-sha256:g1oh/1xMuMlknIQetWCq/5KLoLg0febxrDdzQjsbI7Y";
        let use_of = |id, platform, scope: &str, name: &str| CredentialUse {
            id,
            fingerprint: Some(fp.to_owned()),
            platform,
            scope: scope.to_owned(),
            kind: Kind::DeployKey,
            name: name.to_owned(),
            status: Status::Active,
            parent_id: None,
            parent_name: None,
        };
        let reuse = reuse_by_record(&[
            use_of(1, Platform::Github, "acme", "acme/web: ci"),
            use_of(2, Platform::Github, "acme", "acme/api: ci"),
            use_of(3, Platform::Gitlab, "infra", "infra/deploy: ci"),
        ]);
        let mut r = key();
        r.kind = Kind::DeployKey;
        r.name = "acme/web: ci".into();
        r.credential_fingerprint = Some(fp.into());
        let d = crate::directory::Directory::default();
        let ctx = Context {
            directory: &d,
            active_credentials: 0,
            credential_reuse: reuse.get(&1),
        };
        let p = RiskPolicy::default();
        let e = p.evaluate_with(&r, now(), &ctx);
        let f = e
            .findings
            .iter()
            .find(|f| f.rule == "credential.reused_across_scopes")
            .unwrap();
        assert_eq!((f.owasp, f.severity), (OwaspCode::Nhi9, Severity::High));
        assert_eq!(
            f.message,
            "public key SHA256:g1oh…bI7Y of `acme/web: ci` is also used by github deploy key \
             `acme/api: ci` and gitlab deploy key `infra/deploy: ci` (3 places)"
        );
        assert_eq!(e.tier, Tier::High);
        // Without the context (one place) nothing fires, and a disabled key is not judged.
        assert!(!rules(&p.evaluate(&r, now())).contains(&"credential.reused_across_scopes"));
        r.status = Status::Disabled;
        assert!(
            !rules(&p.evaluate_with(&r, now(), &ctx)).contains(&"credential.reused_across_scopes")
        );
    }

    #[test]
    fn long_lists_of_places_are_cut() {
        let places: Vec<String> = (1..=7).map(|i| format!("p{i}")).collect();
        assert_eq!(name_places(&places[..1]), "p1");
        assert_eq!(name_places(&places[..2]), "p1 and p2");
        assert_eq!(name_places(&places), "p1, p2, p3, p4, p5 and 2 more");
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
