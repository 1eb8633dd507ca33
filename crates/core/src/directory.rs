//! The people directory as the risk rules see it: who (person or team) is present, who left.
//! An owner who left makes the identity orphaned (NHI1); an owner the directory has never heard
//! of is reported as unknown rather than guessed at.

use std::collections::HashMap;

/// How the directory knows an owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerStatus {
    /// Present and active.
    Present,
    /// Was in the directory; inactive now, or missing from the latest import of its source.
    Departed,
    /// The directory has entries, but none for this owner.
    Unknown,
}

/// Directory entries by lower-cased key (a login, an email or a team name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    active: HashMap<String, bool>,
}

impl Directory {
    /// Adds an entry under each of its keys. An active key wins over an inactive one (a person
    /// can have left one source and be present in another).
    pub fn insert<'a>(&mut self, keys: impl IntoIterator<Item = &'a str>, active: bool) {
        for k in keys {
            let k = k.trim().to_lowercase();
            if k.is_empty() {
                continue;
            }
            let e = self.active.entry(k).or_insert(active);
            *e = *e || active;
        }
    }

    /// Adds an entry only if none of its keys is known yet: a source that may add people but
    /// never decides the status of one another source knows (single sign-on).
    pub fn insert_if_unknown<'a>(
        &mut self,
        keys: impl IntoIterator<Item = &'a str> + Clone,
        active: bool,
    ) {
        let known = keys
            .clone()
            .into_iter()
            .any(|k| self.active.contains_key(&k.trim().to_lowercase()));
        if !known {
            self.insert(keys, active);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// `None` when the directory is empty: without an import, nothing can be said.
    pub fn status(&self, owner: &str) -> Option<OwnerStatus> {
        if self.is_empty() {
            return None;
        }
        Some(match self.active.get(&owner.trim().to_lowercase()) {
            Some(true) => OwnerStatus::Present,
            Some(false) => OwnerStatus::Departed,
            None => OwnerStatus::Unknown,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let mut d = Directory::default();
        assert_eq!(d.status("alice"), None);
        d.insert(["alice", "Alice@Acme.example"], true);
        d.insert(["bob@acme.example"], false);
        d.insert(["alice"], false);
        assert_eq!(d.status("alice@acme.example"), Some(OwnerStatus::Present));
        assert_eq!(d.status("ALICE"), Some(OwnerStatus::Present));
        assert_eq!(d.status("bob@acme.example"), Some(OwnerStatus::Departed));
        assert_eq!(d.status("carol"), Some(OwnerStatus::Unknown));
    }
}
