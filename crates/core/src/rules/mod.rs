//! The cross-platform risk rules, one file per family. [`crate::risk::RiskPolicy::evaluate_with`]
//! runs every family's `check` in the order of [`FAMILIES`], then applies the policy's overrides
//! and exceptions and the tier formula.
//!
//! A family's `check` appends its findings and notes on the [`Horizon`] every time threshold it
//! compares `now` with, whether or not its rule applies to the record: an extra one only makes a
//! stored evaluation be redone sooner, a missing one would keep it past its end.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::model::{OwaspCode, Severity};
use crate::record::Record;
use crate::risk::{Context, Finding, RiskPolicy};

mod lifetime;
mod owner_status;
mod ownership;
mod privilege;
mod reuse;
mod signals;
mod usage;

/// The rules behind "stale" wherever it is counted or listed (the dashboard tile and trend, the
/// inventory's `stale` filter, `--stale`): unused beyond the threshold, or never used.
pub const STALE_RULES: &[&str] = &["usage.stale", "usage.never_used"];
/// The rules behind "orphaned" wherever it is counted or listed: no owner, or the owner left.
pub const ORPHANED_RULES: &[&str] = &["owner.missing", "owner.departed"];
/// The rule behind "never used" (the tile and the last-used chart's bar).
pub const NEVER_USED_RULE: &str = "usage.never_used";
/// The rule behind "no usage data" (the tile and the last-used chart's bar).
pub const NO_USAGE_DATA_RULE: &str = "usage.no_data";

/// What every rule is held against: the policy's thresholds, what other records and the
/// directory say about the record, and whether it is live.
pub(crate) struct RuleContext<'a> {
    pub(crate) policy: &'a RiskPolicy,
    pub(crate) context: &'a Context<'a>,
    /// Only an active record is judged: a disabled or deleted one cannot be used.
    pub(crate) live: bool,
}

type Check = fn(&Record, &RuleContext<'_>, DateTime<Utc>, &mut Vec<Finding>, &mut Horizon);

/// Every family, in the order their findings are listed; stored evaluations and the tests keep
/// that order. `owner.missing` and `owner.departed`/`owner.unknown` are two families because the
/// credential rules have always been listed between them.
pub(crate) const FAMILIES: &[Check] = &[
    usage::check,
    lifetime::check,
    privilege::check,
    ownership::check,
    reuse::check,
    owner_status::check,
    signals::check,
];

/// The earliest threshold after `now` that evaluation passed by.
pub(crate) struct Horizon {
    now: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
}

impl Horizon {
    pub(crate) fn new(now: DateTime<Utc>) -> Self {
        Self { now, next: None }
    }

    /// The first threshold noted after `now`, if any.
    pub(crate) fn next(&self) -> Option<DateTime<Utc>> {
        self.next
    }

    pub(crate) fn note(&mut self, at: DateTime<Utc>) {
        if at > self.now && self.next.is_none_or(|n| at < n) {
            self.next = Some(at);
        }
    }

    /// `days_between(from, now) > days` becomes true `days + 1` whole days after `from`.
    pub(crate) fn note_days_after(&mut self, from: DateTime<Utc>, days: i64) {
        if let Some(at) = days
            .checked_add(1)
            .and_then(Duration::try_days)
            .and_then(|d| from.checked_add_signed(d))
        {
            self.note(at);
        }
    }

    /// Something that holds through `day` (UTC) stops at the next midnight.
    pub(crate) fn note_end_of(&mut self, day: NaiveDate) {
        if let Some(next) = day.succ_opt()
            && let Some(at) = next.and_hms_opt(0, 0, 0)
        {
            self.note(at.and_utc());
        }
    }
}

pub(crate) fn finding(
    rule: &str,
    owasp: OwaspCode,
    severity: Severity,
    message: String,
) -> Finding {
    Finding {
        rule: rule.to_owned(),
        owasp,
        severity,
        message,
        exception: None,
    }
}

pub(crate) fn days_between(earlier: DateTime<Utc>, later: DateTime<Utc>) -> i64 {
    (later - earlier).num_days()
}

/// A fixed clock and a healthy record for the rule tests, which evaluate through
/// [`RiskPolicy::evaluate`] so that overrides and the tier formula are exercised too.
#[cfg(test)]
pub(crate) mod fixtures {
    use chrono::{DateTime, Duration, TimeZone, Utc};

    use crate::model::{Kind, Platform, Privilege, Status, Usage};
    use crate::record::{Record, RecordKey};
    use crate::risk::Evaluation;

    pub(crate) fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
    }

    /// An active AWS access key, used yesterday, expiring in 200 days, owned: no finding.
    pub(crate) fn key() -> Record {
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

    pub(crate) fn rules(e: &Evaluation) -> Vec<&str> {
        e.findings.iter().map(|f| f.rule.as_str()).collect()
    }
}
