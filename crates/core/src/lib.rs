//! Roster's domain core: what an identity, a credential and a finding are, how a record is keyed
//! and fingerprinted, and the risk rules. Nothing here reads the clock or touches I/O: every
//! function that needs "now" takes it as an argument.

pub mod campaign;
pub mod credential_fingerprint;
pub mod directory;
pub mod exception_request;
pub mod inventory;
pub mod model;
pub mod ownership;
pub mod policy;
pub mod record;
pub mod risk;
mod rules;
pub mod signal;
pub mod suggestion;

pub use inventory::InventoryItem;
pub use model::{
    Kind, OwaspCode, ParseEnumError, Platform, Privilege, RecordClass, Severity, Status, Tier,
    Usage,
};
pub use record::{InteractiveSignIn, Record, RecordId, RecordKey, external_id_check};
pub use risk::{Context, Evaluation, Finding, RiskPolicy};
pub use rules::{NEVER_USED_RULE, NO_USAGE_DATA_RULE, ORPHANED_RULES, STALE_RULES};
pub use signal::{
    CROSS_PLATFORM_RULES, PLATFORM_RULES, PlatformRule, Signal, platform_rule, rule_catalogue,
};
