//! Privilege: `privilege.admin`.

use chrono::{DateTime, Utc};

use super::{Horizon, RuleContext, finding};
use crate::model::{OwaspCode, Privilege, Severity};
use crate::record::Record;
use crate::risk::Finding;

pub(crate) fn check(
    r: &Record,
    rules: &RuleContext<'_>,
    _now: DateTime<Utc>,
    findings: &mut Vec<Finding>,
    _horizon: &mut Horizon,
) {
    if rules.live && r.privilege == Privilege::Admin {
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
}

#[cfg(test)]
mod tests {
    use crate::model::{OwaspCode, Privilege, Severity, Status};
    use crate::risk::RiskPolicy;
    use crate::rules::fixtures::{key, now, rules};

    /// Admin is flagged with the permissions that make it so; write access, or an admin that
    /// is disabled, is left alone.
    #[test]
    fn admin_is_flagged_and_write_or_disabled_admin_is_not() {
        let p = RiskPolicy::default();
        let mut r = key();
        r.privilege = Privilege::Admin;
        r.privilege_detail = vec!["AdministratorAccess".into(), "iam:*".into()];
        let e = p.evaluate(&r, now());
        assert_eq!(rules(&e), ["privilege.admin"]);
        let f = &e.findings[0];
        assert_eq!((f.owasp, f.severity), (OwaspCode::Nhi5, Severity::High));
        assert_eq!(
            f.message,
            "access_key `AKIA…XYZ` holds admin privilege (AdministratorAccess, iam:*)"
        );
        r.status = Status::Disabled;
        assert!(p.evaluate(&r, now()).findings.is_empty(), "disabled");
        r.status = Status::Active;
        r.privilege = Privilege::Write;
        assert!(p.evaluate(&r, now()).findings.is_empty(), "write");
    }
}
