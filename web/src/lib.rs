//! The `roster` application: CLI commands, configuration, the connector registry and the web
//! app. `main.rs` is only the entry point.

pub mod campaigns;
pub mod cli;
pub mod config;
pub mod http;
pub mod inventory_view;
pub mod policy;
pub mod progress;
pub mod registry;
pub mod roster_api_token;
pub mod scheduler;
pub mod siem_webhook;
pub mod summary;
