//! IAM policy documents: parsed from the raw or URL-encoded JSON AWS returns, and reduced to a
//! privilege level by what they allow — never by a policy's name.

use std::collections::BTreeMap;

use roster_core::Privilege;
use serde::Deserialize;
use serde_json::Value;

/// A policy document, as far as Roster reads it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicyDocument {
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub allow: bool,
    pub actions: Vec<String>,
    /// `NotAction`: everything except these.
    pub not_actions: Option<Vec<String>>,
    pub resources: Vec<String>,
    /// `Principal` as written (trust policies).
    pub principal: Value,
    /// operator → condition key → values.
    pub conditions: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy document is not valid JSON: {0}")]
pub struct PolicyParseError(pub String);

#[derive(Deserialize)]
struct RawDocument {
    #[serde(rename = "Statement", default)]
    statement: OneOrMany<RawStatement>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> Default for OneOrMany<T> {
    fn default() -> Self {
        OneOrMany::Many(Vec::new())
    }
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Deserialize)]
struct RawStatement {
    #[serde(rename = "Effect", default)]
    effect: String,
    #[serde(rename = "Action", default)]
    action: Option<OneOrMany<String>>,
    #[serde(rename = "NotAction", default)]
    not_action: Option<OneOrMany<String>>,
    #[serde(rename = "Resource", default)]
    resource: Option<OneOrMany<String>>,
    #[serde(rename = "Principal", default)]
    principal: Value,
    #[serde(rename = "Condition", default)]
    condition: BTreeMap<String, BTreeMap<String, Value>>,
}

/// Condition values are a string, a list, a bool or a number; all compare as strings.
fn condition_values(v: Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.into_iter().flat_map(condition_values).collect(),
        Value::String(s) => vec![s],
        Value::Null => vec![],
        other => vec![other.to_string()],
    }
}

/// AWS returns documents URL-encoded (RFC 3986); some tools and moto return them raw.
pub fn decode(text: &str) -> String {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return text.to_owned();
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

pub fn parse(text: &str) -> Result<PolicyDocument, PolicyParseError> {
    let decoded = decode(text);
    let raw: RawDocument =
        serde_json::from_str(&decoded).map_err(|e| PolicyParseError(e.to_string()))?;
    let statements = raw
        .statement
        .into_vec()
        .into_iter()
        .map(|s| Statement {
            allow: s.effect.eq_ignore_ascii_case("allow"),
            actions: s.action.map(OneOrMany::into_vec).unwrap_or_default(),
            not_actions: s.not_action.map(OneOrMany::into_vec),
            resources: s.resource.map(OneOrMany::into_vec).unwrap_or_default(),
            principal: s.principal,
            conditions: s
                .condition
                .into_iter()
                .map(|(op, keys)| {
                    (
                        op,
                        keys.into_iter()
                            .map(|(k, v)| (k, condition_values(v)))
                            .collect(),
                    )
                })
                .collect(),
        })
        .collect();
    Ok(PolicyDocument { statements })
}

/// IAM's wildcard match: `*` any run, `?` one character, case-insensitive (action names are).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Verbs that change something. An action (or pattern) that can match one of these is write.
const WRITE_VERBS: &[&str] = &[
    "Create",
    "Put",
    "Update",
    "Delete",
    "Modify",
    "Attach",
    "Detach",
    "Add",
    "Remove",
    "Set",
    "Tag",
    "Untag",
    "Associate",
    "Disassociate",
    "Enable",
    "Disable",
    "Import",
    "Upload",
    "Write",
    "Run",
    "Invoke",
    "Execute",
    "Send",
    "Publish",
    "Terminate",
    "Reboot",
    "Restore",
    "Replace",
    "Reset",
    "Register",
    "Deregister",
    "Grant",
    "Revoke",
    "Authorize",
    "Copy",
    "Move",
    "Rotate",
    "Change",
    "Start",
    "Stop",
    "Accept",
    "Reject",
    "Apply",
    "Assume",
    "Pass",
    "Encrypt",
    "Decrypt",
    "Sign",
    "Cancel",
    "Release",
    "Allocate",
    "Purchase",
    "Request",
    "Subscribe",
    "Unsubscribe",
    "BatchWrite",
    "BatchPut",
    "BatchDelete",
    "BatchUpdate",
    "BatchCreate",
    "BatchAssociate",
    "BatchDisassociate",
    "BatchExecute",
    "BatchStart",
    "BatchStop",
    "AdminCreate",
    "AdminDelete",
    "AdminUpdate",
    "AdminSet",
    "AdminAdd",
    "AdminRemove",
    "AdminDisable",
    "AdminEnable",
    "AdminReset",
    "AdminConfirm",
    "AdminInitiate",
    "AdminRespond",
    "Deploy",
    "Promote",
    "Rebuild",
    "Resize",
    "Schedule",
    "Submit",
    "Terminate",
    "Transfer",
    "Import",
    "Migrate",
    "Initiate",
    "Complete",
    "Abort",
    "Confirm",
    "Activate",
    "Deactivate",
    "Install",
    "Uninstall",
    "Merge",
    "Post",
    "Patch",
    "Mount",
    "Unmount",
    "Lock",
    "Unlock",
    "Open",
    "Close",
    "Flush",
    "Increase",
    "Decrease",
];

/// Actions whose verb says write but that AWS classes as read (they appear in the
/// ReadOnlyAccess managed policy): running a query, tailing a log, batch reads.
const READ_ONLY_EXCEPTIONS: &[&str] = &[
    "logs:StartQuery",
    "logs:StopQuery",
    "logs:StartLiveTail",
    "logs:StopLiveTail",
    "xray:StartTraceRetrieval",
    "xray:CancelTraceRetrieval",
    "servicequotas:StartQuotaUtilizationReport",
    "devops-guru:StartCostEstimation",
    "s3express:CreateSession",
    "elasticbeanstalk:Request*",
    "athena:Batch*",
    "cloudformation:BatchDescribeTypeConfigurations",
    "robomaker:BatchDescribe*",
    "ecr:BatchCheck*",
    "ecr-public:BatchCheckLayerAvailability",
    "comprehend:BatchDetect*",
    "clouddirectory:BatchRead",
    "cognito-idp:AdminList*",
    "cognito-idp:AdminGet*",
    "agent-registry:InvokeRegistryMcp",
];

/// IAM actions that only read or report; every other `iam:` action can grant permissions.
const IAM_READ_VERBS: &[&str] = &["Get", "List", "Generate", "Simulate"];

fn verb(action: &str) -> &str {
    action.split_once(':').map_or(action, |(_, v)| v)
}

fn starts_with_any(verb: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| {
        verb.len() >= p.len() && verb.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
    })
}

/// Why an action pattern is admin: `*`, or it can write IAM (which is a path to every other
/// permission: attach a policy, create a key, pass a role, rewrite a trust policy).
fn admin_reason(action: &str) -> Option<&'static str> {
    let a = action.trim();
    if a == "*" || a == "*:*" {
        return Some("every action");
    }
    let (service, v) = a.split_once(':')?;
    let service_matches_iam = glob_match(service, "iam");
    if !service_matches_iam {
        return None;
    }
    // `iam:*`, `iam:Put*`, `iam:*Policy`, `iam:PassRole`: writes IAM. `iam:Get*` does not.
    if v.contains('*') || v.contains('?') {
        let reads_only =
            !v.starts_with('*') && !v.starts_with('?') && starts_with_any(v, IAM_READ_VERBS);
        return (!reads_only).then_some("IAM write (privilege escalation)");
    }
    (!starts_with_any(v, IAM_READ_VERBS)).then_some("IAM write (privilege escalation)")
}

fn is_read_only(action: &str) -> bool {
    if READ_ONLY_EXCEPTIONS
        .iter()
        .any(|e| e.eq_ignore_ascii_case(action))
    {
        return true;
    }
    let v = verb(action);
    let literal = v.split(['*', '?']).next().unwrap_or("");
    let wildcard = literal.len() < v.len();
    if wildcard && literal.is_empty() {
        return false;
    }
    let lower = literal.to_ascii_lowercase();
    !WRITE_VERBS.iter().any(|w| {
        let w = w.to_ascii_lowercase();
        // `PutObject` starts with a write verb; `Put*` / `Up*` could match one.
        lower.starts_with(&w) || (wildcard && w.starts_with(&lower))
    })
}

/// The action patterns a document denies outright: `Deny` statements naming `"Resource": "*"`
/// with no condition. (A conditional or resource-scoped deny, `NotResource` included, may not
/// apply, so it removes nothing here: privilege is judged on what could be granted.)
pub fn unconditional_denies(doc: &PolicyDocument) -> Vec<String> {
    doc.statements
        .iter()
        .filter(|s| {
            !s.allow
                && s.conditions.is_empty()
                && s.not_actions.is_none()
                && s.resources.iter().any(|r| r == "*")
        })
        .flat_map(|s| s.actions.iter().cloned())
        .collect()
}

/// The privilege a document grants, and the evidence for it when it is more than read.
pub fn privilege(doc: &PolicyDocument) -> (Privilege, Option<String>) {
    privilege_except(doc, &[])
}

/// [`privilege`] with the actions `denied` (see [`unconditional_denies`], of every policy that
/// reaches the principal) taken away: an allow a deny covers grants nothing, and `*` with IAM
/// denied is every action but IAM (write, not admin).
pub fn privilege_except(doc: &PolicyDocument, denied: &[String]) -> (Privilege, Option<String>) {
    let covered = |a: &str| denied.iter().find(|d| glob_match(d, a.trim()));
    let iam_denied = denied.iter().find(|d| glob_match(d, "iam:*"));
    let mut level = Privilege::Read;
    let mut evidence = None;
    for s in doc.statements.iter().filter(|s| s.allow) {
        let resources = if s.resources.is_empty() {
            "*".to_owned()
        } else {
            s.resources.join(", ")
        };
        if let Some(not) = &s.not_actions {
            // Allow + NotAction grants everything it does not name.
            return (
                Privilege::Admin,
                Some(format!(
                    "Allow every action except {} on {resources}",
                    not.join(", ")
                )),
            );
        }
        for a in &s.actions {
            if covered(a).is_some() {
                continue;
            }
            if let Some(why) = admin_reason(a) {
                let every = matches!(a.trim(), "*" | "*:*");
                match iam_denied {
                    Some(d) if every => {
                        level = Privilege::Write;
                        evidence = Some(format!(
                            "Allow `{a}` on {resources}, but `{d}` is denied: every action except IAM"
                        ));
                        continue;
                    }
                    _ => {
                        return (
                            Privilege::Admin,
                            Some(format!("Allow `{a}` on {resources}: {why}")),
                        );
                    }
                }
            }
            if level != Privilege::Write && !is_read_only(a) {
                level = Privilege::Write;
                evidence = Some(format!("Allow `{a}` on {resources}"));
            }
        }
    }
    (level, evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs() {
        for a in [
            "s3:GetObject",
            "ec2:Describe*",
            "aoss:BatchGetCollection",
            "logs:StartQuery",
            "cognito-idp:AdminList*",
            "dynamodb:Query",
        ] {
            assert!(is_read_only(a), "{a}");
        }
        for a in [
            "s3:PutObject",
            "s3:*",
            "ec2:Start*",
            "s3:Up*",
            "sqs:SendMessage",
            "ec2:*Instances",
            "dynamodb:BatchWriteItem",
            "dynamodb:Batch*",
        ] {
            assert!(!is_read_only(a), "{a}");
        }
    }

    fn level(doc: &str) -> Privilege {
        privilege(&parse(doc).unwrap()).0
    }

    #[test]
    fn admin_is_decided_by_permissions_not_names() {
        let admin = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        assert_eq!(level(admin), Privilege::Admin);
        let iam_write = r#"{"Statement":{"Effect":"Allow","Action":["s3:GetObject","iam:PutUserPolicy"],"Resource":"*"}}"#;
        assert_eq!(level(iam_write), Privilege::Admin);
        let iam_glob = r#"{"Statement":[{"Effect":"Allow","Action":"iam:Put*","Resource":"*"}]}"#;
        assert_eq!(level(iam_glob), Privilege::Admin);
        let pass_role =
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:PassRole","Resource":"*"}]}"#;
        assert_eq!(level(pass_role), Privilege::Admin);
        let iam_read = r#"{"Statement":[{"Effect":"Allow","Action":["iam:Get*","iam:List*"],"Resource":"*"}]}"#;
        assert_eq!(level(iam_read), Privilege::Read);
        let not_action = r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#;
        assert_eq!(level(not_action), Privilege::Admin);
        let s3_write =
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"}]}"#;
        assert_eq!(level(s3_write), Privilege::Write);
        let reads = r#"{"Statement":[{"Effect":"Allow","Action":["s3:Get*","ec2:Describe*"],"Resource":"*"}]}"#;
        assert_eq!(level(reads), Privilege::Read);
        let deny_all = r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#;
        assert_eq!(level(deny_all), Privilege::Read);
        // A policy called AdministratorAccess that only reads is not admin: names mean nothing.
        let wildcard_service =
            r#"{"Statement":[{"Effect":"Allow","Action":"i?m:Create*","Resource":"*"}]}"#;
        assert_eq!(level(wildcard_service), Privilege::Admin);
    }

    fn except(doc: &str, denied: &[&str]) -> Privilege {
        let denied: Vec<String> = denied.iter().map(|d| (*d).to_owned()).collect();
        privilege_except(&parse(doc).unwrap(), &denied).0
    }

    #[test]
    fn explicit_denies_take_away_what_allows_grant() {
        let iam_all = r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"*"}]}"#;
        assert_eq!(except(iam_all, &[]), Privilege::Admin);
        assert_eq!(except(iam_all, &["iam:*"]), Privilege::Read);
        assert_eq!(except(iam_all, &["*"]), Privilege::Read);
        // Denying part of IAM leaves the rest.
        assert_eq!(except(iam_all, &["iam:Put*"]), Privilege::Admin);
        let star = r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        assert_eq!(except(star, &["iam:*"]), Privilege::Write);
        assert_eq!(except(star, &["s3:*"]), Privilege::Admin);
        // Only unconditional denies over every resource count.
        let denies = parse(
            r#"{"Statement":[
                {"Effect":"Deny","Action":"iam:*","Resource":"*"},
                {"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::logs/*"},
                {"Effect":"Deny","Action":"ec2:*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"false"}}}
            ]}"#,
        )
        .unwrap();
        assert_eq!(unconditional_denies(&denies), vec!["iam:*"]);
        // NotResource: every resource but some, so it may not cover the allow.
        let not_resource = parse(
            r#"{"Statement":[{"Effect":"Deny","Action":"iam:*","NotResource":"arn:aws:iam::123456789012:role/ci-*"}]}"#,
        )
        .unwrap();
        assert!(unconditional_denies(&not_resource).is_empty());
    }

    #[test]
    fn url_encoded_documents_are_decoded() {
        let enc = "%7B%22Version%22%3A%20%222012-10-17%22%2C%20%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Action%22%3A%20%22s3%3AGetObject%22%2C%20%22Resource%22%3A%20%22%2A%22%7D%5D%7D";
        let doc = parse(enc).unwrap();
        assert_eq!(doc.statements[0].actions, vec!["s3:GetObject"]);
        assert!(parse("%7Bnot json").is_err());
    }

    #[test]
    fn globs_follow_iam() {
        assert!(glob_match(
            "repo:acme/*",
            "repo:acme/web:ref:refs/heads/main"
        ));
        assert!(glob_match("IAM:put*", "iam:PutRolePolicy"));
        assert!(!glob_match("repo:acme/web", "repo:acme/web2"));
        assert!(glob_match("a?c", "abc"));
    }
}
