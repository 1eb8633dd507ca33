//! Which CI repositories a workload identity provider lets federate in, read from its issuer,
//! its `attributeMapping` and its `attributeCondition` (a CEL expression).
//!
//! The reading is conservative: it understands the shapes conditions take in practice
//! (`==`, `in [...]`, `startsWith` / `endsWith` / `contains` / `matches`, `!=`, `&&`, `||`,
//! parentheses, `attribute.x` mapped from `assertion.y`) and anything it cannot pin to named
//! repositories counts as admitting more, never fewer: a clause that does not name a
//! repository or owner restricts nothing, a negation restricts nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The CI platform an issuer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ci {
    GitHub,
    GitLab,
}

impl Ci {
    /// GitHub Actions (`token.actions.githubusercontent.com`, with or without an enterprise
    /// path; GHES's `/_services/token`), GitLab (gitlab.com or a host named gitlab).
    pub(crate) fn of_issuer(issuer: &str) -> Option<Ci> {
        let url = url::Url::parse(issuer.trim()).ok()?;
        let host = url.host_str()?.to_ascii_lowercase();
        if host == "token.actions.githubusercontent.com"
            || url
                .path()
                .trim_end_matches('/')
                .ends_with("/_services/token")
        {
            return Some(Ci::GitHub);
        }
        if host == "gitlab.com" || host.split('.').any(|l| l == "gitlab") {
            return Some(Ci::GitLab);
        }
        None
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Ci::GitHub => "GitHub Actions",
            Ci::GitLab => "GitLab CI",
        }
    }

    fn repo_fields(self) -> &'static [&'static str] {
        match self {
            Ci::GitHub => &["repository", "repository_id"],
            Ci::GitLab => &["project_path", "project_id"],
        }
    }

    fn owner_fields(self) -> &'static [&'static str] {
        match self {
            Ci::GitHub => &["repository_owner", "repository_owner_id"],
            Ci::GitLab => &["namespace_path", "namespace_id"],
        }
    }

    /// The repository a `sub` claim names: `repo:acme/app:ref:…` (GitHub),
    /// `project_path:group/app:ref_type:…` (GitLab).
    fn repo_of_sub(self, sub: &str) -> Option<String> {
        let prefix = match self {
            Ci::GitHub => "repo:",
            Ci::GitLab => "project_path:",
        };
        let rest = sub.strip_prefix(prefix)?;
        let repo = rest.split(':').next()?;
        (!repo.is_empty() && !repo.contains('*')).then(|| repo.to_string())
    }
}

/// What a condition admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admits {
    /// Exactly these repositories (path or id).
    Repos(BTreeSet<String>),
    /// More than named repositories: every repository of these owners, or of these patterns.
    Wide {
        repos: BTreeSet<String>,
        owners: BTreeSet<String>,
        patterns: Vec<String>,
    },
    /// Every repository on the issuer.
    Any,
}

impl fmt::Display for Admits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Admits::Repos(r) => write!(f, "only {}", join(r)),
            Admits::Any => f.write_str("every repository on the issuer"),
            Admits::Wide {
                repos,
                owners,
                patterns,
            } => {
                let mut parts = Vec::new();
                if !owners.is_empty() {
                    parts.push(format!("every repository of {}", join(owners)));
                }
                if !patterns.is_empty() {
                    parts.push(format!(
                        "every repository matching {}",
                        patterns
                            .iter()
                            .map(|p| format!("`{p}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if !repos.is_empty() {
                    parts.push(join(repos));
                }
                f.write_str(&parts.join(", and "))
            }
        }
    }
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn wide_owner(o: String) -> Admits {
    Admits::Wide {
        repos: BTreeSet::new(),
        owners: BTreeSet::from([o]),
        patterns: vec![],
    }
}

fn wide_pattern(p: String) -> Admits {
    Admits::Wide {
        repos: BTreeSet::new(),
        owners: BTreeSet::new(),
        patterns: vec![p],
    }
}

/// What `condition` admits for tokens of `ci`, with `attribute.x` resolved through `mapping`.
pub(crate) fn admits(ci: Ci, condition: &str, mapping: &BTreeMap<String, String>) -> Admits {
    let reader = Reader { ci, mapping };
    reader.expr(condition)
}

struct Reader<'a> {
    ci: Ci,
    mapping: &'a BTreeMap<String, String>,
}

impl Reader<'_> {
    fn expr(&self, e: &str) -> Admits {
        let e = strip_parens(e.trim());
        let ors = split_top(e, "||");
        if ors.len() > 1 {
            return union(ors.iter().map(|p| self.expr(p)).collect());
        }
        let ands = split_top(e, "&&");
        if ands.len() > 1 {
            return intersection(ands.iter().map(|p| self.expr(p)).collect());
        }
        self.atom(e)
    }

    fn atom(&self, e: &str) -> Admits {
        let e = strip_parens(e.trim());
        if e.starts_with('!') && !e.starts_with("!=") {
            // A negation admits everything but something: wide at best.
            return Admits::Any;
        }
        if let Some((lhs, rhs)) = split_op(e, "==") {
            let (field, lit) = match (literal(lhs), literal(rhs)) {
                (None, Some(l)) => (lhs, l),
                (Some(l), None) => (rhs, l),
                _ => return Admits::Any,
            };
            return self.equals(field, vec![lit]);
        }
        if let Some((lhs, rhs)) = split_op(e, "!=") {
            let field = if literal(lhs).is_some() { rhs } else { lhs };
            return match self.field(field) {
                Field::Other => Admits::Any,
                _ => wide_pattern(e.to_string()),
            };
        }
        if let Some((lhs, rhs)) = split_op(e, " in ") {
            if let Some(list) = list_literal(rhs) {
                return self.equals(lhs, list);
            }
            return Admits::Any;
        }
        for method in [".startsWith(", ".endsWith(", ".contains(", ".matches("] {
            if let Some(pos) = e.find(method) {
                let field = &e[..pos];
                return match self.field(field) {
                    Field::Other => Admits::Any,
                    _ => wide_pattern(e.to_string()),
                };
            }
        }
        Admits::Any
    }

    fn equals(&self, field: &str, values: Vec<String>) -> Admits {
        match self.field(field) {
            Field::Repo => Admits::Repos(values.into_iter().collect()),
            Field::Owner => {
                let mut out = None;
                for v in values {
                    out = Some(match out {
                        None => wide_owner(v),
                        Some(prev) => union(vec![prev, wide_owner(v)]),
                    });
                }
                out.unwrap_or(Admits::Any)
            }
            Field::Sub => {
                let mut repos = BTreeSet::new();
                for v in &values {
                    match self.ci.repo_of_sub(v) {
                        Some(r) => {
                            repos.insert(r);
                        }
                        None => return Admits::Any,
                    }
                }
                Admits::Repos(repos)
            }
            Field::Other => Admits::Any,
        }
    }

    /// What a field names, after `attribute.x` is resolved through the mapping.
    fn field(&self, raw: &str) -> Field {
        let name = normalise_field(raw);
        let resolved = match name.strip_prefix("attribute.") {
            Some(attr) => match self.mapping.get(&format!("attribute.{attr}")) {
                Some(src) => normalise_field(src),
                None => return Field::Other,
            },
            None if name == "google.subject" => match self.mapping.get("google.subject") {
                Some(src) => normalise_field(src),
                None => return Field::Other,
            },
            None => name,
        };
        let Some(claim) = resolved.strip_prefix("assertion.") else {
            return Field::Other;
        };
        if claim == "sub" {
            Field::Sub
        } else if self.ci.repo_fields().contains(&claim) {
            Field::Repo
        } else if self.ci.owner_fields().contains(&claim) {
            Field::Owner
        } else {
            Field::Other
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Field {
    Repo,
    Owner,
    Sub,
    Other,
}

/// `assertion['x']` → `assertion.x`, whitespace removed.
fn normalise_field(raw: &str) -> String {
    let s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = String::new();
    let mut rest = s.as_str();
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let key = after[..close].trim_matches(|c| c == '\'' || c == '"');
        out.push('.');
        out.push_str(key);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn union(parts: Vec<Admits>) -> Admits {
    let mut repos = BTreeSet::new();
    let mut owners = BTreeSet::new();
    let mut patterns = Vec::new();
    let mut wide = false;
    for p in parts {
        match p {
            Admits::Any => return Admits::Any,
            Admits::Repos(r) => repos.extend(r),
            Admits::Wide {
                repos: r,
                owners: o,
                patterns: p,
            } => {
                wide = true;
                repos.extend(r);
                owners.extend(o);
                patterns.extend(p);
            }
        }
    }
    if wide {
        Admits::Wide {
            repos,
            owners,
            patterns,
        }
    } else {
        Admits::Repos(repos)
    }
}

fn intersection(parts: Vec<Admits>) -> Admits {
    let mut pinned: Option<BTreeSet<String>> = None;
    let mut wide: Option<Admits> = None;
    for p in parts {
        match p {
            Admits::Repos(r) => {
                pinned = Some(match pinned {
                    None => r,
                    Some(prev) => prev.intersection(&r).cloned().collect(),
                });
            }
            w @ Admits::Wide { .. } => {
                if wide.is_none() {
                    wide = Some(w);
                }
            }
            Admits::Any => {}
        }
    }
    match (pinned, wide) {
        (Some(r), _) => Admits::Repos(r),
        (None, Some(w)) => w,
        (None, None) => Admits::Any,
    }
}

/// Removes parentheses that enclose the whole expression.
fn strip_parens(mut e: &str) -> &str {
    loop {
        let t = e.trim();
        if t.starts_with('(') && t.ends_with(')') && closes_at_end(t) {
            e = &t[1..t.len() - 1];
        } else {
            return t;
        }
    }
}

/// Whether the `(` at the start of `t` is closed by its last character.
fn closes_at_end(t: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for (i, c) in t.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => {
                depth -= 1;
                if depth == 0 && i != t.len() - 1 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// Splits at `op` where it occurs outside quotes, parentheses and brackets.
fn split_top<'a>(e: &'a str, op: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut start = 0;
    let bytes = e.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i] as char;
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\\') => i += 1,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[') => depth += 1,
            (None, ')' | ']') => depth -= 1,
            (None, _) if depth == 0 && e.is_char_boundary(i) && e[i..].starts_with(op) => {
                parts.push(&e[start..i]);
                i += op.len();
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&e[start..]);
    parts
}

fn split_op<'a>(e: &'a str, op: &str) -> Option<(&'a str, &'a str)> {
    let parts = split_top(e, op);
    (parts.len() == 2).then(|| (parts[0].trim(), parts[1].trim()))
}

/// A quoted string literal.
fn literal(e: &str) -> Option<String> {
    let e = e.trim();
    let q = e.chars().next()?;
    if (q == '\'' || q == '"') && e.len() >= 2 && e.ends_with(q) {
        let inner = &e[1..e.len() - 1];
        (!inner.contains(q)).then(|| inner.to_string())
    } else {
        None
    }
}

/// `['a', "b"]`.
fn list_literal(e: &str) -> Option<Vec<String>> {
    let inner = e.trim().strip_prefix('[')?.strip_suffix(']')?;
    split_top(inner, ",")
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .map(literal)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gh(cond: &str) -> Admits {
        let mapping = BTreeMap::from([
            ("google.subject".to_string(), "assertion.sub".to_string()),
            (
                "attribute.repository".to_string(),
                "assertion.repository".to_string(),
            ),
            (
                "attribute.owner".to_string(),
                "assertion.repository_owner".to_string(),
            ),
        ]);
        admits(Ci::GitHub, cond, &mapping)
    }

    fn repos(r: &[&str]) -> Admits {
        Admits::Repos(r.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn issuers() {
        assert_eq!(
            Ci::of_issuer("https://token.actions.githubusercontent.com"),
            Some(Ci::GitHub)
        );
        assert_eq!(
            Ci::of_issuer("https://token.actions.githubusercontent.com/acme-enterprise"),
            Some(Ci::GitHub)
        );
        assert_eq!(
            Ci::of_issuer("https://ghe.acme.com/_services/token"),
            Some(Ci::GitHub)
        );
        assert_eq!(Ci::of_issuer("https://gitlab.com"), Some(Ci::GitLab));
        assert_eq!(Ci::of_issuer("https://gitlab.acme.com/"), Some(Ci::GitLab));
        assert_eq!(Ci::of_issuer("https://sts.windows.net/tenant/"), None);
        assert_eq!(Ci::of_issuer("not a url"), None);
    }

    #[test]
    fn pinned_conditions_name_their_repositories() {
        assert_eq!(
            gh("assertion.repository == 'acme/app'"),
            repos(&["acme/app"])
        );
        assert_eq!(
            gh("attribute.repository in ['acme/app', \"acme/web\"]"),
            repos(&["acme/app", "acme/web"])
        );
        assert_eq!(
            gh("assertion.sub == 'repo:acme/app:ref:refs/heads/main'"),
            repos(&["acme/app"])
        );
        assert_eq!(
            gh("assertion['repository'] == 'acme/app' && assertion.ref == 'refs/heads/main'"),
            repos(&["acme/app"])
        );
        assert_eq!(
            gh("(assertion.repository == 'acme/app') || (assertion.repository == 'acme/web')"),
            repos(&["acme/app", "acme/web"])
        );
        assert_eq!(
            gh("assertion.repository_owner == 'acme' && assertion.repository == 'acme/app'"),
            repos(&["acme/app"])
        );
    }

    #[test]
    fn owner_wide_patterns_and_unrelated_clauses_are_wide() {
        let owner = gh("attribute.owner == 'acme'");
        assert_eq!(owner, wide_owner("acme".into()));
        assert_eq!(owner.to_string(), "every repository of `acme`");
        assert!(matches!(
            gh("assertion.repository.startsWith('acme/')"),
            Admits::Wide { .. }
        ));
        assert!(matches!(
            gh("google.subject.matches('repo:acme/.*')"),
            Admits::Wide { .. }
        ));
        assert!(matches!(
            gh("assertion.repository != 'acme/secret'"),
            Admits::Wide { .. }
        ));
        assert_eq!(gh("assertion.ref == 'refs/heads/main'"), Admits::Any);
        assert_eq!(gh("true"), Admits::Any);
        assert_eq!(
            gh("assertion.actor == 'jürgen' || assertion.repository == 'é/ü'"),
            Admits::Any
        );
        assert_eq!(gh("!(assertion.repository == 'acme/app')"), Admits::Any);
        // One open disjunct opens the whole condition.
        assert_eq!(
            gh("assertion.repository == 'acme/app' || assertion.actor == 'octocat'"),
            Admits::Any
        );
        // An attribute the mapping does not define restricts nothing.
        assert_eq!(gh("attribute.repo == 'acme/app'"), Admits::Any);
        // A wildcard sub is not a repository.
        assert_eq!(gh("assertion.sub == 'repo:acme/*'"), Admits::Any);
    }

    #[test]
    fn gitlab_claims() {
        let m = BTreeMap::new();
        assert_eq!(
            admits(Ci::GitLab, "assertion.project_path == 'grp/app'", &m),
            repos(&["grp/app"])
        );
        assert_eq!(
            admits(
                Ci::GitLab,
                "assertion.sub == 'project_path:grp/app:ref_type:branch:ref:main'",
                &m
            ),
            repos(&["grp/app"])
        );
        assert_eq!(
            admits(Ci::GitLab, "assertion.namespace_path == 'grp'", &m).to_string(),
            "every repository of `grp`"
        );
    }
}
