//! What users and roles share: privilege from every policy that reaches them (inline, attached,
//! through groups), owner hints from tags.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_iam::types::{AttachedPolicy, GroupDetail, PolicyDetail, Tag};
use roster_core::Privilege;

use crate::policy_document;

/// A policy that applies to a principal, and how it reaches it.
pub struct AppliedPolicy<'a> {
    pub label: String,
    /// `None`: the document could not be read.
    pub document: Option<&'a str>,
}

pub fn inline<'a>(list: &'a [PolicyDetail], via: &str) -> Vec<AppliedPolicy<'a>> {
    list.iter()
        .map(|p| AppliedPolicy {
            label: format!("{} (inline{via})", p.policy_name().unwrap_or("?")),
            document: p.policy_document(),
        })
        .collect()
}

pub fn attached<'a>(
    list: &[AttachedPolicy],
    via: &str,
    docs: &'a HashMap<String, (String, String)>,
) -> Vec<AppliedPolicy<'a>> {
    list.iter()
        .map(|p| {
            let arn = p.policy_arn().unwrap_or("");
            AppliedPolicy {
                label: format!("{} ({arn}{via})", p.policy_name().unwrap_or("?")),
                document: docs.get(arn).map(|(_, d)| d.as_str()),
            }
        })
        .collect()
}

pub fn via_groups<'a>(
    groups: &[String],
    all: &'a HashMap<String, GroupDetail>,
    docs: &'a HashMap<String, (String, String)>,
) -> Vec<AppliedPolicy<'a>> {
    let mut out = Vec::new();
    for name in groups {
        if let Some(g) = all.get(name) {
            let via = format!(", via group {name}");
            out.extend(inline(g.group_policy_list(), &via));
            out.extend(attached(g.attached_managed_policies(), &via, docs));
        }
    }
    out
}

/// A document's privilege and its evidence, or why it could not be read.
pub type Verdict = Result<(Privilege, Option<String>), String>;

fn judge(text: &str, cache: &Mutex<HashMap<String, Verdict>>) -> Verdict {
    if let Ok(c) = cache.lock()
        && let Some(v) = c.get(text)
    {
        return v.clone();
    }
    let v = policy_document::parse(text)
        .map(|doc| policy_document::privilege(&doc))
        .map_err(|e| e.to_string());
    if let Ok(mut c) = cache.lock() {
        c.insert(text.to_owned(), v.clone());
    }
    v
}

/// The highest privilege among the policies, and the detail list: every policy by name, with
/// the evidence for those above read.
///
/// Effective, as IAM evaluates: what the policies allow, less what any of them (or the
/// boundary) denies outright, capped by the permission boundary's own level (what both allow is
/// at most what the boundary allows). The detail names the deny or boundary that decided.
pub fn privilege(
    policies: &[AppliedPolicy<'_>],
    boundary: Option<&AppliedPolicy<'_>>,
    cache: &Mutex<HashMap<String, Verdict>>,
) -> (Privilege, Vec<String>) {
    let mut level = Privilege::Read;
    let mut unknown = false;
    let mut detail = Vec::new();
    let rank = |p: Privilege| match p {
        Privilege::Admin => 3,
        Privilege::Write => 2,
        Privilege::Read => 1,
        Privilege::Unknown => 0,
    };
    let parsed = |p: &AppliedPolicy<'_>| p.document.and_then(|d| policy_document::parse(d).ok());
    let mut denies: Vec<(String, String)> = Vec::new();
    for p in policies.iter().chain(boundary) {
        for d in parsed(p)
            .map(|doc| policy_document::unconditional_denies(&doc))
            .unwrap_or_default()
        {
            denies.push((d, p.label.clone()));
        }
    }
    let denied: Vec<String> = denies.iter().map(|(d, _)| d.clone()).collect();
    let judged = |p: &AppliedPolicy<'_>| -> Option<Verdict> {
        if denied.is_empty() {
            return p.document.map(|d| judge(d, cache));
        }
        let text = p.document?;
        Some(
            policy_document::parse(text)
                .map(|doc| policy_document::privilege_except(&doc, &denied))
                .map_err(|e| e.to_string()),
        )
    };
    for p in policies {
        match judged(p) {
            Some(Ok((l, evidence))) => {
                if rank(l) > rank(level) {
                    level = l;
                }
                match evidence {
                    Some(e) => detail.push(format!("{}: {e}", p.label)),
                    None => detail.push(p.label.clone()),
                }
            }
            Some(Err(e)) => {
                unknown = true;
                detail.push(format!("{}: unreadable ({e})", p.label));
            }
            None => {
                unknown = true;
                detail.push(format!("{}: document not readable", p.label));
            }
        }
    }
    // A policy we could not read may grant anything: say unknown unless admin is already proven.
    if unknown && level != Privilege::Admin {
        level = Privilege::Unknown;
    }
    for (d, label) in &denies {
        detail.push(format!("denies `{d}` on every resource: {label}"));
    }
    if let Some(b) = boundary {
        match judged(b) {
            Some(Ok((cap, evidence))) => {
                let why = evidence.map_or_else(String::new, |e| format!(" ({e})"));
                // A ceiling, never a floor: an unknown level stays unknown unless the boundary
                // allows no more than read.
                let unknown_at_most_read = level == Privilege::Unknown && cap == Privilege::Read;
                if (rank(cap) < rank(level) && level != Privilege::Unknown) || unknown_at_most_read
                {
                    detail.push(format!(
                        "capped at {} by the permission boundary {}{why}",
                        cap.as_str(),
                        b.label
                    ));
                    level = cap;
                } else {
                    detail.push(format!(
                        "permission boundary {} allows up to {}{why}",
                        b.label,
                        cap.as_str()
                    ));
                }
            }
            _ => detail.push(format!(
                "permission boundary {}: document not readable, not applied",
                b.label
            )),
        }
    }
    (level, detail)
}

/// The permission boundary of a user or role, as a policy that applies to it.
pub fn boundary<'a>(
    arn: Option<&str>,
    docs: &'a HashMap<String, (String, String)>,
) -> Option<AppliedPolicy<'a>> {
    let arn = arn?;
    Some(AppliedPolicy {
        label: format!(
            "{} ({arn})",
            docs.get(arn).map_or("?", |(name, _)| name.as_str())
        ),
        document: docs.get(arn).map(|(_, d)| d.as_str()),
    })
}

/// Owner from tags `owner`, `Owner` or `team` (first found), and the tag it came from.
pub fn owner_from_tags(tags: &[Tag]) -> Option<(String, String)> {
    for key in ["owner", "Owner", "team", "Team"] {
        if let Some(t) = tags.iter().find(|t| t.key() == key) {
            let v = t.value().trim();
            if !v.is_empty() {
                return Some((v.to_owned(), format!("aws_tag:{key}")));
            }
        }
    }
    None
}

pub fn tags_json(tags: &[Tag]) -> serde_json::Value {
    serde_json::Value::Object(
        tags.iter()
            .map(|t| (t.key().to_owned(), serde_json::Value::from(t.value())))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    const READ: &str =
        r#"{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

    fn policy<'a>(label: &str, document: Option<&'a str>) -> AppliedPolicy<'a> {
        AppliedPolicy {
            label: label.into(),
            document,
        }
    }

    #[test]
    fn a_boundary_is_a_ceiling_never_a_floor() {
        let cache = Mutex::new(HashMap::new());
        let admin = [policy("admin", Some(ADMIN))];
        let read_boundary = policy("ro", Some(READ));
        let admin_boundary = policy("full", Some(ADMIN));
        assert_eq!(
            privilege(&admin, Some(&read_boundary), &cache).0,
            Privilege::Read
        );
        assert_eq!(
            privilege(&admin, Some(&admin_boundary), &cache).0,
            Privilege::Admin
        );
        // An unreadable policy leaves the level unknown; a broad boundary does not raise it,
        // a read-only one bounds it.
        let unreadable = [policy("lost", None)];
        let (level, detail) = privilege(&unreadable, Some(&admin_boundary), &cache);
        assert_eq!(level, Privilege::Unknown, "{detail:?}");
        assert_eq!(
            privilege(&unreadable, Some(&read_boundary), &cache).0,
            Privilege::Read
        );
    }
}
