//! What the people directory says of a record's owner: `owner.departed`, `owner.unknown`. With
//! no directory imported nothing is said.

use chrono::{DateTime, Utc};

use super::{Horizon, RuleContext, finding};
use crate::directory::OwnerStatus;
use crate::model::{OwaspCode, Severity};
use crate::record::Record;
use crate::risk::Finding;

pub(crate) fn check(
    r: &Record,
    rules: &RuleContext<'_>,
    _now: DateTime<Utc>,
    findings: &mut Vec<Finding>,
    _horizon: &mut Horizon,
) {
    if rules.live
        && let Some(owner) = &r.owner
    {
        let source = r.owner_source.as_deref().unwrap_or("unknown source");
        match rules.context.directory.status(owner) {
            Some(OwnerStatus::Departed) => findings.push(finding(
                "owner.departed",
                OwaspCode::Nhi1,
                Severity::High,
                format!(
                    "{} `{}` is owned by `{owner}` ({source}), who has left the directory",
                    r.kind, r.name
                ),
            )),
            Some(OwnerStatus::Unknown) => findings.push(finding(
                "owner.unknown",
                OwaspCode::Nhi1,
                Severity::Low,
                format!(
                    "{} `{}` is owned by `{owner}` ({source}), whom the directory does not know",
                    r.kind, r.name
                ),
            )),
            Some(OwnerStatus::Present) | None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::directory::Directory;
    use crate::model::{Kind, Status, Tier};
    use crate::record::Record;
    use crate::risk::{Context, Evaluation, RiskPolicy};
    use crate::rules::fixtures::{key, now, rules};

    #[test]
    fn owners_who_left_the_directory_orphan_their_identities() {
        let mut d = Directory::default();
        let mut r = key();
        r.kind = Kind::ServiceAccount;
        let p = RiskPolicy::default();
        let evaluate = |r: &Record, d: &Directory| -> Evaluation {
            p.evaluate_with(
                r,
                now(),
                &Context {
                    directory: d,
                    active_credentials: 0,
                    credential_reuse: None,
                },
            )
        };
        // No directory imported: nothing to say about the owner.
        assert!(evaluate(&r, &d).findings.is_empty());
        d.insert(["alice"], false);
        let e = evaluate(&r, &d);
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
        assert!(evaluate(&r, &d).findings.is_empty());
        r.owner = Some("zed".into());
        assert_eq!(rules(&evaluate(&r, &d)), vec!["owner.unknown"]);
        // A disabled identity is not judged.
        r.status = Status::Disabled;
        assert!(evaluate(&r, &d).findings.is_empty());
    }
}
