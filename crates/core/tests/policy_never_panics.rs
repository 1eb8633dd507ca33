//! Issue 18: no property of a policy file can panic. Whatever the text, loading it either gives
//! a policy or an error that says what is wrong (and, for a bad key, names it); a policy that
//! loads and validates evaluates any record at any moment without panicking.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use roster_core::{Kind, Platform, Privilege, Record, RecordKey, RiskPolicy, Status, Usage};

const DAYS_KEYS: &[&str] = &[
    "stale_days",
    "rotation_days",
    "secret_max_age_days",
    "expiring_soon_days",
    "grace_days",
];
const COUNT_KEYS: &[&str] = &["escalate_high_count", "escalate_medium_count"];

/// Parses and checks `text` as the app does (`toml::from_str`, then `validate`).
fn load(text: &str) -> Result<RiskPolicy, String> {
    let policy: RiskPolicy = toml::from_str(text).map_err(|e| e.to_string())?;
    policy.validate().map_err(|e| e.to_string())?;
    Ok(policy)
}

/// Any moment chrono can represent, second precision.
fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
    let (min, max) = (
        DateTime::<Utc>::MIN_UTC.timestamp(),
        DateTime::<Utc>::MAX_UTC.timestamp(),
    );
    prop_oneof![
        // Near today, where thresholds are crossed.
        (1_500_000_000i64..2_500_000_000).prop_map(|s| DateTime::from_timestamp(s, 0)),
        (min..=max).prop_map(|s| DateTime::from_timestamp(s, 0)),
        Just(Some(DateTime::<Utc>::MIN_UTC)),
        Just(Some(DateTime::<Utc>::MAX_UTC)),
    ]
    .prop_map(|t| t.unwrap_or(DateTime::<Utc>::MIN_UTC))
}

fn any_record() -> impl Strategy<Value = Record> {
    (
        prop::sample::select(Kind::ALL),
        prop::sample::select(Platform::ALL),
        prop::sample::select(Status::ALL),
        prop::sample::select(Usage::ALL),
        prop::sample::select(Privilege::ALL),
        prop::option::of(any_time()),
        prop::option::of(any_time()),
        prop::option::of(any_time()),
        "[a-z*-]{0,12}",
    )
        .prop_map(
            |(kind, platform, status, usage, privilege, created, used, expires, name)| {
                let mut r = Record::unknown(
                    RecordKey {
                        resource_type: "test.record".into(),
                        scope: "acme".into(),
                        external_id: name.clone(),
                    },
                    platform,
                    kind,
                    name,
                    serde_json::Value::Null,
                );
                r.status = status;
                r.usage = usage;
                r.privilege = privilege;
                r.created_at = created;
                r.last_used_at = used;
                r.expires_at = expires;
                r
            },
        )
}

/// A TOML value of any type, some of them huge or negative numbers.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (-100_000i64..100_000).prop_map(|n| n.to_string()),
        Just("99999999999999999999".to_owned()),
        Just("-9223372036854775808".to_owned()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        Just("inf".to_owned()),
        Just("nan".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        "[a-z0-9 ._*-]{0,12}".prop_map(|s| format!("{s:?}")),
        Just("2027-01-31".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("[1, 2]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        Just("\"2027-02-30\"".to_owned()),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(DAYS_KEYS).prop_map(str::to_owned),
        prop::sample::select(COUNT_KEYS).prop_map(str::to_owned),
        "[a-z_]{1,16}",
    ]
}

/// A table of a policy: `[rules."id"]`, `[[exceptions]]` or `[[owners]]`, with random fields.
fn section() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        Just("enabled"),
        Just("severity"),
        Just("rule"),
        Just("platform"),
        Just("scope"),
        Just("kind"),
        Just("name"),
        Just("external_id"),
        Just("owner"),
        Just("reason"),
        Just("expires"),
        Just("colour"),
    ];
    let header = prop_oneof![
        Just("[rules.\"usage.stale\"]".to_owned()),
        Just("[rules.\"no.such_rule\"]".to_owned()),
        "[a-z.]{1,20}".prop_map(|r| format!("[rules.\"{r}\"]")),
        Just("[[exceptions]]".to_owned()),
        Just("[[owners]]".to_owned()),
        Just("[rules]".to_owned()),
    ];
    let value = prop_oneof![
        toml_value(),
        Just("\"high\"".to_owned()),
        Just("\"aws\"".to_owned()),
        Just("\"*\"".to_owned()),
        Just("\"privilege.admin\"".to_owned()),
        Just("\"deploy_key\"".to_owned()),
    ];
    (header, prop::collection::btree_map(field, value, 0..6)).prop_map(|(header, fields)| {
        let mut s = format!("{header}\n");
        for (k, v) in fields {
            s.push_str(&format!("{k} = {v}\n"));
        }
        s
    })
}

/// A whole document: top-level keys, then tables.
fn document() -> impl Strategy<Value = String> {
    (
        prop::collection::btree_map(key(), toml_value(), 0..6),
        prop::collection::vec(section(), 0..4),
    )
        .prop_map(|(top, sections)| {
            let mut s = String::new();
            for (k, v) in top {
                s.push_str(&format!("{k} = {v}\n"));
            }
            for t in sections {
                s.push_str(&t);
            }
            s
        })
}

/// A loaded policy is used: every record, at every moment, evaluates.
fn evaluates(policy: &RiskPolicy, records: &[Record], now: DateTime<Utc>) {
    for r in records {
        let mut r = r.clone();
        policy.resolve_owner(&mut r);
        let e = policy.evaluate(&r, now);
        let _ = policy.tier(&e.findings);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any text at all: a policy or a non-empty error.
    #[test]
    fn any_text_loads_or_is_refused(text in any::<String>()) {
        if let Err(e) = load(&text) {
            prop_assert!(!e.trim().is_empty());
        }
    }

    /// TOML-shaped text of random keys, types and tables: a policy or a non-empty error; a
    /// policy that loads evaluates any record at any moment.
    #[test]
    fn wrong_toml_is_refused_and_right_toml_evaluates(
        text in document(),
        records in prop::collection::vec(any_record(), 0..4),
        now in any_time(),
    ) {
        match load(&text) {
            Err(e) => prop_assert!(!e.trim().is_empty(), "{text}"),
            Ok(policy) => evaluates(&policy, &records, now),
        }
    }

    /// One top-level key with any value: an error names the key (toml quotes the offending
    /// line; `validate` names it), and a number of days is taken exactly when it is 0 to the
    /// maximum.
    #[test]
    fn one_bad_key_is_named(key in key(), value in toml_value()) {
        let text = format!("{key} = {value}\n");
        match load(&text) {
            Err(e) => prop_assert!(e.contains(&key), "{text}: {e}"),
            Ok(_) => {
                prop_assert!(DAYS_KEYS.contains(&key.as_str()) || COUNT_KEYS.contains(&key.as_str()), "{text}");
            }
        }
    }

    /// Every `*_days` threshold, any whole number: in range it loads and evaluates anything;
    /// out of range it is refused naming the key.
    #[test]
    fn days_thresholds_hold_at_any_number(
        key in prop::sample::select(DAYS_KEYS),
        value in prop_oneof![any::<i64>(), -10i64..40_000, Just(i64::MIN), Just(i64::MAX)],
        records in prop::collection::vec(any_record(), 1..4),
        now in any_time(),
    ) {
        let text = format!("{key} = {value}\n");
        let in_range = (0..=roster_core::policy::MAX_POLICY_DAYS).contains(&value);
        match load(&text) {
            Ok(policy) => {
                prop_assert!(in_range, "{text} was taken");
                evaluates(&policy, &records, now);
            }
            Err(e) => {
                prop_assert!(!in_range, "{text}: {e}");
                prop_assert!(e.contains(key), "{text}: {e}");
            }
        }
    }
}

/// A policy that validates, its numbers anywhere in range (the text strategies above rarely
/// produce one), with exceptions and owners matching by glob.
fn valid_policy() -> impl Strategy<Value = RiskPolicy> {
    let days = 0..=roster_core::policy::MAX_POLICY_DAYS;
    (
        prop::array::uniform5(days),
        any::<usize>(),
        any::<usize>(),
        prop::collection::vec(("[a-z*-]{0,6}", any_time()), 0..3),
    )
        .prop_map(|(d, high, medium, globs)| {
            let exceptions = globs
                .iter()
                .map(|(name, until)| roster_core::policy::Exception {
                    rule: "*".into(),
                    platform: None,
                    scope: None,
                    kind: None,
                    name: Some(name.clone()),
                    external_id: None,
                    owner: "o".into(),
                    reason: "r".into(),
                    expires: roster_core::policy::ExpiryDate(until.date_naive()),
                })
                .collect();
            let owners = globs
                .iter()
                .map(|(name, _)| roster_core::ownership::OwnerRule {
                    platform: None,
                    scope: None,
                    kind: None,
                    name: Some(name.clone()),
                    external_id: None,
                    owner: "team".into(),
                })
                .collect();
            RiskPolicy {
                stale_days: d[0],
                rotation_days: d[1],
                secret_max_age_days: d[2],
                expiring_soon_days: d[3],
                grace_days: d[4],
                escalate_high_count: high,
                escalate_medium_count: medium,
                exceptions,
                owners,
                ..RiskPolicy::default()
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any policy that validates evaluates any record at any moment.
    #[test]
    fn valid_policies_evaluate_any_record(
        policy in valid_policy(),
        records in prop::collection::vec(any_record(), 1..4),
        now in any_time(),
    ) {
        prop_assert!(policy.validate().is_ok());
        evaluates(&policy, &records, now);
    }
}
