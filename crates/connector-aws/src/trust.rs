//! Trust-policy analysis: who can assume a role, in plain words, and what is unsafe about it.
//! AWS principals (anyone, other accounts) with the conditions that narrow them, and roles
//! federated to CI OIDC issuers (GitHub Actions, GitLab CI) with their `sub` and `aud`.

use roster_core::Signal;
use serde::Serialize;
use serde_json::Value;

use crate::policy_document::{PolicyDocument, glob_match};

/// A CI system whose OIDC tokens AWS may trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CiKind {
    Github,
    Gitlab,
}

impl CiKind {
    fn unit(self) -> &'static str {
        match self {
            CiKind::Github => "repository",
            CiKind::Gitlab => "project",
        }
    }
    fn name(self) -> &'static str {
        match self {
            CiKind::Github => "GitHub Actions",
            CiKind::Gitlab => "GitLab CI",
        }
    }
}

/// An issuer host Roster recognises, e.g. `token.actions.githubusercontent.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiIssuer {
    pub host: String,
    pub kind: CiKind,
}

impl CiIssuer {
    pub fn defaults() -> Vec<CiIssuer> {
        vec![
            CiIssuer {
                host: "token.actions.githubusercontent.com".into(),
                kind: CiKind::Github,
            },
            CiIssuer {
                host: "gitlab.com".into(),
                kind: CiKind::Gitlab,
            },
        ]
    }
}

/// What the analysis found for one CI issuer the role trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CiTrust {
    pub issuer: String,
    pub ci: CiKind,
    /// Plain words: who can assume the role through this issuer.
    pub who: Vec<String>,
    /// True when no token can satisfy the conditions (e.g. `*` inside StringEquals).
    pub unusable: bool,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct TrustAnalysis {
    pub ci: Vec<CiTrust>,
    /// Who in AWS can assume the role, in plain words (anyone, accounts, organisations), with
    /// the conditions that narrow them.
    pub aws: Vec<String>,
    /// Other principals trusted (AWS accounts, services, other federations), as written.
    pub other_principals: Vec<String>,
    #[serde(skip)]
    pub signals: Vec<Signal>,
}

/// What a role's trust is judged against.
#[derive(Debug, Clone, Copy)]
pub struct TrustScope<'a> {
    pub issuers: &'a [CiIssuer],
    /// Accounts whose principals are inside: the connector's own and its `known_accounts`.
    pub known_accounts: &'a [String],
    /// The estate's AWS Organization, when configured.
    pub organization_id: Option<&'a str>,
}

/// Condition keys that confine an AWS principal to accounts or an organisation.
/// `sts:ExternalId` is not among them: it is no secret, and only stops a vendor acting for the
/// wrong customer.
const ACCOUNT_KEYS: &[&str] = &["aws:principalaccount", "aws:sourceaccount"];
const ORG_KEYS: &[&str] = &["aws:principalorgid", "aws:sourceorgid"];
const ARN_KEYS: &[&str] = &["aws:principalarn", "aws:sourcearn"];
const ORG_PATH_KEYS: &[&str] = &["aws:principalorgpaths", "aws:sourceorgpaths"];

/// Whether an Allow's condition operator confines the principal to the values it names: a
/// positive match on a key that must be present. `Not…` operators admit everyone else,
/// `…IfExists` and `ForAllValues:` admit a request without the key, `Null` tests presence only.
fn confines(op: &str) -> bool {
    let op = op.strip_prefix("ForAnyValue:").unwrap_or(op);
    matches!(
        op,
        "StringEquals" | "StringEqualsIgnoreCase" | "StringLike" | "ArnEquals" | "ArnLike"
    )
}

/// Whether a Deny's condition operator keeps out everyone but the values it names
/// (`Deny … StringNotEquals aws:PrincipalOrgID o-mine`, the usual guard beside an Allow of `*`).
fn excludes_others(op: &str) -> bool {
    matches!(
        op,
        "StringNotEquals"
            | "StringNotEqualsIgnoreCase"
            | "StringNotLike"
            | "ArnNotEquals"
            | "ArnNotLike"
    )
}

/// A value that names no particular account or organisation: a wildcard in it, or for an ARN
/// in its account field (`arn:aws:iam::*:role/deploy` is that role in every account).
fn names_nobody(key: &str, value: &str) -> bool {
    let wild = |v: &str| v.is_empty() || v.contains('*') || v.contains('?');
    if ARN_KEYS.contains(&key) {
        return wild(value.split(':').nth(4).unwrap_or(""));
    }
    wild(value)
}

/// What conditions confine AWS principals to: accounts, organisations, org paths, principals.
#[derive(Debug, Clone, Default)]
struct Confinement {
    accounts: Vec<String>,
    orgs: Vec<String>,
    org_paths: Vec<String>,
    arns: Vec<String>,
}

impl Confinement {
    fn add(&mut self, key: &str, value: &str) {
        let key = key.to_ascii_lowercase();
        if names_nobody(&key, value) {
            return;
        }
        let list = if ACCOUNT_KEYS.contains(&key.as_str()) {
            &mut self.accounts
        } else if ORG_KEYS.contains(&key.as_str()) {
            &mut self.orgs
        } else if ORG_PATH_KEYS.contains(&key.as_str()) {
            &mut self.org_paths
        } else if ARN_KEYS.contains(&key.as_str()) {
            &mut self.arns
        } else {
            return;
        };
        list.push(value.to_owned());
    }

    /// From an Allow's conditions with operators that [`confines`].
    fn of_allow(s: &crate::policy_document::Statement) -> Self {
        let mut c = Confinement::default();
        for (_, keys) in s.conditions.iter().filter(|(op, _)| confines(op)) {
            for (key, values) in keys {
                for v in values {
                    c.add(key, v);
                }
            }
        }
        c
    }

    /// From the document's guards: Deny statements over every principal's AssumeRole whose
    /// every condition [`excludes_others`] on a confining key (with another condition beside
    /// it, the deny may not apply, so it confines nothing).
    fn of_deny_guards(doc: &PolicyDocument) -> Self {
        let mut c = Confinement::default();
        for s in doc.statements.iter().filter(|s| !s.allow) {
            let everyone = s.principal == Value::String("*".into())
                || strings(s.principal.get("AWS").unwrap_or(&Value::Null))
                    .iter()
                    .any(|p| p == "*");
            let guard = everyone
                && allows_assume_role(&s.actions)
                && !s.conditions.is_empty()
                && s.conditions.iter().all(|(op, keys)| {
                    excludes_others(op)
                        && keys.keys().all(|k| {
                            let k = k.to_ascii_lowercase();
                            [ACCOUNT_KEYS, ORG_KEYS, ORG_PATH_KEYS, ARN_KEYS]
                                .iter()
                                .any(|set| set.contains(&k.as_str()))
                        })
                });
            if guard {
                for keys in s.conditions.values() {
                    for (key, values) in keys {
                        for v in values {
                            c.add(key, v);
                        }
                    }
                }
            }
        }
        c
    }

    fn extend(&mut self, other: &Confinement) {
        self.accounts.extend(other.accounts.iter().cloned());
        self.orgs.extend(other.orgs.iter().cloned());
        self.org_paths.extend(other.org_paths.iter().cloned());
        self.arns.extend(other.arns.iter().cloned());
    }
}

/// The account an AWS principal names: a bare 12-digit id, or the account field of an ARN
/// (`arn:aws:iam::123456789012:root`, `…:role/x`, `arn:aws:sts::…:assumed-role/…`).
fn account_of(principal: &str) -> Option<&str> {
    let id = if principal.starts_with("arn:") {
        principal.split(':').nth(4)?
    } else {
        principal
    };
    (id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())).then_some(id)
}

/// Whether the statement lets principals assume the role with their AWS credentials.
fn allows_assume_role(actions: &[String]) -> bool {
    actions.is_empty() || actions.iter().any(|a| glob_match(a, "sts:AssumeRole"))
}

/// Judges the AWS principals of one statement: `*` (anyone, unless a condition confines it to
/// accounts or an organisation) and accounts outside the scope.
fn analyse_aws(
    role: &str,
    s: &crate::policy_document::Statement,
    scope: &TrustScope<'_>,
    guards: &Confinement,
    out: &mut TrustAnalysis,
) {
    let mut principals: Vec<String> = Vec::new();
    if let Value::String(star) = &s.principal {
        principals.push(star.clone());
    }
    principals.extend(strings(s.principal.get("AWS").unwrap_or(&Value::Null)));
    if principals.is_empty() || !allows_assume_role(&s.actions) {
        return;
    }
    let mut confinement = Confinement::of_allow(s);
    confinement.extend(guards);
    let Confinement {
        accounts,
        orgs,
        org_paths,
        arns,
    } = confinement;
    let external_id = s
        .conditions
        .iter()
        .filter(|(op, _)| confines(op))
        .any(|(_, keys)| {
            keys.keys()
                .any(|k| k.eq_ignore_ascii_case("sts:ExternalId"))
        });
    let known = |a: &str| scope.known_accounts.iter().any(|k| k == a);
    // What the conditions confine the principals to; each is judged like a principal.
    let mut confined_to: Vec<String> = Vec::new();
    let mut foreign: Vec<String> = Vec::new();
    for a in &accounts {
        confined_to.push(format!("account {a}"));
        if !known(a) {
            foreign.push(format!("account {a}"));
        }
    }
    for o in &orgs {
        confined_to.push(format!("organisation {o}"));
        if scope
            .organization_id
            .is_some_and(|mine| !mine.eq_ignore_ascii_case(o))
        {
            foreign.push(format!("organisation {o}"));
        }
    }
    for p in org_paths {
        confined_to.push(format!("organisation path {p}"));
    }
    for arn in &arns {
        confined_to.push(format!("principal `{arn}`"));
        if let Some(a) = account_of(arn).filter(|a| !known(a)) {
            foreign.push(format!("account {a}"));
        }
    }
    let narrowed = if confined_to.is_empty() {
        String::new()
    } else {
        format!(", confined to {}", confined_to.join(", "))
    };
    for p in principals {
        if p == "*" {
            if confined_to.is_empty() {
                out.aws.push("any AWS principal in any account (`*`, no condition naming an account or organisation)".into());
                out.signals.push(Signal::new(
                    "aws.trust.public",
                    format!(
                        "role `{role}` can be assumed by any AWS principal in any account: its trust policy names `*` with no condition confining it to your accounts or organisation"
                    ),
                ));
            } else {
                out.aws.push(format!("any AWS principal{narrowed}"));
            }
            continue;
        }
        match account_of(&p) {
            Some(a) if !known(a) => {
                out.aws
                    .push(format!("`{p}` (account {a}, not one of yours){narrowed}"));
                foreign.push(format!("account {a}"));
            }
            Some(a) => out.aws.push(format!("`{p}` (account {a}){narrowed}")),
            None => out.aws.push(format!("`{p}`{narrowed}")),
        }
    }
    foreign.sort();
    foreign.dedup();
    if foreign.is_empty() {
        return;
    }
    let list = foreign.join(", ");
    out.signals.push(Signal::new(
        "aws.trust.foreign_account",
        format!(
            "role `{role}` trusts {list}, outside the connector's accounts and `known_accounts`"
        ),
    ));
    if !external_id {
        out.signals.push(Signal::new(
            "aws.trust.no_external_id",
            format!(
                "role `{role}` trusts {list} with no `sts:ExternalId` condition: a service in that account can be made to act on this role for any of its customers (the confused deputy)"
            ),
        ));
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        _ => vec![],
    }
}

fn is_exact_op(op: &str) -> bool {
    let base = op.rsplit(':').next().unwrap_or(op);
    let base = base.strip_suffix("IfExists").unwrap_or(base);
    base == "StringEquals" || base == "StringEqualsIgnoreCase"
}

fn is_like_op(op: &str) -> bool {
    let base = op.rsplit(':').next().unwrap_or(op);
    let base = base.strip_suffix("IfExists").unwrap_or(base);
    base == "StringLike"
}

fn allows_web_identity(actions: &[String]) -> bool {
    actions.is_empty()
        || actions
            .iter()
            .any(|a| glob_match(a, "sts:AssumeRoleWithWebIdentity"))
}

/// How many repositories (projects) a `sub` pattern admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// One repository.
    One,
    /// Every repository of one owner or group.
    Owner,
    /// Any repository of anyone on the issuer.
    Anywhere,
}

/// Describes one `sub` pattern in words, and how far it reaches.
fn describe_sub(ci: CiKind, pattern: &str) -> (String, Reach) {
    let unit = ci.unit();
    let prefix = match ci {
        CiKind::Github => "repo:",
        CiKind::Gitlab => "project_path:",
    };
    let Some(rest) = pattern.strip_prefix(prefix) else {
        if pattern.chars().all(|c| c == '*') {
            return (
                format!("any {unit} on the issuer (`{pattern}`)"),
                Reach::Anywhere,
            );
        }
        return (
            format!("tokens whose `sub` matches `{pattern}`"),
            if pattern.contains('*') {
                Reach::Owner
            } else {
                Reach::One
            },
        );
    };
    // GitHub: owner/repo:context ; GitLab: group/sub/project:ref_type:…:ref:…
    let (path, context) = rest.split_once(':').unwrap_or((rest, "*"));
    let (owner, name) = match ci {
        CiKind::Github => path.split_once('/').unwrap_or((path, "*")),
        CiKind::Gitlab => path.rsplit_once('/').unwrap_or((path, "*")),
    };
    let what = match context {
        "*" => "any ref or event".to_owned(),
        c => match c.strip_prefix("ref:") {
            Some(r) => format!("ref `{r}`"),
            None => match c.strip_prefix("environment:") {
                Some(e) => format!("environment `{e}`"),
                None => format!("`{c}`"),
            },
        },
    };
    if owner.contains('*') || owner.contains('?') {
        (
            format!("any {unit} of any owner on the issuer, {what} (`{pattern}`)"),
            Reach::Anywhere,
        )
    } else if name.contains('*') || name.contains('?') {
        (
            format!("any {unit} under `{owner}`, {what} (`{pattern}`)"),
            Reach::Owner,
        )
    } else {
        (
            format!("{unit} `{owner}/{name}`, {what} (`{pattern}`)"),
            Reach::One,
        )
    }
}

/// Analyses a role's trust policy: its AWS principals against the scope's accounts and
/// organisation, its federations against the known CI issuers.
pub fn analyse(role: &str, doc: &PolicyDocument, scope: &TrustScope<'_>) -> TrustAnalysis {
    let issuers = scope.issuers;
    let mut out = TrustAnalysis::default();
    let guards = Confinement::of_deny_guards(doc);
    for s in doc.statements.iter().filter(|s| s.allow) {
        analyse_aws(role, s, scope, &guards, &mut out);
        let federated = strings(s.principal.get("Federated").unwrap_or(&Value::Null));
        for (kind, v) in s.principal.as_object().into_iter().flatten() {
            if kind != "Federated" {
                for p in strings(v) {
                    out.other_principals.push(format!("{kind}: {p}"));
                }
            }
        }
        if let Value::String(star) = &s.principal {
            out.other_principals.push(format!("anyone: {star}"));
        }
        for provider in federated {
            let host = provider
                .split_once(":oidc-provider/")
                .map_or(provider.as_str(), |(_, h)| h);
            let Some(issuer) = issuers.iter().find(|i| host.eq_ignore_ascii_case(&i.host)) else {
                out.other_principals.push(format!("Federated: {provider}"));
                continue;
            };
            if !allows_web_identity(&s.actions) {
                continue;
            }
            out.ci.push(analyse_ci(role, s, issuer, &mut out.signals));
        }
    }
    out
}

fn analyse_ci(
    role: &str,
    s: &crate::policy_document::Statement,
    issuer: &CiIssuer,
    signals: &mut Vec<Signal>,
) -> CiTrust {
    let ci = issuer.kind;
    let sub_key = format!("{}:sub", issuer.host);
    let aud_key = format!("{}:aud", issuer.host);
    let mut exact_subs = Vec::new();
    let mut like_subs = Vec::new();
    let mut has_aud = false;
    for (op, keys) in &s.conditions {
        for (key, values) in keys {
            if key.eq_ignore_ascii_case(&sub_key) {
                if is_exact_op(op) {
                    exact_subs.extend(values.iter().cloned());
                } else if is_like_op(op) {
                    like_subs.extend(values.iter().cloned());
                }
            } else if key.eq_ignore_ascii_case(&aud_key) && (is_exact_op(op) || is_like_op(op)) {
                has_aud = true;
            }
        }
    }
    let mut who = Vec::new();
    let mut unusable = false;
    if exact_subs.is_empty() && like_subs.is_empty() {
        who.push(format!(
            "any {} on {} (no `sub` condition)",
            ci.unit(),
            issuer.host
        ));
        signals.push(Signal::new(
            "aws.trust.no_sub",
            format!(
                "role `{role}` trusts {} ({}) with no `sub` condition: any {} on that issuer can assume it",
                ci.name(),
                issuer.host,
                ci.unit()
            ),
        ));
    } else {
        let literal: Vec<&String> = exact_subs
            .iter()
            .filter(|v| v.contains('*') || v.contains('?'))
            .collect();
        for v in &exact_subs {
            if !literal.contains(&v) {
                who.push(describe_sub(ci, v).0);
            }
        }
        if !literal.is_empty() {
            let list = literal
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ");
            unusable = literal.len() == exact_subs.len() && like_subs.is_empty();
            signals.push(Signal::new(
                "aws.trust.literal_wildcard",
                format!(
                    "role `{role}`: {list} inside StringEquals is matched literally, so no {} token matches it{}; use StringLike",
                    ci.name(),
                    if unusable { " and the role cannot be assumed" } else { "" }
                ),
            ));
        }
        let mut wide = Vec::new();
        let mut anywhere = Vec::new();
        for v in &like_subs {
            let (words, reach) = describe_sub(ci, v);
            match reach {
                Reach::Anywhere => anywhere.push(words.clone()),
                Reach::Owner => wide.push(words.clone()),
                Reach::One => {}
            }
            who.push(words);
        }
        if !anywhere.is_empty() {
            signals.push(Signal::new(
                "aws.trust.any_repository",
                format!(
                    "role `{role}` can be assumed by {} runs of {}: any {} of anyone on {}",
                    ci.name(),
                    anywhere.join("; "),
                    ci.unit(),
                    issuer.host
                ),
            ));
        }
        if !wide.is_empty() {
            signals.push(Signal::new(
                "aws.trust.wildcard_sub",
                format!(
                    "role `{role}` can be assumed by {} runs of {}",
                    ci.name(),
                    wide.join("; ")
                ),
            ));
        }
    }
    if !has_aud {
        signals.push(Signal::new(
            "aws.trust.no_aud",
            format!(
                "role `{role}` trusts {} ({}) with no `aud` condition",
                ci.name(),
                issuer.host
            ),
        ));
    }
    CiTrust {
        issuer: issuer.host.clone(),
        ci,
        who,
        unusable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy_document::parse;

    fn trust(cond: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Federated":"arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{cond}}}]}}"#
        )
    }

    fn rules(a: &TrustAnalysis) -> Vec<&str> {
        a.signals.iter().map(|s| s.rule.as_str()).collect()
    }

    fn run(doc: &str) -> TrustAnalysis {
        run_in(doc, Some("o-acme123456"))
    }

    fn run_in(doc: &str, organization_id: Option<&str>) -> TrustAnalysis {
        let scope = TrustScope {
            issuers: &CiIssuer::defaults(),
            known_accounts: &["123456789012".to_owned(), "210987654321".to_owned()],
            organization_id,
        };
        analyse("r", &parse(doc).unwrap(), &scope)
    }

    fn assume(principal: &str, condition: &str) -> String {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{principal},"Action":"sts:AssumeRole","Condition":{condition}}}]}}"#
        )
    }

    #[test]
    fn anyone_is_public_unless_a_condition_confines_it() {
        for principal in [r#""*""#, r#"{"AWS":"*"}"#, r#"{"AWS":["*"]}"#] {
            let a = run(&assume(principal, "{}"));
            assert_eq!(rules(&a), vec!["aws.trust.public"], "{principal}");
            assert!(a.aws[0].contains("any AWS principal in any account"));
        }
        // The clean twins: confined to our organisation, or to one of our accounts.
        let a = run(&assume(
            r#"{"AWS":"*"}"#,
            r#"{"StringEquals":{"aws:PrincipalOrgID":"o-acme123456"}}"#,
        ));
        assert!(a.signals.is_empty(), "{:?}", a.signals);
        assert_eq!(
            a.aws,
            vec!["any AWS principal, confined to organisation o-acme123456"]
        );
        let a = run(&assume(
            r#"{"AWS":"*"}"#,
            r#"{"StringEquals":{"aws:PrincipalAccount":"210987654321"}}"#,
        ));
        assert!(a.signals.is_empty(), "{:?}", a.signals);
        // Confined, but to someone else's organisation or account: foreign, not public.
        let a = run(&assume(
            r#"{"AWS":"*"}"#,
            r#"{"StringEquals":{"aws:PrincipalOrgID":"o-other99999"}}"#,
        ));
        assert_eq!(
            rules(&a),
            vec!["aws.trust.foreign_account", "aws.trust.no_external_id"]
        );
        // An unknown organisation is not judged when ours is not configured.
        let a = run_in(
            &assume(
                r#"{"AWS":"*"}"#,
                r#"{"StringEquals":{"aws:PrincipalOrgID":"o-other99999"}}"#,
            ),
            None,
        );
        assert!(a.signals.is_empty(), "{:?}", a.signals);
        // An ExternalId alone is no confinement: it is not a secret.
        let a = run(&assume(
            r#"{"AWS":"*"}"#,
            r#"{"StringEquals":{"sts:ExternalId":"abc"}}"#,
        ));
        assert_eq!(rules(&a), vec!["aws.trust.public"]);
    }

    #[test]
    fn only_conditions_that_really_confine_count() {
        // Every account but ours, a key that may be absent, an org test that any org passes,
        // and a role name in every account: all still public.
        for condition in [
            r#"{"StringNotEquals":{"aws:PrincipalAccount":"123456789012"}}"#,
            r#"{"ForAllValues:StringEquals":{"aws:PrincipalOrgID":"o-acme123456"}}"#,
            r#"{"StringEqualsIfExists":{"aws:SourceAccount":"123456789012"}}"#,
            r#"{"Null":{"aws:PrincipalOrgID":"false"}}"#,
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/deploy"}}"#,
            r#"{"StringLike":{"aws:PrincipalAccount":"1234*"}}"#,
        ] {
            let a = run(&assume(r#"{"AWS":"*"}"#, condition));
            assert_eq!(rules(&a), vec!["aws.trust.public"], "{condition}");
        }
        // A role in one of ours, by ARN pattern: confined.
        let a = run(&assume(
            r#"{"AWS":"*"}"#,
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/ci-*"}}"#,
        ));
        assert!(a.signals.is_empty(), "{:?}", a.signals);
    }

    #[test]
    fn a_deny_guard_confines_an_allow_of_anyone() {
        let guarded = r#"{"Statement":[
            {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"},
            {"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-acme123456"}}}
        ]}"#;
        let a = run(guarded);
        assert!(a.signals.is_empty(), "{:?}", a.signals);
        assert_eq!(
            a.aws,
            vec!["any AWS principal, confined to organisation o-acme123456"]
        );
        // A deny with a further condition may not apply: it guards nothing.
        let partial = r#"{"Statement":[
            {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"},
            {"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole","Condition":{"StringNotEquals":{"aws:PrincipalOrgID":"o-acme123456"},"Bool":{"aws:SecureTransport":"false"}}}
        ]}"#;
        assert_eq!(rules(&run(partial)), vec!["aws.trust.public"]);
    }

    #[test]
    fn a_foreign_account_is_named_and_without_external_id_is_a_confused_deputy() {
        let a = run(&assume(r#"{"AWS":"arn:aws:iam::999988887777:root"}"#, "{}"));
        assert_eq!(
            rules(&a),
            vec!["aws.trust.foreign_account", "aws.trust.no_external_id"]
        );
        assert!(a.signals[0].message.contains("account 999988887777"));
        assert!(a.aws[0].contains("not one of yours"), "{:?}", a.aws);
        // With an ExternalId: still foreign (a vendor), no longer a confused deputy.
        let a = run(&assume(
            r#"{"AWS":"999988887777"}"#,
            r#"{"StringEquals":{"sts:ExternalId":"acme-7f3a"}}"#,
        ));
        assert_eq!(rules(&a), vec!["aws.trust.foreign_account"]);
        // The clean twins: our own account, a known one, a role in a known one.
        for p in [
            r#"{"AWS":"arn:aws:iam::123456789012:root"}"#,
            r#"{"AWS":"210987654321"}"#,
            r#"{"AWS":"arn:aws:iam::210987654321:role/deployer"}"#,
        ] {
            let a = run(&assume(p, "{}"));
            assert!(a.signals.is_empty(), "{p}: {:?}", a.signals);
        }
        // A statement that does not allow AssumeRole is not a trust.
        let doc = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:TagSession"}]}"#;
        assert!(run(doc).signals.is_empty());
    }

    #[test]
    fn any_repository_anywhere_is_its_own_rule() {
        for sub in ["repo:*", "repo:*/*", "repo:*/*:*", "*"] {
            let a = run(&trust(&format!(
                r#"{{"StringLike":{{"token.actions.githubusercontent.com:sub":"{sub}"}},"StringEquals":{{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}}"#
            )));
            assert_eq!(rules(&a), vec!["aws.trust.any_repository"], "{sub}");
        }
        let doc = r#"{"Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/gitlab.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"gitlab.com:sub":"project_path:*:ref_type:branch:ref:main"},"StringEquals":{"gitlab.com:aud":"https://gitlab.com"}}}]}"#;
        assert_eq!(rules(&run(doc)), vec!["aws.trust.any_repository"]);
    }

    #[test]
    fn safe_github_role_has_no_findings_and_names_the_repo() {
        let a = run(&trust(
            r#"{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com","token.actions.githubusercontent.com:sub":"repo:acme/web:ref:refs/heads/main"}}"#,
        ));
        assert!(a.signals.is_empty(), "{:?}", a.signals);
        assert_eq!(
            a.ci[0].who,
            vec![
                "repository `acme/web`, ref `refs/heads/main` (`repo:acme/web:ref:refs/heads/main`)"
            ]
        );
    }

    #[test]
    fn missing_sub_and_aud() {
        let a = run(&trust("{}"));
        assert_eq!(rules(&a), vec!["aws.trust.no_sub", "aws.trust.no_aud"]);
    }

    #[test]
    fn wildcards_over_owners_and_repos() {
        let a = run(&trust(
            r#"{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/*"},"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}"#,
        ));
        assert_eq!(rules(&a), vec!["aws.trust.wildcard_sub"]);
        assert!(
            a.signals[0].message.contains("any repository under `acme`"),
            "{}",
            a.signals[0].message
        );
        let a = run(&trust(
            r#"{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:*"},"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}"#,
        ));
        assert_eq!(rules(&a), vec!["aws.trust.any_repository"]);
        assert!(a.signals[0].message.contains("any owner"));
        // One repo, any branch: not a finding.
        let a = run(&trust(
            r#"{"StringLike":{"token.actions.githubusercontent.com:sub":"repo:acme/web:*"},"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}"#,
        ));
        assert!(a.signals.is_empty());
    }

    #[test]
    fn star_inside_string_equals_is_literal() {
        let a = run(&trust(
            r#"{"StringEquals":{"token.actions.githubusercontent.com:sub":"repo:acme/*","token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}"#,
        ));
        assert_eq!(rules(&a), vec!["aws.trust.literal_wildcard"]);
        assert!(a.ci[0].unusable);
    }

    #[test]
    fn gitlab_project_paths() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::1:oidc-provider/gitlab.com"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringLike":{"gitlab.com:sub":"project_path:acme/infra/*:ref_type:branch:ref:main"},"StringEquals":{"gitlab.com:aud":"https://gitlab.com"}}}]}"#;
        let a = run(doc);
        assert_eq!(rules(&a), vec!["aws.trust.wildcard_sub"]);
        assert!(
            a.signals[0]
                .message
                .contains("any project under `acme/infra`"),
            "{}",
            a.signals[0].message
        );
    }

    #[test]
    fn other_principals_are_listed_not_judged() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com","AWS":["arn:aws:iam::1:root"]},"Action":"sts:AssumeRole"}]}"#;
        let a = run(doc);
        assert!(a.signals.is_empty());
        assert_eq!(a.other_principals.len(), 2);
    }
}
