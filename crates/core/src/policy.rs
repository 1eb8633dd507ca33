//! Policy as code beyond thresholds: rule switches and severity overrides, and exceptions that
//! carry an owner, a reason and an expiry date — an expired exception stops applying.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{Kind, Platform, Severity};
use crate::record::Record;

/// Every cross-platform rule id the engine produces; with [`crate::signal::PLATFORM_RULES`]
/// these are all the ids a policy may name.
pub const RULE_IDS: &[&str] = &[
    "usage.stale",
    "usage.never_used",
    "usage.no_data",
    "usage.human_sign_in",
    "lifetime.no_expiry",
    "lifetime.expired_present",
    "lifetime.expiring_soon",
    "lifetime.rotation_age",
    "lifetime.secret_age",
    "privilege.admin",
    "owner.missing",
    "credential.two_active",
    "credential.reused_across_scopes",
    "owner.departed",
    "owner.unknown",
];

/// Whether `id` names a cross-platform or a platform rule.
pub fn is_known_rule(id: &str) -> bool {
    RULE_IDS.contains(&id) || crate::signal::platform_rule(id).is_some()
}

/// Every rule id, cross-platform first.
pub fn known_rule_ids() -> Vec<&'static str> {
    RULE_IDS
        .iter()
        .copied()
        .chain(crate::signal::PLATFORM_RULES.iter().map(|r| r.id))
        .collect()
}

/// `[rules."rule.id"]`: switch a rule off or change its severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOverride {
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub severity: Option<Severity>,
}

fn enabled_by_default() -> bool {
    true
}

/// `[[exceptions]]`: a finding accepted for a while, by someone, for a reason. It still shows,
/// marked as excepted, but no longer counts towards the tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    /// A rule id, or `*` for every rule.
    pub rule: String,
    pub platform: Option<Platform>,
    pub scope: Option<String>,
    pub kind: Option<Kind>,
    /// Glob on the record's name (`*` matches any run of characters).
    pub name: Option<String>,
    pub external_id: Option<String>,
    /// Who answers for the exception.
    pub owner: String,
    pub reason: String,
    /// The last day it applies (UTC); a TOML date or a `"YYYY-MM-DD"` string.
    pub expires: ExpiryDate,
}

/// The exception a finding was accepted under, shown with the finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AppliedException {
    pub owner: String,
    pub reason: String,
    pub expires: NaiveDate,
}

/// A date that deserialises from a string or from a native TOML date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ExpiryDate(pub NaiveDate);

impl<'de> Deserialize<'de> for ExpiryDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ExpiryDate;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a date such as 2027-01-31")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<ExpiryDate, E> {
                // A TOML date-time is accepted by its date part.
                let date = s.get(..10).unwrap_or(s);
                NaiveDate::parse_from_str(date, "%Y-%m-%d")
                    .map(ExpiryDate)
                    .map_err(|_| E::custom(format!("`{s}` is not a date such as 2027-01-31")))
            }
            // The toml crate hands its native dates to serde as a one-entry map.
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ExpiryDate, A::Error> {
                let Some((_, value)) = map.next_entry::<String, String>()? else {
                    return Err(serde::de::Error::custom("empty date"));
                };
                self.visit_str(&value)
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// Matches `*` against any run of characters.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

impl Exception {
    /// Whether this exception covers `rule` on `r` at `now` (the expiry day included).
    pub fn covers(&self, rule: &str, r: &Record, now: DateTime<Utc>) -> bool {
        now.date_naive() <= self.expires.0
            && (self.rule == "*" || self.rule == rule)
            && self.platform.is_none_or(|p| p == r.platform)
            && self.kind.is_none_or(|k| k == r.kind)
            && self.scope.as_deref().is_none_or(|s| s == r.key.scope)
            && self
                .external_id
                .as_deref()
                .is_none_or(|e| e == r.key.external_id)
            && self.name.as_deref().is_none_or(|n| glob(n, &r.name))
    }

    fn has_matcher(&self) -> bool {
        self.platform.is_some()
            || self.kind.is_some()
            || self.scope.is_some()
            || self.external_id.is_some()
            || self.name.is_some()
    }
}

/// A policy that parsed but says something impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyProblem {
    #[error("[rules.\"{0}\"]: no such rule (known: {known})", known = known_rule_ids().join(", "))]
    UnknownRule(String),
    #[error("exceptions[{index}]: rule `{rule}` does not exist (use a rule id or `*`)")]
    UnknownExceptionRule { index: usize, rule: String },
    #[error("exceptions[{0}]: say what it covers (platform, scope, kind, name or external_id)")]
    UnscopedException(usize),
    #[error("exceptions[{0}]: owner and reason must not be empty")]
    Unaccountable(usize),
    #[error(
        "owners[{0}]: say what it covers (platform, scope, kind, name or external_id) and name an owner"
    )]
    UnscopedOwner(usize),
    #[error("`{key}` = {value}: a number of days from 0 to {MAX_POLICY_DAYS}")]
    DaysOutOfRange { key: &'static str, value: i64 },
    #[error("suggestions[{index}]: {why}")]
    BadSuggestion { index: usize, why: String },
}

/// The longest threshold a policy may set: a hundred years, far inside what time arithmetic
/// can add to a date (a threshold near 10^11 days used to panic the evaluation).
pub const MAX_POLICY_DAYS: i64 = 36_500;

/// Checks rule ids and exceptions.
pub fn check(
    rules: &BTreeMap<String, RuleOverride>,
    exceptions: &[Exception],
) -> Result<(), PolicyProblem> {
    if let Some(unknown) = rules.keys().find(|k| !is_known_rule(k)) {
        return Err(PolicyProblem::UnknownRule(unknown.clone()));
    }
    for (index, e) in exceptions.iter().enumerate() {
        if e.rule != "*" && !is_known_rule(&e.rule) {
            return Err(PolicyProblem::UnknownExceptionRule {
                index,
                rule: e.rule.clone(),
            });
        }
        if !e.has_matcher() {
            return Err(PolicyProblem::UnscopedException(index));
        }
        if e.owner.trim().is_empty() || e.reason.trim().is_empty() {
            return Err(PolicyProblem::Unaccountable(index));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("sample-*", "sample-gha-deploy"));
        assert!(glob("*-deploy-*", "sample-gha-deploy-12"));
        assert!(glob("exact", "exact") && !glob("exact", "exact2"));
        assert!(!glob("a*b", "ab-x") && glob("a*b", "a-b") && glob("*", "anything"));
    }

    #[test]
    fn expiry_dates_parse_from_strings() {
        let d: ExpiryDate = serde_json::from_str("\"2027-01-31\"").unwrap();
        assert_eq!(d.0, NaiveDate::from_ymd_opt(2027, 1, 31).unwrap());
        assert!(serde_json::from_str::<ExpiryDate>("\"soon\"").is_err());
    }
}
