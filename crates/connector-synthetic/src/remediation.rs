//! The sample estate's remediation, so a demo campaign's revocations can be walked through: a
//! dry run says what would be revoked and that this is sample data; carrying it out is refused
//! as disabled, since there is no platform to change.

use async_trait::async_trait;
use roster_connector_sdk::{RemediationError, RemediationOutcome, RemediationRequest, Remediator};

use crate::SyntheticConnector;

const ACTIONS: &[&str] = &["revoke"];

/// Why nothing is ever carried out here.
const SAMPLE_ONLY: &str = "this is sample data: there is no platform to change";

#[async_trait]
impl Remediator for SyntheticConnector {
    fn actions(&self, _resource_type: &str) -> &'static [&'static str] {
        ACTIONS
    }

    fn previous_stage(&self, _action: &str) -> Option<&'static str> {
        None
    }

    fn execution_off(&self) -> Option<String> {
        Some(SAMPLE_ONLY.to_owned())
    }

    async fn remediate(
        &self,
        req: &RemediationRequest<'_>,
    ) -> Result<RemediationOutcome, RemediationError> {
        if !ACTIONS.contains(&req.action) {
            return Err(RemediationError::Refused(format!(
                "unknown action `{}` (offered: revoke)",
                req.action
            )));
        }
        if req.execute {
            return Err(RemediationError::Disabled(SAMPLE_ONLY.into()));
        }
        let r = req.record;
        Ok(RemediationOutcome {
            executed: false,
            summary: format!(
                "SAMPLE DATA: a real {} connector would revoke {} `{}` in {}; nothing is changed",
                r.platform, r.kind, r.name, r.key.scope
            ),
            calls: vec![format!("(sample) revoke {}", r.key.external_id)],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_connector_sdk::Connector;

    #[tokio::test]
    async fn a_dry_run_says_sample_data_and_an_execution_is_refused() {
        let c = SyntheticConnector::new(crate::SyntheticConfig {
            count: 10,
            seed: 1,
            anchor: crate::default_anchor(),
            page_size: 10,
        })
        .unwrap();
        let listing = &c.plan().await.unwrap()[0];
        let records = roster_connector_sdk::list_all(&c, listing, 10)
            .await
            .unwrap();
        let record = &records[0];
        let remediator = c.remediator().unwrap();
        let req = |execute| RemediationRequest {
            record,
            action: "revoke",
            execute,
            now: crate::default_anchor(),
            previous_stage_at: None,
        };
        let dry = remediator.remediate(&req(false)).await.unwrap();
        assert!(
            !dry.executed && dry.summary.starts_with("SAMPLE DATA"),
            "{dry:?}"
        );
        assert!(matches!(
            remediator.remediate(&req(true)).await,
            Err(RemediationError::Disabled(_))
        ));
    }
}
