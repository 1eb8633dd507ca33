//! The one access policy: every decision about who may do what lives here, as a method of
//! [`Principal`]. Services call the `require_*` forms, which hand back an [`AppError::Forbidden`]
//! with a reason that is safe to show; faces ask the `can_*` forms for what to offer (a button,
//! a form), so no handler or template compares roles.
//!
//! Roles: admins do everything; auditors read everything and change nothing; owners see what
//! they own and what nobody owns, claim for themselves, and review the items assigned to them.

use std::fmt;
use std::str::FromStr;

use roster_core::InventoryItem;
use roster_core::campaign::Decider;
use roster_store::campaigns::CampaignItem;

use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Auditor,
    Owner,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Auditor, Role::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Owner => "owner",
        }
    }
}

impl Role {
    /// What a principal of this role can do, on the inventory's privilege scale: an API
    /// token is itself a non-human identity, rated like any other.
    pub fn privilege(self) -> roster_core::Privilege {
        match self {
            Role::Admin => roster_core::Privilege::Admin,
            Role::Owner => roster_core::Privilege::Write,
            Role::Auditor => roster_core::Privilege::Read,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}` (admin, auditor or owner)")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "admin" => Ok(Role::Admin),
            "auditor" => Ok(Role::Auditor),
            "owner" => Ok(Role::Owner),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// Who acts: a signed-in person, an API token, the bootstrap admin, or the CLI and the
/// scheduler (which act as admins under their own names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub role: Role,
    /// The email or subject from the identity provider, `token:<name>`, `bootstrap`, or for
    /// the CLI and the scheduler `cli:<login>` / `scheduler:<server>`.
    pub who: String,
    /// How the principal came to be, which decides how the audit trail names it: a person's
    /// name is never read for a prefix, so nobody signs in as `bootstrap` or `cli:root`.
    source: Source,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Signed in through the identity provider.
    Person,
    /// An API token (`who` is `token:<name>`).
    Token,
    /// The one-time bootstrap link, the CLI, the scheduler, the demo: named as they are.
    System,
    /// One of the demo's sample people, signed in through a one-time link.
    Demo,
}

/// What an owner-scoped permission needs to know of a record: its owner, and for a credential
/// its identity's owner (a credential belongs to whoever owns its identity).
#[derive(Debug, Clone, Copy, Default)]
pub struct Ownership<'a> {
    pub owner: Option<&'a str>,
    pub parent_owner: Option<&'a str>,
}

impl<'a> Ownership<'a> {
    pub fn of(item: &'a InventoryItem, parent: Option<&'a InventoryItem>) -> Self {
        Ownership {
            owner: item.owner.as_deref(),
            parent_owner: parent.and_then(|p| p.owner.as_deref()),
        }
    }
}

impl Principal {
    /// A person signed in through the identity provider.
    pub fn person(role: Role, who: impl Into<String>) -> Self {
        Principal {
            role,
            who: who.into(),
            source: Source::Person,
        }
    }

    /// The bearer of the API token `name`.
    pub fn token(role: Role, name: &str) -> Self {
        Principal {
            role,
            who: format!("token:{name}"),
            source: Source::Token,
        }
    }

    /// One of the demo's sample people (`demo:<who>` in the audit trail).
    pub fn demo(role: Role, who: impl Into<String>) -> Self {
        Principal {
            role,
            who: who.into(),
            source: Source::Demo,
        }
    }

    /// The admin the one-time bootstrap link signs in.
    pub fn bootstrap() -> Self {
        Principal::cli("bootstrap")
    }

    /// The CLI, the scheduler or the demo: an admin under its own name (`cli:<login>`,
    /// `scheduler:<server>`, `demo`).
    pub fn cli(actor: impl Into<String>) -> Self {
        Principal {
            role: Role::Admin,
            who: actor.into(),
            source: Source::System,
        }
    }

    /// What a stored web session keeps of its principal: how they signed in, who, and the
    /// role.
    pub(crate) fn stored_parts(&self) -> (&'static str, &str, Role) {
        let source = match self.source {
            Source::Person => "person",
            Source::Token => "token",
            Source::System => "system",
            Source::Demo => "demo",
        };
        (source, &self.who, self.role)
    }

    /// A stored web session's principal back; `None` for parts this version does not know.
    /// Only sessions this layer opened are read so ([`crate::web_sessions`]).
    pub(crate) fn from_stored_parts(source: &str, who: &str, role: &str) -> Option<Self> {
        let source = match source {
            "person" => Source::Person,
            "system" => Source::System,
            "demo" => Source::Demo,
            // A token's principal comes from its bearer header, never from a cookie.
            _ => return None,
        };
        Some(Principal {
            role: role.parse().ok()?,
            who: who.to_owned(),
            source,
        })
    }

    /// Who this is in the audit trail: `sso:<who>` for a person, `token:<name>`, or the
    /// system's own name.
    pub fn actor(&self) -> String {
        match self.source {
            Source::Person => format!("sso:{}", self.who),
            Source::Demo => format!("demo:{}", self.who),
            Source::Token | Source::System => self.who.clone(),
        }
    }

    fn is(&self, who: &str) -> bool {
        who.trim().eq_ignore_ascii_case(self.who.trim())
    }

    /// Sees every record, and the governance pages: the dashboard, sync runs, campaigns, the
    /// audit trail. Owners see their own part of the inventory instead.
    pub fn can_see_everything(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Auditor)
    }

    pub fn require_governance(&self, what: &'static str) -> Result<(), AppError> {
        if self.can_see_everything() {
            Ok(())
        } else {
            Err(AppError::Forbidden(what))
        }
    }

    /// Reads `/metrics` (with an API token or a session; a scraper on the address `[server]
    /// metrics_bind` names needs neither): counts of the whole inventory, so those who see
    /// everything.
    pub fn can_read_metrics(&self) -> bool {
        self.can_see_everything()
    }

    pub fn require_read_metrics(&self) -> Result<(), AppError> {
        if self.can_read_metrics() {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "metrics are read by admins and auditors (or their API tokens)",
            ))
        }
    }

    /// Launches, signs off and closes campaigns, carries out their remediation.
    pub fn can_launch(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_launch(&self) -> Result<(), AppError> {
        if self.can_launch() {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "only admins launch and close campaigns",
            ))
        }
    }

    /// Deletes history past the retention settings (never the audit trail).
    pub fn can_prune(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_prune(&self) -> Result<(), AppError> {
        if self.can_prune() {
            Ok(())
        } else {
            Err(AppError::Forbidden("only admins prune history"))
        }
    }

    /// Runs remediation on a record through its connector (dry runs included: a dry run
    /// reads the platform's live state with the connector's credentials).
    pub fn can_remediate(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_remediate(&self) -> Result<(), AppError> {
        if self.can_remediate() {
            Ok(())
        } else {
            Err(AppError::Forbidden("only admins remediate"))
        }
    }

    /// May ask for a policy exception on this record: an admin always; an owner for what they
    /// own (the record, or for a credential without its own owner, its identity); an auditor
    /// never. Someone else's record, or one nobody owns, is claimed first.
    pub fn can_request_exception(&self, record: Ownership<'_>) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Auditor => false,
            Role::Owner => record
                .owner
                .or(record.parent_owner)
                .is_some_and(|o| self.is(o)),
        }
    }

    pub fn require_request_exception(&self, record: Ownership<'_>) -> Result<(), AppError> {
        if self.can_request_exception(record) {
            Ok(())
        } else if self.role == Role::Auditor {
            Err(AppError::Forbidden("auditors change nothing"))
        } else {
            Err(AppError::Forbidden(
                "only the record's owner or an admin asks for an exception on it",
            ))
        }
    }

    /// Sees every exception request (the `/exceptions` page): those who see everything.
    pub fn can_see_exception_requests(&self) -> bool {
        self.can_see_everything()
    }

    pub fn require_see_exception_requests(&self) -> Result<(), AppError> {
        self.require_governance("exception requests are listed for admins and auditors")
    }

    /// Approves or rejects exception requests.
    pub fn can_decide_exceptions(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_decide_exceptions(&self) -> Result<(), AppError> {
        if self.can_decide_exceptions() {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "only admins approve or reject exception requests",
            ))
        }
    }

    /// Creates and revokes API tokens.
    pub fn can_manage_tokens(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_manage_tokens(&self) -> Result<(), AppError> {
        if self.can_manage_tokens() {
            Ok(())
        } else {
            Err(AppError::Forbidden("only admins manage API tokens"))
        }
    }

    /// Issues one-time sign-in links (an admin's, a demo person's).
    pub fn can_issue_sign_in_links(&self) -> bool {
        self.role == Role::Admin
    }

    pub fn require_issue_sign_in_links(&self) -> Result<(), AppError> {
        if self.can_issue_sign_in_links() {
            Ok(())
        } else {
            Err(AppError::Forbidden("only admins issue sign-in links"))
        }
    }

    /// Takes part in reviews at all: owners and admins. Auditors change nothing.
    pub fn can_review(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Owner)
    }

    pub fn require_review(&self) -> Result<(), AppError> {
        if self.can_review() {
            Ok(())
        } else {
            Err(AppError::Forbidden("auditors read; they do not decide"))
        }
    }

    /// May open this campaign item: its reviewer, or anyone who sees everything.
    pub fn can_view_item(&self, item: &CampaignItem) -> bool {
        self.can_see_everything() || self.is(&item.reviewer)
    }

    pub fn require_view_item(&self, item: &CampaignItem) -> Result<(), AppError> {
        if self.can_view_item(item) {
            Ok(())
        } else {
            Err(AppError::Forbidden("this item is reviewed by someone else"))
        }
    }

    /// May decide this item (whatever its state): an admin, or the owner it is assigned to.
    pub fn can_decide(&self, item: &CampaignItem) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Owner => self.is(&item.reviewer),
            Role::Auditor => false,
        }
    }

    /// How the campaign rules see this principal deciding.
    pub fn decider(&self) -> Decider<'_> {
        match self.role {
            Role::Admin => Decider::Admin(&self.who),
            _ => Decider::Reviewer(&self.who),
        }
    }

    /// An owner sees what they own and what nobody owns (so that they can claim it). The
    /// record's own owner decides, as the inventory filter ([`Principal::visible_filter`]) does,
    /// so that a page and the list that links to it agree.
    pub fn visible(&self, record: Ownership<'_>) -> bool {
        if self.can_see_everything() {
            return true;
        }
        record.owner.is_none_or(|o| self.is(o))
    }

    pub fn require_visible(&self, record: Ownership<'_>) -> Result<(), AppError> {
        if self.visible(record) {
            Ok(())
        } else {
            Err(AppError::Forbidden("this identity has another owner"))
        }
    }

    /// The inventory filter that shows this principal what [`Principal::visible`] allows:
    /// `Some(who)` for an owner, `None` for those who see everything.
    pub fn visible_filter(&self) -> Option<String> {
        (!self.can_see_everything()).then(|| self.who.clone())
    }

    /// May name an owner other than themselves in a claim.
    pub fn can_name_owner(&self) -> bool {
        self.role == Role::Admin
    }

    /// May claim this record: an admin always; an owner when nobody else owns it or its
    /// identity; an auditor never.
    pub fn can_claim(&self, record: Ownership<'_>) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Auditor => false,
            Role::Owner => [record.owner, record.parent_owner]
                .into_iter()
                .flatten()
                .all(|o| self.is(o)),
        }
    }

    /// The owner a claim names: whoever the principal asked for, where the policy allows it.
    /// `record` is what the record, its identity and earlier claims say of its owner.
    pub fn claim_owner(
        &self,
        requested: Option<&str>,
        record: Ownership<'_>,
    ) -> Result<String, AppError> {
        let owner = match (self.role, requested.map(str::trim)) {
            (Role::Auditor, _) => return Err(AppError::Forbidden("auditors change nothing")),
            (Role::Admin, Some(o)) if !o.is_empty() => o.to_owned(),
            (_, None) | (_, Some("")) => self.who.clone(),
            (_, Some(o)) if self.is(o) => self.who.clone(),
            _ => {
                return Err(AppError::Forbidden(
                    "an owner may claim only for themselves",
                ));
            }
        };
        if !self.can_claim(record) {
            return Err(AppError::Forbidden(
                "this identity already has another owner",
            ));
        }
        Ok(owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(who: &str) -> Principal {
        Principal::person(Role::Owner, who)
    }

    #[test]
    fn roles_round_trip_and_unknown_is_named() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!(
            "root".parse::<Role>().map_err(|e| e.to_string()),
            Err("unknown role `root` (admin, auditor or owner)".into())
        );
    }

    #[test]
    fn an_owner_sees_their_own_and_unowned_records() {
        let bob = owner("bob@acme.example");
        assert!(bob.visible(Ownership::default()));
        assert!(bob.visible(Ownership {
            owner: Some("BOB@acme.example"),
            parent_owner: None
        }));
        assert!(!bob.visible(Ownership {
            owner: Some("alice@acme.example"),
            parent_owner: None
        }));
        // Seen (as the inventory lists it), but not claimable: see the claim test.
        assert!(bob.visible(Ownership {
            owner: None,
            parent_owner: Some("alice@acme.example")
        }));
        assert!(Principal::person(Role::Auditor, "a").visible(Ownership {
            owner: Some("alice@acme.example"),
            parent_owner: None
        }));
        assert_eq!(bob.visible_filter().as_deref(), Some("bob@acme.example"));
        assert_eq!(Principal::person(Role::Admin, "x").visible_filter(), None);
    }

    #[test]
    fn claims_follow_the_role_and_the_parents_owner() {
        let bob = owner("bob@acme.example");
        let free = Ownership::default();
        let alices_key = Ownership {
            owner: None,
            parent_owner: Some("alice@acme.example"),
        };
        assert_eq!(
            bob.claim_owner(None, free).ok().as_deref(),
            Some("bob@acme.example")
        );
        assert!(matches!(
            bob.claim_owner(Some("carol@acme.example"), free),
            Err(AppError::Forbidden(_))
        ));
        assert!(matches!(
            bob.claim_owner(None, alices_key),
            Err(AppError::Forbidden(
                "this identity already has another owner"
            ))
        ));
        assert!(!bob.can_claim(alices_key));
        let admin = Principal::bootstrap();
        assert_eq!(
            admin
                .claim_owner(Some("carol@acme.example"), alices_key)
                .ok()
                .as_deref(),
            Some("carol@acme.example")
        );
        assert!(matches!(
            Principal::person(Role::Auditor, "a").claim_owner(None, free),
            Err(AppError::Forbidden("auditors change nothing"))
        ));
    }

    #[test]
    fn exceptions_are_asked_by_the_records_owner_and_decided_by_admins() {
        let bob = owner("bob@acme.example");
        let bobs = Ownership {
            owner: Some("Bob@acme.example"),
            parent_owner: None,
        };
        let bobs_key = Ownership {
            owner: None,
            parent_owner: Some("bob@acme.example"),
        };
        let alices = Ownership {
            owner: Some("alice@acme.example"),
            parent_owner: None,
        };
        assert!(bob.can_request_exception(bobs) && bob.can_request_exception(bobs_key));
        assert!(!bob.can_request_exception(alices));
        assert!(
            !bob.can_request_exception(Ownership::default()),
            "an unowned record is claimed first"
        );
        let auditor = Principal::person(Role::Auditor, "a");
        assert!(matches!(
            auditor.require_request_exception(bobs),
            Err(AppError::Forbidden("auditors change nothing"))
        ));
        assert!(Principal::bootstrap().can_request_exception(alices));
        assert!(Principal::bootstrap().can_decide_exceptions());
        assert!(!auditor.can_decide_exceptions() && auditor.can_see_exception_requests());
        assert!(!bob.can_decide_exceptions() && !bob.can_see_exception_requests());
        assert!(!bob.can_remediate() && !auditor.can_remediate());
        assert!(Principal::bootstrap().can_remediate());
    }

    #[test]
    fn actors_name_their_source_and_a_persons_name_is_never_a_prefix() {
        assert_eq!(owner("o@x").actor(), "sso:o@x");
        assert_eq!(Principal::token(Role::Admin, "ci").actor(), "token:ci");
        assert_eq!(Principal::cli("cli:root").actor(), "cli:root");
        assert_eq!(Principal::bootstrap().actor(), "bootstrap");
        // A subject the identity provider lets someone choose stays theirs.
        for spoof in ["bootstrap", "cli:root", "token:ci", "scheduler:1"] {
            assert_eq!(owner(spoof).actor(), format!("sso:{spoof}"));
        }
    }
}
