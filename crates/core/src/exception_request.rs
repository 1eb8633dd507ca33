//! A request that a finding on one record be accepted for a while: proposed by the record's
//! owner (or an admin), then approved or rejected once by an admin. Approval does not change
//! any evaluation: exceptions are policy as code (`[[exceptions]]`, [`crate::policy::Exception`]),
//! so an approved request is in effect only once the policy file carries it.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::{ParseEnumError, string_enum};

string_enum!(
    /// Where a request stands. Only a proposed request may be decided, and only once.
    ExceptionRequestState, "exception request state" {
        Proposed => "proposed",
        Approved => "approved",
        Rejected => "rejected",
    }
);

/// The longest a reason or a decision note may be, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

/// How far ahead an exception may be asked to last, in days, when the policy sets no limit.
pub const MAX_EXCEPTION_DAYS: i64 = 365;

/// What is wrong with a request, in words a form can show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestProblem {
    #[error("say why the finding should be accepted")]
    NoReason,
    #[error("a reason is at most {MAX_REASON_CHARS} characters")]
    ReasonTooLong,
    #[error("the expiry must be after today ({today})")]
    ExpiryNotInFuture { today: NaiveDate },
    #[error("the expiry may be at most {max_days} days ahead (on or before {latest})")]
    ExpiryTooFar { max_days: i64, latest: NaiveDate },
    #[error("a rejection says why, in a note")]
    NoRejectionNote,
    #[error("a note is at most {MAX_REASON_CHARS} characters")]
    NoteTooLong,
    #[error("this request is already {0}; a request is decided once")]
    AlreadyDecided(ExceptionRequestState),
}

/// Checks a request's reason and proposed expiry (the last day it applies, UTC) against today.
pub fn check_request(
    reason: &str,
    expires: NaiveDate,
    today: NaiveDate,
    max_days: i64,
) -> Result<(), RequestProblem> {
    if reason.trim().is_empty() {
        return Err(RequestProblem::NoReason);
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(RequestProblem::ReasonTooLong);
    }
    if expires <= today {
        return Err(RequestProblem::ExpiryNotInFuture { today });
    }
    let latest = today
        .checked_add_days(chrono::Days::new(max_days.clamp(0, 36_500) as u64))
        .unwrap_or(today);
    if expires > latest {
        return Err(RequestProblem::ExpiryTooFar { max_days, latest });
    }
    Ok(())
}

/// Checks a decision on a request in state `from`: only a proposed request is decided; a
/// rejection carries a note saying why.
pub fn check_decision(
    from: ExceptionRequestState,
    to: ExceptionRequestState,
    note: &str,
) -> Result<(), RequestProblem> {
    if from != ExceptionRequestState::Proposed || to == ExceptionRequestState::Proposed {
        return Err(RequestProblem::AlreadyDecided(from));
    }
    if note.chars().count() > MAX_REASON_CHARS {
        return Err(RequestProblem::NoteTooLong);
    }
    if to == ExceptionRequestState::Rejected && note.trim().is_empty() {
        return Err(RequestProblem::NoRejectionNote);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExceptionRequestState::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_request_needs_a_reason_and_an_expiry_within_the_limit() {
        let today = day("2026-12-06");
        assert_eq!(check_request("ok", day("2026-12-07"), today, 365), Ok(()));
        assert_eq!(check_request("ok", day("2027-12-06"), today, 365), Ok(()));
        assert_eq!(
            check_request("  ", day("2027-01-01"), today, 365),
            Err(RequestProblem::NoReason)
        );
        assert_eq!(
            check_request(&"x".repeat(2001), day("2027-01-01"), today, 365),
            Err(RequestProblem::ReasonTooLong)
        );
        // Characters, not bytes.
        assert_eq!(
            check_request(&"é".repeat(2000), day("2027-01-01"), today, 365),
            Ok(())
        );
        assert!(matches!(
            check_request("ok", today, today, 365),
            Err(RequestProblem::ExpiryNotInFuture { .. })
        ));
        assert!(matches!(
            check_request("ok", day("2027-12-07"), today, 365),
            Err(RequestProblem::ExpiryTooFar { .. })
        ));
    }

    #[test]
    fn only_a_proposed_request_is_decided_and_a_rejection_says_why() {
        assert_eq!(check_decision(Proposed, Approved, ""), Ok(()));
        assert_eq!(check_decision(Proposed, Rejected, "no"), Ok(()));
        assert_eq!(
            check_decision(Proposed, Rejected, " "),
            Err(RequestProblem::NoRejectionNote)
        );
        assert_eq!(
            check_decision(Approved, Approved, ""),
            Err(RequestProblem::AlreadyDecided(Approved))
        );
        assert_eq!(
            check_decision(Rejected, Approved, ""),
            Err(RequestProblem::AlreadyDecided(Rejected))
        );
        for s in ExceptionRequestState::ALL {
            assert_eq!(s.as_str().parse::<ExceptionRequestState>(), Ok(*s));
        }
    }
}
