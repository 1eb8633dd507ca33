//! sea-orm entities, one file per table. Handlers never touch these; they call the store.

pub mod api_token;
pub mod audit_delivery;
pub mod audit_event;
pub mod campaign;
pub mod campaign_decision;
pub mod campaign_item;
pub mod exception_request;
pub mod http_validator;
pub mod job_lease;
pub mod listing;
pub mod oidc_login;
pub mod ownership_claim;
pub mod person;
pub mod record;
pub mod record_history;
pub mod remediation_task;
pub mod reminder_sent;
pub mod sign_in_link;
pub mod sso_subject;
pub mod sync_run;
pub mod web_session;
