//! One identity or one secret in several places: `credential.two_active`,
//! `credential.reused_across_scopes`.

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
    let ctx = rules.context;
    if rules.live && r.class() == RecordClass::Identity && ctx.active_credentials >= 2 {
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
    if rules.live
        && let Some(reuse) = ctx.credential_reuse
    {
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

#[cfg(test)]
mod tests {
    use super::name_places;
    use crate::model::{Kind, OwaspCode, Platform, Severity, Status, Tier};
    use crate::risk::{Context, RiskPolicy};
    use crate::rules::fixtures::{key, now, rules};

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
        use crate::credential_fingerprint::reuse_by_record;
        use crate::credential_fingerprint::tests::deploy_key;
        let fp = "ssh-sha256:g1oh/1xMuMlknIQetWCq/5KLoLg0febxrDdzQjsbI7Y";
        let reuse = reuse_by_record(&[
            deploy_key(1, Platform::Github, "acme", "acme/web: ci", fp),
            deploy_key(2, Platform::Github, "acme", "acme/api: ci", fp),
            deploy_key(3, Platform::Gitlab, "infra", "infra/deploy: ci", fp),
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
}
