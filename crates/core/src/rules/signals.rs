//! Platform rules the connector saw at sync time ([`crate::signal`]), as findings under the
//! same policy. Their ids are the catalogue's; an id it does not know is dropped.

use chrono::{DateTime, Utc};

use super::{Horizon, RuleContext, finding};
use crate::record::Record;
use crate::risk::Finding;

pub(crate) fn check(
    r: &Record,
    rules: &RuleContext<'_>,
    _now: DateTime<Utc>,
    findings: &mut Vec<Finding>,
    _horizon: &mut Horizon,
) {
    // A disabled record's configuration cannot be used, so like every rule they apply to live
    // records only.
    if !rules.live {
        return;
    }
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

#[cfg(test)]
mod tests {
    use crate::model::{Kind, OwaspCode, Severity, Status, Tier};
    use crate::risk::RiskPolicy;
    use crate::rules::fixtures::{key, now, rules};

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
}
