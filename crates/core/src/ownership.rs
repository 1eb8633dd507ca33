//! Identity-as-code ownership: `[[owners]]` in the policy file assigns an owner to the records
//! it matches. Resolution order, first that answers wins:
//! 1. the first `[[owners]]` entry that matches (reviewed as code, so it overrides the platform);
//! 2. the owner the platform itself names (a tag, `added_by`, the key's holder), as the
//!    connector reported it with its source;
//! 3. none: the identity is flagged `owner.missing`.

use serde::{Deserialize, Serialize};

use crate::model::{Kind, Platform};
use crate::policy::glob;
use crate::record::Record;

/// One `[[owners]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OwnerRule {
    pub platform: Option<Platform>,
    pub scope: Option<String>,
    pub kind: Option<Kind>,
    /// Glob on the record's name (`*` matches any run of characters).
    pub name: Option<String>,
    pub external_id: Option<String>,
    /// A person or team (as the people directory names them).
    pub owner: String,
}

impl OwnerRule {
    pub fn matches(&self, r: &Record) -> bool {
        self.platform.is_none_or(|p| p == r.platform)
            && self.kind.is_none_or(|k| k == r.kind)
            && self.scope.as_deref().is_none_or(|s| s == r.key.scope)
            && self
                .external_id
                .as_deref()
                .is_none_or(|e| e == r.key.external_id)
            && self.name.as_deref().is_none_or(|n| glob(n, &r.name))
    }

    pub(crate) fn is_scoped(&self) -> bool {
        (self.platform.is_some()
            || self.kind.is_some()
            || self.scope.is_some()
            || self.external_id.is_some()
            || self.name.is_some())
            && !self.owner.trim().is_empty()
    }
}

/// Applies the resolution order to `r` (see the module documentation).
pub fn resolve_owner(rules: &[OwnerRule], r: &mut Record) {
    if let Some((i, rule)) = rules.iter().enumerate().find(|(_, rule)| rule.matches(r)) {
        r.owner = Some(rule.owner.clone());
        r.owner_source = Some(format!("policy:owners[{i}]"));
    }
}
