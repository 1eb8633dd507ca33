//! The one place that maps a config `kind` to its connector's constructor. Adding a connector
//! touches its own crate and one arm here.

use std::collections::HashMap;
use std::sync::Arc;

use figment::value::Value;
use roster_connector_sdk::Connector;
use roster_connector_synthetic::{SyntheticConfig, SyntheticConnector};
use roster_sync::SyncSource;
use serde::de::DeserializeOwned;

use crate::config::{ConfigError, ConnectorConfig};

fn settings<T: DeserializeOwned>(index: usize, c: &ConnectorConfig) -> Result<T, ConfigError> {
    Value::from(c.settings.clone())
        .deserialize::<T>()
        .map_err(|e| {
            let detail = match &e.kind {
                figment::error::Kind::UnknownField(field, _) => {
                    return ConfigError::Invalid(format!(
                        "unknown key `connectors[{index}].{field}`"
                    ));
                }
                figment::error::Kind::MissingField(field) => format!("missing key `{field}`"),
                other => other.to_string(),
            };
            let path = e.path.join(".");
            let key = if path.is_empty() {
                format!("connectors[{index}]")
            } else {
                format!("connectors[{index}].{path}")
            };
            ConfigError::BadValue { key, detail }
        })
}

fn bad(index: usize, e: roster_connector_sdk::ConnectorError) -> ConfigError {
    ConfigError::BadValue {
        key: format!("connectors[{index}]"),
        detail: e.to_string(),
    }
}

/// Builds the connector of `connectors[index]`.
pub fn build(index: usize, c: &ConnectorConfig) -> Result<SyncSource, ConfigError> {
    let connector: Box<dyn Connector> = match c.kind.as_str() {
        "synthetic" => {
            let cfg: SyntheticConfig = settings(index, c)?;
            Box::new(SyntheticConnector::new(cfg).map_err(|e| bad(index, e))?)
        }
        "aws" => {
            let cfg: roster_connector_aws::AwsConfig = settings(index, c)?;
            Box::new(roster_connector_aws::AwsConnector::new(cfg).map_err(|e| bad(index, e))?)
        }
        "github" => {
            let cfg: roster_connector_github::GithubConfig = settings(index, c)?;
            Box::new(roster_connector_github::GithubConnector::new(cfg).map_err(|e| bad(index, e))?)
        }
        "gitlab" => {
            let cfg: roster_connector_gitlab::GitlabConfig = settings(index, c)?;
            Box::new(roster_connector_gitlab::GitlabConnector::new(cfg).map_err(|e| bad(index, e))?)
        }
        "azure" => {
            let cfg: roster_connector_azure::AzureConfig = settings(index, c)?;
            Box::new(roster_connector_azure::AzureConnector::new(cfg).map_err(|e| bad(index, e))?)
        }
        "gcp" => {
            let cfg: roster_connector_gcp::GcpConfig = settings(index, c)?;
            Box::new(roster_connector_gcp::GcpConnector::new(cfg).map_err(|e| bad(index, e))?)
        }
        other => {
            return Err(ConfigError::BadValue {
                key: format!("connectors[{index}].kind"),
                detail: format!(
                    "unknown connector kind `{other}` (expected synthetic, aws, github, gitlab, gcp or azure)"
                ),
            });
        }
    };
    Ok(SyncSource {
        name: c.name.clone(),
        connector,
    })
}

/// The configured connectors. Sync sources are built per run; a connector used for remediation
/// is built on its first task and kept for the process, so a campaign's revocations share one
/// client (and a GitHub App one installation token, refreshed as it nears expiry).
pub struct Connectors {
    configs: Vec<ConnectorConfig>,
    built: tokio::sync::Mutex<HashMap<String, Arc<dyn Connector>>>,
}

impl Connectors {
    pub fn new(configs: Vec<ConnectorConfig>) -> Self {
        Connectors {
            configs,
            built: Default::default(),
        }
    }

    pub fn configs(&self) -> &[ConnectorConfig] {
        &self.configs
    }

    /// Every connector, or the named ones, ready for one sync run.
    pub fn sources(&self, only: &[String]) -> Result<Vec<SyncSource>, ConfigError> {
        build_all(&self.configs, only)
    }

    /// The connector named `name`, built on first use and kept.
    pub async fn connector(&self, name: &str) -> Result<Arc<dyn Connector>, ConfigError> {
        let mut built = self.built.lock().await;
        if let Some(c) = built.get(name) {
            return Ok(c.clone());
        }
        let (index, c) = self
            .configs
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
            .ok_or_else(|| ConfigError::BadValue {
                key: "connectors".into(),
                detail: format!("no connector named `{name}` in the configuration"),
            })?;
        let connector: Arc<dyn Connector> = build(index, c)?.connector.into();
        built.insert(name.to_owned(), connector.clone());
        Ok(connector)
    }

    /// Why the connector named `name` cannot remediate.
    pub fn no_remediation(&self, name: &str) -> ConfigError {
        let kind = self
            .configs
            .iter()
            .find(|c| c.name == name)
            .map_or("", |c| c.kind.as_str());
        ConfigError::BadValue {
            key: format!("connectors.{name}.kind"),
            detail: format!("the `{kind}` connector offers no remediation in this build"),
        }
    }
}

/// Builds every configured connector, or the named ones; fails on the first bad one so that
/// nothing runs on a half-valid configuration.
pub fn build_all(
    connectors: &[ConnectorConfig],
    only: &[String],
) -> Result<Vec<SyncSource>, ConfigError> {
    for name in only {
        if !connectors.iter().any(|c| &c.name == name) {
            return Err(ConfigError::BadValue {
                key: "--connector".into(),
                detail: format!("no connector named `{name}` in the configuration"),
            });
        }
    }
    connectors
        .iter()
        .enumerate()
        .filter(|(_, c)| only.is_empty() || only.contains(&c.name))
        .map(|(i, c)| build(i, c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn connector_keys_are_checked_by_their_kind() {
        let c = Config::from_toml_str(
            "[[connectors]]\nname = \"s\"\nkind = \"synthetic\"\ncount = 10\ncolour = 1\n",
        )
        .unwrap();
        let err = build_all(&c.connectors, &[]).err().unwrap().to_string();
        assert!(err.contains("connectors[0].colour"), "{err}");
        let c = Config::from_toml_str(
            "[[connectors]]\nname = \"s\"\nkind = \"synthetic\"\ncount = \"many\"\n",
        )
        .unwrap();
        let err = build_all(&c.connectors, &[]).err().unwrap().to_string();
        assert!(
            err.contains("connectors[0]") && err.contains("count"),
            "{err}"
        );
        let c = Config::from_toml_str(
            "[[connectors]]\nname = \"s\"\nkind = \"synthetic\"\ncount = 10\n",
        )
        .unwrap();
        assert_eq!(build_all(&c.connectors, &[]).unwrap().len(), 1);
        assert!(build_all(&c.connectors, &["nope".into()]).is_err());
    }
}

#[cfg(test)]
mod example_config_tests {
    use super::*;
    use crate::config::Config;

    /// The documented examples in deploy/ stay valid for this build.
    #[test]
    fn deploy_examples_parse() {
        let c = Config::from_toml_str(include_str!("../../../deploy/roster.example.toml")).unwrap();
        assert!(!build_all(&c.connectors, &[]).unwrap().is_empty());
        let p: roster_core::RiskPolicy =
            toml::from_str(include_str!("../../../deploy/policy.example.toml")).unwrap();
        assert_eq!(p, roster_core::RiskPolicy::default());
    }
}
