//! Access-certification campaigns: who reviews an item, which decisions are allowed, when
//! reminders go out, what happens to unreviewed items at close. No I/O; time is passed in.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::directory::{Directory, OwnerStatus};
use crate::model::{ParseEnumError, Tier, string_enum};

string_enum!(
    /// A campaign is open for decisions until IAM signs it off, which closes it.
    CampaignStatus, "campaign status" {
        Open => "open",
        Closed => "closed",
    }
);

string_enum!(
    /// Where an item stands: waiting for its reviewer, decided, or closed without a decision.
    ItemState, "item state" {
        Pending => "pending",
        Decided => "decided",
        Unreviewed => "unreviewed",
    }
);

string_enum!(
    /// A remediation task made when its campaign closed: waiting (`pending`), its dry run
    /// passed (`planned`), carried out (`done`), failed (`failed`), or left to a person because
    /// no connector automates it (`ticket`).
    TaskStatus, "task status" {
        Pending => "pending",
        Planned => "planned",
        Done => "done",
        Failed => "failed",
        Ticket => "ticket",
    }
);

impl TaskStatus {
    /// Nothing is left for a run to do.
    pub fn is_settled(self) -> bool {
        matches!(self, TaskStatus::Done | TaskStatus::Ticket)
    }
}

string_enum!(
    /// What a reviewer decides about one item. `reassign` hands ownership (and the review) to
    /// another person; `delegate` hands only this review.
    DecisionKind, "decision" {
        Keep => "keep",
        Revoke => "revoke",
        Rotate => "rotate",
        ReduceScope => "reduce_scope",
        SetExpiry => "set_expiry",
        Reassign => "reassign",
        Delegate => "delegate",
    }
);

string_enum!(
    /// What happens at close to items nobody decided: `escalate` sends overdue items to the
    /// fallback reviewer and records leftovers as unreviewed; `revoke` revokes what nobody
    /// vouched for; `leave_open` records them as unreviewed and does nothing.
    CloseOut, "close-out rule" {
        Escalate => "escalate",
        Revoke => "revoke",
        LeaveOpen => "leave_open",
    }
);

string_enum!(
    /// Why a reviewer was chosen for an item (`handed`: by a reassign / delegate decision;
    /// `escalated`: moved to the fallback reviewer when overdue or left unreviewed at close).
    ReviewerBasis, "reviewer basis" {
        Owner => "owner",
        OwnerTeam => "owner_team",
        Fallback => "fallback",
        Handed => "handed",
        Escalated => "escalated",
    }
);

impl DecisionKind {
    pub fn label(self) -> &'static str {
        match self {
            DecisionKind::Keep => "Keep",
            DecisionKind::Revoke => "Revoke",
            DecisionKind::Rotate => "Rotate",
            DecisionKind::ReduceScope => "Reduce scope",
            DecisionKind::SetExpiry => "Set expiry",
            DecisionKind::Reassign => "Reassign",
            DecisionKind::Delegate => "Delegate",
        }
    }

    /// Hands the item to someone else instead of concluding it.
    pub fn hands_over(self) -> bool {
        matches!(self, DecisionKind::Reassign | DecisionKind::Delegate)
    }

    /// Becomes a remediation task when the campaign closes.
    pub fn needs_action(self) -> bool {
        matches!(
            self,
            DecisionKind::Revoke
                | DecisionKind::Rotate
                | DecisionKind::ReduceScope
                | DecisionKind::SetExpiry
        )
    }
}

/// A campaign's settings, fixed at launch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CampaignRules {
    /// Reviews what no owner or team can: departed owners, unowned identities, escalations.
    pub fallback_reviewer: String,
    /// Team (as an owner value) → the person who reviews that team's identities.
    #[serde(default)]
    pub team_reviewers: HashMap<String, String>,
    #[serde(default)]
    pub close_out: CloseOut,
    /// A keep decision on an item at or above this tier needs a justification.
    pub keep_justification_from: Option<Tier>,
    /// Reminders this many days before the due date; then daily once overdue.
    pub reminder_days: Vec<u32>,
}

impl CampaignRules {
    pub fn new(fallback_reviewer: impl Into<String>) -> Self {
        Self {
            fallback_reviewer: fallback_reviewer.into(),
            team_reviewers: HashMap::new(),
            close_out: CloseOut::Escalate,
            keep_justification_from: Some(Tier::High),
            reminder_days: vec![7, 3, 1],
        }
    }
}

// `string_enum!` cannot mark a `#[default]` variant.
#[allow(clippy::derivable_impls)]
impl Default for CloseOut {
    fn default() -> Self {
        CloseOut::Escalate
    }
}

/// The `keep_justification_from` setting as written in config, flags and forms: a tier, or
/// `none` (or nothing) for "never".
pub fn parse_keep_justification_from(s: &str) -> Result<Option<Tier>, ParseEnumError> {
    match s.trim() {
        "" | "none" => Ok(None),
        t => t.parse().map(Some),
    }
}

/// The parts of an item that decide who reviews it.
#[derive(Debug, Clone, Copy)]
pub struct ReviewSubject<'a> {
    pub owner: Option<&'a str>,
    /// The identity's own names (name, external id): it never reviews itself.
    pub names: [&'a str; 2],
}

fn same_person(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

/// Owner → the owner's team reviewer → the fallback reviewer; never the identity itself, never
/// an owner the directory says has left.
pub fn assign_reviewer(
    rules: &CampaignRules,
    directory: &Directory,
    subject: ReviewSubject<'_>,
) -> (String, ReviewerBasis) {
    let is_itself = |who: &str| subject.names.iter().any(|n| same_person(n, who));
    if let Some(owner) = subject.owner.map(str::trim).filter(|o| !o.is_empty()) {
        if let Some(reviewer) = rules
            .team_reviewers
            .iter()
            .find(|(team, _)| same_person(team, owner))
            .map(|(_, r)| r)
            && !is_itself(reviewer)
        {
            return (reviewer.clone(), ReviewerBasis::OwnerTeam);
        }
        let present = !matches!(directory.status(owner), Some(OwnerStatus::Departed));
        if present && !is_itself(owner) {
            return (owner.to_owned(), ReviewerBasis::Owner);
        }
    }
    (rules.fallback_reviewer.clone(), ReviewerBasis::Fallback)
}

/// Who is deciding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decider<'a> {
    /// IAM: may decide any item.
    Admin(&'a str),
    /// May decide the items they review.
    Reviewer(&'a str),
}

impl Decider<'_> {
    pub fn who(&self) -> &str {
        match self {
            Decider::Admin(w) | Decider::Reviewer(w) => w,
        }
    }
}

/// A decision as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionInput {
    pub kind: DecisionKind,
    pub justification: String,
    /// For `set_expiry`.
    pub expires_on: Option<NaiveDate>,
    /// For `reassign` and `delegate`: the person who takes it.
    pub to: Option<String>,
}

/// The item a decision is about, as the state machine needs it.
#[derive(Debug, Clone, Copy)]
pub struct ItemUnderReview<'a> {
    pub tier: Tier,
    pub reviewer: &'a str,
    pub names: [&'a str; 2],
    /// The reviewer is recorded as using this identity (its owner is a personal credential of
    /// theirs, or its usage names them).
    pub used_by: Option<&'a str>,
    /// The decision standing on the item was an admin's, made for its reviewer: the reviewer
    /// may no longer replace it (an admin may).
    pub decided_by_admin: bool,
}

/// Why a decision is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("the campaign is closed; decisions can no longer change")]
    Closed,
    #[error("only the item's reviewer ({reviewer}) or an admin may decide it")]
    NotReviewer { reviewer: String },
    #[error("a justification is required to keep a {tier} item")]
    JustificationRequired { tier: Tier },
    #[error("a justification is required for {0}")]
    JustificationRequiredFor(&'static str),
    #[error("set expiry needs a date after today ({today})")]
    ExpiryNotInFuture { today: NaiveDate },
    #[error("{0} needs the person who takes the item")]
    MissingPerson(&'static str),
    #[error("an identity cannot review itself")]
    ToItself,
    #[error("{0} to the current reviewer changes nothing")]
    ToSameReviewer(&'static str),
    #[error(
        "`{to}` is not a person in the directory: an item goes only to someone present there, \
         or to this campaign's fallback or team reviewers"
    )]
    UnknownPerson { to: String },
    #[error("an admin decided this item; only an admin may change that decision")]
    DecidedByAdmin,
}

/// Something the reviewer should know, recorded with the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "warning")]
pub enum DecisionWarning {
    /// The reviewer decides on an identity they use themselves.
    ReviewerUsesIdentity { reviewer: String },
    /// An admin decided an item assigned to someone else.
    DecidedForReviewer { reviewer: String },
}

impl fmt::Display for DecisionWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecisionWarning::ReviewerUsesIdentity { reviewer } => {
                write!(f, "{reviewer} decided on an identity they use themselves")
            }
            DecisionWarning::DecidedForReviewer { reviewer } => {
                write!(
                    f,
                    "decided by an admin for the assigned reviewer {reviewer}"
                )
            }
        }
    }
}

/// Whether `who` may take an item handed over: a person present in the directory, or one of
/// the campaign's own reviewers (fallback, team reviewers), who need not be in it.
fn may_take_items(rules: &CampaignRules, directory: &Directory, who: &str) -> bool {
    directory.status(who) == Some(OwnerStatus::Present)
        || same_person(who, &rules.fallback_reviewer)
        || rules.team_reviewers.values().any(|r| same_person(r, who))
}

/// Checks one decision against the campaign's rules; the warnings go on record with it.
/// A decided item may be decided again until the campaign closes (every decision is kept),
/// except that a reviewer cannot replace an admin's decision.
pub fn check_decision(
    status: CampaignStatus,
    rules: &CampaignRules,
    directory: &Directory,
    item: ItemUnderReview<'_>,
    decider: Decider<'_>,
    input: &DecisionInput,
    today: NaiveDate,
) -> Result<Vec<DecisionWarning>, DecisionError> {
    if status == CampaignStatus::Closed {
        return Err(DecisionError::Closed);
    }
    let mut warnings = Vec::new();
    match decider {
        Decider::Reviewer(who) if !same_person(who, item.reviewer) => {
            return Err(DecisionError::NotReviewer {
                reviewer: item.reviewer.to_owned(),
            });
        }
        Decider::Reviewer(_) if item.decided_by_admin => {
            return Err(DecisionError::DecidedByAdmin);
        }
        Decider::Admin(who) if !same_person(who, item.reviewer) => {
            warnings.push(DecisionWarning::DecidedForReviewer {
                reviewer: item.reviewer.to_owned(),
            });
        }
        _ => {}
    }
    let justified = !input.justification.trim().is_empty();
    match input.kind {
        DecisionKind::Keep => {
            if let Some(from) = rules.keep_justification_from
                && item.tier >= from
                && !justified
            {
                return Err(DecisionError::JustificationRequired { tier: item.tier });
            }
        }
        DecisionKind::SetExpiry => match input.expires_on {
            Some(d) if d > today => {}
            _ => return Err(DecisionError::ExpiryNotInFuture { today }),
        },
        DecisionKind::Reassign | DecisionKind::Delegate => {
            let what = input.kind.label();
            let to = input
                .to
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or(DecisionError::MissingPerson(what))?;
            if item.names.iter().any(|n| same_person(n, to)) {
                return Err(DecisionError::ToItself);
            }
            if same_person(to, item.reviewer) {
                return Err(DecisionError::ToSameReviewer(what));
            }
            if !may_take_items(rules, directory, to) {
                return Err(DecisionError::UnknownPerson {
                    to: to.chars().take(120).collect(),
                });
            }
        }
        DecisionKind::Revoke | DecisionKind::Rotate | DecisionKind::ReduceScope => {
            if !justified {
                return Err(DecisionError::JustificationRequiredFor(input.kind.label()));
            }
        }
    }
    if let Some(user) = item.used_by
        && same_person(user, decider.who())
    {
        warnings.push(DecisionWarning::ReviewerUsesIdentity {
            reviewer: decider.who().to_owned(),
        });
    }
    Ok(warnings)
}

/// A reminder due to a reviewer with open items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reminder {
    /// `days` before the due date (one of the campaign's reminder days).
    BeforeDue { days: u32 },
    /// Overdue: one a day, with a copy to the fallback reviewer (escalation).
    Overdue { day: NaiveDate },
}

impl Reminder {
    /// Stable per reminder, so each is sent once however many servers run the job.
    pub fn key(&self) -> String {
        match self {
            Reminder::BeforeDue { days } => format!("before:{days}"),
            Reminder::Overdue { day } => format!("overdue:{day}"),
        }
    }

    pub fn escalates(&self) -> bool {
        matches!(self, Reminder::Overdue { .. })
    }
}

/// The reminder that is due at `now` for a campaign due at `due`: the latest reminder day that
/// has been reached, or today's overdue reminder. Whether it was already sent is the caller's
/// record (by [`Reminder::key`]).
pub fn reminder_due(
    rules: &CampaignRules,
    launched: DateTime<Utc>,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<Reminder> {
    if now >= due {
        return Some(Reminder::Overdue {
            day: now.date_naive(),
        });
    }
    let left = due - now;
    rules
        .reminder_days
        .iter()
        .copied()
        .filter(|d| left <= chrono::Duration::days(i64::from(*d)))
        // A reminder day before launch (a 5-day campaign has no 7-day reminder) is skipped.
        .filter(|d| due - chrono::Duration::days(i64::from(*d)) >= launched)
        .min()
        .map(|days| Reminder::BeforeDue { days })
}

/// The decision recorded at close for an item nobody decided, if any.
pub fn close_out_decision(rules: &CampaignRules) -> Option<DecisionKind> {
    match rules.close_out {
        CloseOut::Revoke => Some(DecisionKind::Revoke),
        CloseOut::Escalate | CloseOut::LeaveOpen => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn rules() -> CampaignRules {
        let mut r = CampaignRules::new("iam-lead@example.com");
        r.team_reviewers
            .insert("team:payments".into(), "pay-lead@example.com".into());
        r
    }

    fn dir() -> Directory {
        let mut d = Directory::default();
        d.insert(["alice@example.com"], true);
        d.insert(["bob@example.com"], false);
        d.insert(["carol@example.com"], true);
        d
    }

    fn subject<'a>(owner: Option<&'a str>, name: &'a str) -> ReviewSubject<'a> {
        ReviewSubject {
            owner,
            names: [name, "id-1"],
        }
    }

    #[test]
    fn reviewer_is_owner_then_team_then_fallback() {
        let r = rules();
        let d = dir();
        assert_eq!(
            assign_reviewer(&r, &d, subject(Some("alice@example.com"), "ci-bot")),
            ("alice@example.com".into(), ReviewerBasis::Owner)
        );
        assert_eq!(
            assign_reviewer(&r, &d, subject(Some("team:payments"), "ci-bot")),
            ("pay-lead@example.com".into(), ReviewerBasis::OwnerTeam)
        );
        // Departed owner, no owner: the fallback.
        for owner in [Some("bob@example.com"), None, Some("  ")] {
            assert_eq!(
                assign_reviewer(&r, &d, subject(owner, "ci-bot")).1,
                ReviewerBasis::Fallback,
                "{owner:?}"
            );
        }
        // Without a directory an owner is taken at its word.
        assert_eq!(
            assign_reviewer(
                &r,
                &Directory::default(),
                subject(Some("bob@example.com"), "x")
            )
            .1,
            ReviewerBasis::Owner
        );
    }

    #[test]
    fn an_identity_never_reviews_itself() {
        let r = rules();
        // A service account recorded as its own owner.
        assert_eq!(
            assign_reviewer(&r, &dir(), subject(Some("deploy-bot"), "Deploy-Bot")),
            ("iam-lead@example.com".into(), ReviewerBasis::Fallback)
        );
        let item = ItemUnderReview {
            tier: Tier::Low,
            reviewer: "alice@example.com",
            names: ["deploy-bot", "id-1"],
            used_by: None,
            decided_by_admin: false,
        };
        let input = DecisionInput {
            kind: DecisionKind::Delegate,
            justification: String::new(),
            expires_on: None,
            to: Some("deploy-bot".into()),
        };
        assert_eq!(
            check_open(&r, item, Decider::Reviewer("alice@example.com"), &input),
            Err(DecisionError::ToItself)
        );
    }

    /// `check_decision` on an open campaign, today.
    fn check_open(
        rules: &CampaignRules,
        item: ItemUnderReview<'_>,
        decider: Decider<'_>,
        input: &DecisionInput,
    ) -> Result<Vec<DecisionWarning>, DecisionError> {
        check_decision(
            CampaignStatus::Open,
            rules,
            &dir(),
            item,
            decider,
            input,
            today(),
        )
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    fn item(tier: Tier) -> ItemUnderReview<'static> {
        ItemUnderReview {
            tier,
            reviewer: "alice@example.com",
            names: ["ci-bot", "id-1"],
            used_by: None,
            decided_by_admin: false,
        }
    }

    fn input(kind: DecisionKind, why: &str) -> DecisionInput {
        DecisionInput {
            kind,
            justification: why.into(),
            expires_on: None,
            to: None,
        }
    }

    #[test]
    fn keep_on_high_needs_a_justification_and_low_does_not() {
        let r = rules();
        let alice = Decider::Reviewer("alice@example.com");
        let keep = input(DecisionKind::Keep, " ");
        for tier in [Tier::High, Tier::Critical] {
            assert_eq!(
                check_open(&r, item(tier), alice, &keep),
                Err(DecisionError::JustificationRequired { tier })
            );
        }
        for tier in [Tier::Low, Tier::Medium] {
            assert_eq!(check_open(&r, item(tier), alice, &keep), Ok(vec![]));
        }
        let mut lenient = r.clone();
        lenient.keep_justification_from = None;
        assert!(check_open(&lenient, item(Tier::Critical), alice, &keep).is_ok());
        let kept = input(
            DecisionKind::Keep,
            "deploys the billing service; rotated in June",
        );
        assert!(check_open(&r, item(Tier::Critical), alice, &kept).is_ok());
    }

    #[test]
    fn only_the_reviewer_or_an_admin_decides_and_never_after_close() {
        let r = rules();
        let revoke = input(DecisionKind::Revoke, "unused since March");
        assert_eq!(
            check_open(
                &r,
                item(Tier::Low),
                Decider::Reviewer("mallory@example.com"),
                &revoke
            ),
            Err(DecisionError::NotReviewer {
                reviewer: "alice@example.com".into()
            })
        );
        // Case does not make a different person.
        assert!(
            check_open(
                &r,
                item(Tier::Low),
                Decider::Reviewer("Alice@Example.com"),
                &revoke
            )
            .is_ok()
        );
        assert_eq!(
            check_open(
                &r,
                item(Tier::Low),
                Decider::Admin("iam@example.com"),
                &revoke
            ),
            Ok(vec![DecisionWarning::DecidedForReviewer {
                reviewer: "alice@example.com".into()
            }])
        );
        assert_eq!(
            check_decision(
                CampaignStatus::Closed,
                &r,
                &dir(),
                item(Tier::Low),
                Decider::Admin("iam@example.com"),
                &revoke,
                today()
            ),
            Err(DecisionError::Closed)
        );
        assert_eq!(
            check_decision(
                CampaignStatus::Open,
                &r,
                &dir(),
                item(Tier::Low),
                Decider::Reviewer("alice@example.com"),
                &input(DecisionKind::Revoke, ""),
                today()
            ),
            Err(DecisionError::JustificationRequiredFor("Revoke"))
        );
    }

    #[test]
    fn set_expiry_reassign_and_delegate_need_their_details() {
        let r = rules();
        let alice = Decider::Reviewer("alice@example.com");
        let mut expiry = input(DecisionKind::SetExpiry, "");
        for bad in [None, Some(today())] {
            expiry.expires_on = bad;
            assert_eq!(
                check_open(&r, item(Tier::Low), alice, &expiry),
                Err(DecisionError::ExpiryNotInFuture { today: today() })
            );
        }
        expiry.expires_on = today().succ_opt();
        assert!(check_open(&r, item(Tier::Low), alice, &expiry).is_ok());
        let mut reassign = input(DecisionKind::Reassign, "");
        assert_eq!(
            check_open(&r, item(Tier::Low), alice, &reassign),
            Err(DecisionError::MissingPerson("Reassign"))
        );
        reassign.to = Some("ALICE@example.com".into());
        assert_eq!(
            check_open(&r, item(Tier::Low), alice, &reassign),
            Err(DecisionError::ToSameReviewer("Reassign"))
        );
        reassign.to = Some("carol@example.com".into());
        assert!(check_open(&r, item(Tier::Low), alice, &reassign).is_ok());
        // Only to a person the directory has present, or to the campaign's own reviewers.
        for nobody in ["nobody-known", "attacker@evil.example", "bob@example.com"] {
            reassign.to = Some(nobody.into());
            assert_eq!(
                check_open(&r, item(Tier::Low), alice, &reassign),
                Err(DecisionError::UnknownPerson { to: nobody.into() }),
                "{nobody}"
            );
        }
        let mut delegate = input(DecisionKind::Delegate, "");
        for campaigns_own in ["iam-lead@example.com", "pay-lead@example.com"] {
            delegate.to = Some(campaigns_own.into());
            assert!(check_open(&r, item(Tier::Low), alice, &delegate).is_ok());
        }
        delegate.to = Some("x".repeat(100_000));
        assert!(matches!(
            check_open(&r, item(Tier::Low), alice, &delegate),
            Err(DecisionError::UnknownPerson { to }) if to.len() == 120
        ));
    }

    #[test]
    fn a_reviewer_cannot_replace_an_admins_decision_and_an_admin_can() {
        let r = rules();
        let mut it = item(Tier::Low);
        it.decided_by_admin = true;
        let keep = input(DecisionKind::Keep, "");
        assert_eq!(
            check_open(&r, it, Decider::Reviewer("alice@example.com"), &keep),
            Err(DecisionError::DecidedByAdmin)
        );
        assert!(check_open(&r, it, Decider::Admin("iam@example.com"), &keep).is_ok());
        // Their own earlier decision, a reviewer may change.
        it.decided_by_admin = false;
        assert!(check_open(&r, it, Decider::Reviewer("alice@example.com"), &keep).is_ok());
    }

    #[test]
    fn deciding_on_an_identity_you_use_is_allowed_with_a_warning() {
        let r = rules();
        let mut it = item(Tier::Medium);
        it.used_by = Some("alice@example.com");
        assert_eq!(
            check_decision(
                CampaignStatus::Open,
                &r,
                &dir(),
                it,
                Decider::Reviewer("alice@example.com"),
                &input(DecisionKind::Keep, ""),
                today()
            ),
            Ok(vec![DecisionWarning::ReviewerUsesIdentity {
                reviewer: "alice@example.com".into()
            }])
        );
        it.used_by = Some("bob@example.com");
        assert_eq!(
            check_decision(
                CampaignStatus::Open,
                &r,
                &dir(),
                it,
                Decider::Reviewer("alice@example.com"),
                &input(DecisionKind::Keep, ""),
                today()
            ),
            Ok(vec![])
        );
    }

    #[test]
    fn reminders_follow_the_due_date_then_go_daily() {
        let r = rules();
        let at = |d: u32, h: u32| Utc.with_ymd_and_hms(2026, 12, d, h, 0, 0).unwrap();
        let launched = at(1, 9);
        let due = at(15, 9);
        assert_eq!(reminder_due(&r, launched, due, at(2, 9)), None);
        assert_eq!(
            reminder_due(&r, launched, due, at(8, 9)),
            Some(Reminder::BeforeDue { days: 7 })
        );
        assert_eq!(
            reminder_due(&r, launched, due, at(12, 10)),
            Some(Reminder::BeforeDue { days: 3 })
        );
        assert_eq!(
            reminder_due(&r, launched, due, at(14, 9)),
            Some(Reminder::BeforeDue { days: 1 })
        );
        let overdue = reminder_due(&r, launched, due, at(16, 8)).unwrap();
        assert_eq!(
            overdue,
            Reminder::Overdue {
                day: NaiveDate::from_ymd_opt(2026, 12, 16).unwrap()
            }
        );
        assert!(overdue.escalates());
        assert_ne!(
            overdue.key(),
            reminder_due(&r, launched, due, at(17, 8)).unwrap().key()
        );
        // A 5-day campaign: no 7-day reminder, even on its first day.
        assert_eq!(reminder_due(&r, at(10, 9), due, at(10, 10)), None);
    }

    #[test]
    fn keep_justification_setting_parses() {
        assert_eq!(parse_keep_justification_from("none"), Ok(None));
        assert_eq!(parse_keep_justification_from(""), Ok(None));
        assert_eq!(parse_keep_justification_from("high"), Ok(Some(Tier::High)));
        assert!(parse_keep_justification_from("urgent").is_err());
    }

    #[test]
    fn close_out_rules() {
        let mut r = rules();
        assert_eq!(close_out_decision(&r), None);
        r.close_out = CloseOut::Revoke;
        assert_eq!(close_out_decision(&r), Some(DecisionKind::Revoke));
        r.close_out = CloseOut::LeaveOpen;
        assert_eq!(close_out_decision(&r), None);
        for &k in DecisionKind::ALL {
            assert_eq!(k.as_str().parse::<DecisionKind>(), Ok(k));
        }
        assert!("approve".parse::<DecisionKind>().is_err());
    }
}
