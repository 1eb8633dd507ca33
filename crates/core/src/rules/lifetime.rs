//! Lifetime of secret material: `lifetime.no_expiry`, `lifetime.expired_present`,
//! `lifetime.expiring_soon`, `lifetime.rotation_age`, and `lifetime.secret_age` for CI secrets.

use chrono::{DateTime, Duration, Utc};

use super::{Horizon, RuleContext, days_between, finding};
use crate::model::{Kind, OwaspCode, Severity};
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
    if let Some(c) = r.created_at {
        horizon.note_days_after(c, p.rotation_days);
        horizon.note_days_after(c, p.secret_max_age_days);
    }
    if let Some(exp) = r.expires_at {
        horizon.note(exp);
        if let Some(at) =
            Duration::try_days(p.expiring_soon_days).and_then(|d| exp.checked_sub_signed(d))
        {
            horizon.note(at);
        }
    }

    if rules.live && r.kind.is_secret_material() {
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
            Some(exp) if exp - now <= Duration::days(p.expiring_soon_days) => {
                findings.push(finding(
                    "lifetime.expiring_soon",
                    OwaspCode::Nhi7,
                    Severity::Low,
                    format!(
                        "{} `{}` expires in {} days (policy warns at {})",
                        r.kind,
                        r.name,
                        days_between(now, exp),
                        p.expiring_soon_days
                    ),
                ))
            }
            Some(_) => {}
        }
        if let Some(created) = r.created_at {
            let age = days_between(created, now);
            if age > p.rotation_days {
                findings.push(finding(
                    "lifetime.rotation_age",
                    OwaspCode::Nhi7,
                    Severity::Medium,
                    format!(
                        "{} `{}` not rotated for {age} days, policy threshold {}",
                        r.kind, r.name, p.rotation_days
                    ),
                ));
            }
        }
    }

    // CI secrets: only names and dates are visible, so age since the last update is the
    // signal (connectors put the update time in `created_at`).
    if rules.live
        && r.kind == Kind::CiSecret
        && let Some(updated) = r.created_at
    {
        let age = days_between(updated, now);
        if age > p.secret_max_age_days {
            findings.push(finding(
                "lifetime.secret_age",
                OwaspCode::Nhi7,
                Severity::Low,
                format!(
                    "{} `{}` not updated for {age} days, policy threshold {}",
                    r.kind, r.name, p.secret_max_age_days
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use crate::model::{Kind, Status};
    use crate::risk::RiskPolicy;
    use crate::rules::fixtures::{key, now, rules};

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

    /// The clean twins of the lifetime rules, each at its threshold: expiring in one day more
    /// than the warning, expiring a second from now (soon, not yet expired), as old as the
    /// rotation threshold; and no lifetime rule on a disabled key or on an identity.
    #[test]
    fn lifetime_rules_leave_the_nearest_clean_cases_alone() {
        let p = RiskPolicy::default();
        let lifetime = |r: &crate::record::Record| -> Vec<String> {
            rules(&p.evaluate(r, now()))
                .into_iter()
                .filter(|id| id.starts_with("lifetime."))
                .map(str::to_owned)
                .collect()
        };
        let mut r = key();
        r.expires_at = Some(now() + Duration::days(p.expiring_soon_days + 1));
        assert!(lifetime(&r).is_empty());
        r.expires_at = Some(now() + Duration::days(p.expiring_soon_days));
        assert_eq!(lifetime(&r), ["lifetime.expiring_soon"]);
        r.expires_at = Some(now() + Duration::seconds(1));
        assert_eq!(lifetime(&r), ["lifetime.expiring_soon"]);
        r.expires_at = Some(now());
        assert_eq!(lifetime(&r), ["lifetime.expired_present"]);

        let mut r = key();
        r.created_at = Some(now() - Duration::days(p.rotation_days));
        assert!(lifetime(&r).is_empty());
        r.created_at = Some(now() - Duration::days(p.rotation_days + 1));
        assert_eq!(lifetime(&r), ["lifetime.rotation_age"]);

        r.expires_at = None;
        r.status = Status::Disabled;
        assert!(lifetime(&r).is_empty(), "a disabled key");
        r.status = Status::Active;
        r.kind = Kind::ServiceAccount;
        assert!(
            lifetime(&r).is_empty(),
            "an identity holds no secret itself"
        );
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
}
