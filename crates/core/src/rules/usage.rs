//! Usage: `usage.stale`, `usage.never_used`, `usage.no_data`, `usage.human_sign_in`.

use chrono::{DateTime, Duration, Utc};

use super::{Horizon, RuleContext, days_between, finding};
use crate::model::{OwaspCode, RecordClass, Severity, Usage};
use crate::record::Record;
use crate::risk::Finding;

pub(crate) fn check(
    r: &Record,
    rules: &RuleContext<'_>,
    now: DateTime<Utc>,
    findings: &mut Vec<Finding>,
    horizon: &mut Horizon,
) {
    let p = rules.policy;
    if let Some(c) = r.created_at
        && let Some(at) = Duration::try_days(p.grace_days).and_then(|d| c.checked_add_signed(d))
    {
        horizon.note(at);
    }
    if let Some(last) = r.last_used_at {
        horizon.note_days_after(last, p.stale_days);
    }
    if let Some(last) = r.interactive_sign_in.as_ref().and_then(|s| s.last_at) {
        horizon.note_days_after(last, p.stale_days);
    }
    let in_grace = r
        .created_at
        .is_some_and(|c| now - c < Duration::days(p.grace_days));

    // Disabled or gone records are not "unused"; no telemetry is not "never used".
    if rules.live && !in_grace {
        match r.usage {
            Usage::Used => {
                if let Some(last) = r.last_used_at {
                    let idle = days_between(last, now);
                    if idle > p.stale_days {
                        findings.push(finding(
                            "usage.stale",
                            OwaspCode::Nhi1,
                            Severity::Medium,
                            format!(
                                "{} `{}` last used {idle} days ago, policy threshold {}",
                                r.kind, r.name, p.stale_days
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
                            r.kind, r.name, p.grace_days
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
    if rules.live
        && r.class() == RecordClass::Identity
        && let Some(sign_in) = &r.interactive_sign_in
    {
        let recent = sign_in
            .last_at
            .map(|last| days_between(last, now))
            .filter(|days| *days <= p.stale_days);
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
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use crate::model::{Kind, OwaspCode, Severity, Status, Tier, Usage};
    use crate::record::Record;
    use crate::risk::RiskPolicy;
    use crate::rules::fixtures::{key, now, rules};

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

    /// The clean twin of the stale rule: idle for exactly the threshold is not stale yet.
    #[test]
    fn a_key_idle_for_exactly_the_threshold_is_not_stale() {
        let p = RiskPolicy::default();
        let mut r = key();
        r.last_used_at = Some(now() - Duration::days(p.stale_days));
        assert!(!rules(&p.evaluate(&r, now())).contains(&"usage.stale"));
        r.last_used_at = Some(now() - Duration::days(p.stale_days + 1));
        assert!(rules(&p.evaluate(&r, now())).contains(&"usage.stale"));
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

    /// The clean twins of `usage.no_data`: nothing is said of a key in its grace period or of
    /// a disabled one.
    #[test]
    fn no_telemetry_is_not_reported_in_grace_or_when_disabled() {
        let p = RiskPolicy::default();
        let mut r = key();
        r.usage = Usage::NoTelemetry;
        r.last_used_at = None;
        r.created_at = Some(now() - Duration::days(p.grace_days - 1));
        assert!(p.evaluate(&r, now()).findings.is_empty());
        r.created_at = Some(now() - Duration::days(30));
        r.status = Status::Disabled;
        assert!(p.evaluate(&r, now()).findings.is_empty());
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
}
