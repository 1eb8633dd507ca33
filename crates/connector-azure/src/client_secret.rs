//! `azure.client_secret`: the password credentials (client secrets) of every app registration
//! — hint, display name, start and end; Graph never returns the value on a read, and Roster
//! would drop it if it did.

use roster_connector_sdk::ConnectorError;
use roster_core::{Kind, Record, Signal};
use serde_json::Value;
use url::Url;

use crate::common::{Application, CredentialInfo, decode, time};
use crate::{AzureConnector, malformed};

pub(crate) const RESOURCE: &str = "azure.client_secret";

pub(crate) async fn records(
    c: &AzureConnector,
    items: Vec<Value>,
    url: &Url,
) -> Result<Vec<Record>, ConnectorError> {
    let mut out = Vec::new();
    for item in items {
        let app: Application = decode(&item).map_err(|e| malformed(url, e))?;
        for cred in &app.password_credentials {
            let mut r =
                crate::common::credential_record(c, &app, cred, RESOURCE, Kind::ClientSecret)
                    .await?;
            if let Some(signal) = lifetime_signal(cred, c.max_secret_lifetime_days, &r.name) {
                r.signals.push(signal);
            }
            out.push(r);
        }
    }
    Ok(out)
}

/// A secret whose validity (end − start) exceeds the maximum lifetime: a fact of the secret,
/// whatever today's date.
fn lifetime_signal(cred: &CredentialInfo, max_days: i64, name: &str) -> Option<Signal> {
    let start = time(cred.start_date_time.as_deref())?;
    let end = time(cred.end_date_time.as_deref())?;
    let days = (end - start).num_days();
    (days > max_days).then(|| {
        Signal::new(
            "azure.client_secret.lifetime_exceeds_max",
            format!(
                "client secret `{name}` is valid for {days} days ({} to {}), beyond the maximum lifetime of {max_days} days",
                start.format("%Y-%m-%d"),
                end.format("%Y-%m-%d")
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(start: &str, end: &str) -> CredentialInfo {
        decode(&serde_json::json!({"keyId": "k", "startDateTime": start, "endDateTime": end}))
            .unwrap()
    }

    #[test]
    fn lifetime_beyond_the_maximum_is_signalled() {
        let long = cred("2024-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
        let s = lifetime_signal(&long, 180, "ci").unwrap();
        assert!(s.message.contains("731 days"), "{}", s.message);
        let short = cred("2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z");
        assert!(lifetime_signal(&short, 180, "ci").is_none());
        let open = decode::<CredentialInfo>(&serde_json::json!({"keyId": "k"})).unwrap();
        assert!(lifetime_signal(&open, 180, "ci").is_none());
    }
}
