//! Remediation through a connector: explicit, dry-run first, staged where the platform allows
//! (disable → grace period → delete). The caller audits every step; the connector checks the
//! live state before acting, so a stale inventory never drives a destructive call.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use roster_core::Record;

use crate::ConnectorError;

/// One remediation step asked of a connector.
#[derive(Debug, Clone)]
pub struct RemediationRequest<'a> {
    pub record: &'a Record,
    /// An action the connector offers for the record's resource type, e.g. `deactivate`.
    pub action: &'a str,
    /// `false`: say what would happen, change nothing.
    pub execute: bool,
    pub now: DateTime<Utc>,
    /// When the stage before this one (e.g. `deactivate` before `delete`) was executed,
    /// according to the audit trail.
    pub previous_stage_at: Option<DateTime<Utc>>,
}

impl RemediationRequest<'_> {
    /// The checks every remediator makes first: the connector remediates this resource type
    /// (`offered` is not empty), the action is one it offers, and an execution only happens when
    /// remediation is enabled in the connector's configuration (a dry run always may).
    pub fn check(
        &self,
        connector: &str,
        offered: &[&str],
        enabled: bool,
    ) -> Result<(), RemediationError> {
        let resource_type = self.record.key.resource_type.as_str();
        if offered.is_empty() {
            return Err(RemediationError::Refused(format!(
                "the {connector} connector offers no remediation for {resource_type} records"
            )));
        }
        if !offered.contains(&self.action) {
            return Err(RemediationError::Refused(format!(
                "unknown action `{}` for {resource_type} (offered: {})",
                self.action,
                offered.join(", ")
            )));
        }
        if self.execute && !enabled {
            return Err(RemediationError::Disabled(ENABLE_REMEDIATION.into()));
        }
        Ok(())
    }
}

/// Why a real run is refused while a connector's remediation is not enabled.
pub const ENABLE_REMEDIATION: &str =
    "set `enabled = true` under `[connectors.remediation]` to allow it (a dry run works without)";

/// [`Remediator::execution_off`] for a connector whose configuration says `enabled`.
pub fn execution_off(enabled: bool) -> Option<String> {
    (!enabled).then(|| ENABLE_REMEDIATION.to_owned())
}

/// What happened, or would happen on a dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemediationOutcome {
    /// True when the platform was changed.
    pub executed: bool,
    pub summary: String,
    /// The platform calls made (or that a real run would make), in order.
    pub calls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemediationError {
    /// Remediation is not enabled for this connector.
    #[error("remediation is off for this connector: {0}")]
    Disabled(String),
    /// The step may not be taken now (wrong stage, grace period, unknown action...).
    #[error("refused: {0}")]
    Refused(String),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
}

#[async_trait]
pub trait Remediator: Send + Sync {
    /// Actions offered for records of `resource_type`, in stage order.
    fn actions(&self, resource_type: &str) -> &'static [&'static str];

    /// The action whose execution must precede `action` (its grace period counts from it).
    fn previous_stage(&self, action: &str) -> Option<&'static str>;

    /// `None` when the configuration lets a real run change the platform; otherwise why not,
    /// in words (a dry run always may). Faces say so before anyone asks.
    fn execution_off(&self) -> Option<String>;

    async fn remediate(
        &self,
        req: &RemediationRequest<'_>,
    ) -> Result<RemediationOutcome, RemediationError>;
}
