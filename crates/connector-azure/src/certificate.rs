//! `azure.certificate`: the key credentials (certificates) of every app registration —
//! thumbprint, type, usage, start and end; the certificate's `key` is never kept.

use roster_connector_sdk::ConnectorError;
use roster_core::{Kind, Record};
use serde_json::Value;
use url::Url;

use crate::common::{Application, credential_record, decode};
use crate::{AzureConnector, malformed};

pub(crate) const RESOURCE: &str = "azure.certificate";

pub(crate) async fn records(
    c: &AzureConnector,
    items: Vec<Value>,
    url: &Url,
) -> Result<Vec<Record>, ConnectorError> {
    let mut out = Vec::new();
    for item in items {
        let app: Application = decode(&item).map_err(|e| malformed(url, e))?;
        for cred in &app.key_credentials {
            out.push(credential_record(c, &app, cred, RESOURCE, Kind::Certificate).await?);
        }
    }
    Ok(out)
}
