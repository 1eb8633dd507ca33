//! Trust-policy analysis for roles federated to CI OIDC issuers (GitHub Actions, GitLab CI):
//! who can assume the role, in plain words, and what is unsafe about it.

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
    /// Other principals trusted (AWS accounts, services, other federations), as written.
    pub other_principals: Vec<String>,
    #[serde(skip)]
    pub signals: Vec<Signal>,
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

/// Describes one `sub` pattern in words, and says whether it spans more than one
/// repository/project (`wide`).
fn describe_sub(ci: CiKind, pattern: &str) -> (String, bool) {
    let unit = ci.unit();
    let prefix = match ci {
        CiKind::Github => "repo:",
        CiKind::Gitlab => "project_path:",
    };
    let Some(rest) = pattern.strip_prefix(prefix) else {
        if pattern.chars().all(|c| c == '*') {
            return (format!("any {unit} on the issuer (`{pattern}`)"), true);
        }
        return (
            format!("tokens whose `sub` matches `{pattern}`"),
            pattern.contains('*'),
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
            true,
        )
    } else if name.contains('*') || name.contains('?') {
        (
            format!("any {unit} under `{owner}`, {what} (`{pattern}`)"),
            true,
        )
    } else {
        (
            format!("{unit} `{owner}/{name}`, {what} (`{pattern}`)"),
            false,
        )
    }
}

/// Analyses a role's trust policy against the known CI issuers.
pub fn analyse(role: &str, doc: &PolicyDocument, issuers: &[CiIssuer]) -> TrustAnalysis {
    let mut out = TrustAnalysis::default();
    for s in doc.statements.iter().filter(|s| s.allow) {
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
        for v in &like_subs {
            let (words, is_wide) = describe_sub(ci, v);
            if is_wide {
                wide.push(words.clone());
            }
            who.push(words);
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
        analyse("r", &parse(doc).unwrap(), &CiIssuer::defaults())
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
        assert_eq!(rules(&a), vec!["aws.trust.wildcard_sub"]);
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
