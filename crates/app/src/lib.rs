//! Roster's application layer: every use-case the faces (the web app and the CLI in `web/`)
//! offer, behind the [`Roster`] facade. Each takes the [`access::Principal`] it acts for; the
//! one access policy ([`access`]) decides what that principal may do, and every failure is an
//! [`AppError`], which each face maps once. No HTTP, no command line, no templates here.

pub mod access;
pub mod api_tokens;
pub mod audit;
pub mod campaigns;
pub mod config;
pub mod csv_cell;
pub mod doctor;
pub mod error;
pub mod exception_requests;
pub mod inbox;
pub mod inventory;
pub mod inventory_csv;
pub mod inventory_view;
pub mod metrics;
pub mod moment;
pub mod people;
pub mod policy;
pub mod registry;
pub mod remediate;
pub mod retention;
mod roster;
pub mod roster_api_token;
pub mod scheduler;
pub mod scope;
pub mod siem_webhook;
pub mod suggestions;
pub mod summary;
pub mod sync;
pub mod web_sessions;

pub use access::{Principal, Role};
pub use error::AppError;
pub use roster::Roster;
