//! Ownership as the record states it: `owner.missing`. What the directory says of a named owner
//! is [`super::owner_status`].

use chrono::{DateTime, Utc};

use super::{Horizon, RuleContext, finding};
use crate::model::{OwaspCode, RecordClass, Severity};
use crate::record::Record;
use crate::risk::Finding;

pub(crate) fn check(
    r: &Record,
    rules: &RuleContext<'_>,
    _now: DateTime<Utc>,
    findings: &mut Vec<Finding>,
    _horizon: &mut Horizon,
) {
    // A credential answers to its identity's owner, which the store gives it (source
    // `inherited:…`) when it has none of its own: one still without an owner is orphaned too.
    if rules.live && r.owner.is_none() {
        let message = if r.class() == RecordClass::Credential && r.parent.is_some() {
            format!(
                "{} `{}` has no owner, and neither has its identity",
                r.kind, r.name
            )
        } else {
            format!("{} `{}` has no owner", r.kind, r.name)
        };
        findings.push(finding(
            "owner.missing",
            OwaspCode::Nhi1,
            Severity::Medium,
            message,
        ));
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{Kind, OwaspCode, Severity, Status};
    use crate::risk::RiskPolicy;
    use crate::rules::fixtures::{key, now, rules};

    /// An identity without an owner is flagged, and so is a credential (its identity has none
    /// to give it); one with an owner, a credential with an inherited one, and a disabled
    /// identity without one are left alone.
    #[test]
    fn identities_without_an_owner() {
        let p = RiskPolicy::default();
        let mut r = key();
        r.kind = Kind::ServiceAccount;
        assert!(p.evaluate(&r, now()).findings.is_empty(), "owned");
        r.owner = None;
        let e = p.evaluate(&r, now());
        assert_eq!(rules(&e), ["owner.missing"]);
        let f = &e.findings[0];
        assert_eq!((f.owasp, f.severity), (OwaspCode::Nhi1, Severity::Medium));
        assert_eq!(f.message, "service_account `AKIA…XYZ` has no owner");
        r.status = Status::Disabled;
        assert!(p.evaluate(&r, now()).findings.is_empty(), "disabled");
        let mut credential = key();
        credential.owner = None;
        assert_eq!(rules(&p.evaluate(&credential, now())), ["owner.missing"]);
        credential.owner = Some("ada@acme.example".into());
        credential.owner_source = Some("inherited:aws_tag:owner".into());
        assert!(
            p.evaluate(&credential, now()).findings.is_empty(),
            "a credential with its identity's owner"
        );
    }
}
