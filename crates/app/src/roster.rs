//! The facade the faces hold: the store, the policy in effect, the configuration, the
//! connectors (built once per process) and the notifier. Every use-case is a method of
//! [`Roster`], defined in the file of its area (`campaigns.rs`, `inventory.rs`, `tokens.rs`, …),
//! and takes the [`crate::access::Principal`] it acts for.

use std::path::Path;

use roster_core::RiskPolicy;
use roster_store::Store;

use crate::config::Config;
use crate::error::AppError;
use crate::inventory_view::ContextCache;
use crate::policy::LoadedPolicy;
use crate::registry::Connectors;

pub struct Roster {
    pub(crate) store: Store,
    pub(crate) config: Config,
    pub(crate) policy: RiskPolicy,
    /// `sha256:` of the policy file (or of the built-in defaults), stored with evaluations.
    pub(crate) policy_hash: String,
    /// What evaluation reads besides each record, per store generation.
    pub(crate) contexts: ContextCache,
    pub(crate) notifier: Option<roster_notify::Notifier>,
    pub(crate) connectors: Connectors,
    /// What this process counts for `/metrics` (`roster serve` only).
    pub(crate) metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
}

impl Roster {
    /// Opens the configured database, brings its schema up to date, and holds `policy`.
    pub async fn open(config: Config, policy: LoadedPolicy) -> Result<Roster, AppError> {
        // Read before anything is opened: a missing key file writes nothing.
        let audit_key = config.audit.chain_key()?;
        let store = Store::connect(&config.database.url)
            .await?
            .with_audit_key(audit_key);
        store.migrate().await?;
        Ok(Roster::new(store, config, policy))
    }

    /// Brings the configured database's schema up to date; returns the database's URL with
    /// any password hidden.
    pub async fn migrate(config: &Config) -> Result<String, AppError> {
        let store = Store::connect(&config.database.url).await?;
        store.migrate().await?;
        Ok(roster_store::redact_url(&config.database.url))
    }

    /// A Roster over a store that is already open and migrated.
    pub fn new(store: Store, config: Config, policy: LoadedPolicy) -> Roster {
        let connectors = Connectors::new(config.connectors.clone());
        Roster {
            store,
            config,
            policy: policy.policy,
            policy_hash: policy.hash,
            contexts: ContextCache::default(),
            notifier: None,
            connectors,
            metrics: None,
        }
    }

    /// Opens the configuration's database with the policy file it names.
    pub async fn from_config(config: Config) -> Result<Roster, AppError> {
        let policy = crate::policy::load_with_hash(config.policy.file.as_deref())
            .map_err(|e| AppError::Invalid(e.to_string()))?;
        Roster::open(config, policy).await
    }

    pub fn with_notifier(mut self, notifier: Option<roster_notify::Notifier>) -> Self {
        self.notifier = notifier;
        self
    }

    pub fn policy(&self) -> &RiskPolicy {
        &self.policy
    }

    pub fn policy_hash(&self) -> &str {
        &self.policy_hash
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn notifier(&self) -> Option<&roster_notify::Notifier> {
        self.notifier.as_ref()
    }

    /// Whether the data is the synthetic sample estate (every page says so).
    pub fn is_sample(&self) -> bool {
        self.config.connectors.iter().any(|c| c.kind == "synthetic")
    }

    /// The database answers.
    pub async fn ready(&self) -> Result<(), AppError> {
        self.store.recent_sync_runs(1).await?;
        Ok(())
    }

    /// Records the hashes of the configuration file and the policy in effect, appending
    /// `config.changed` / `policy.changed` when either differs from the last one recorded (the
    /// first start records both). The configuration file names secrets, never holds them.
    pub async fn record_config_changes(
        &self,
        config_path: Option<&Path>,
        actor: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), AppError> {
        let file = Config::file_in_use(config_path);
        let config_hash = match &file {
            Some(p) => crate::policy::sha256(
                &std::fs::read(p)
                    .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", p.display())))?,
            ),
            None => crate::policy::sha256(b"builtin-defaults"),
        };
        let policy_path = self.config.policy.file.as_deref();
        for (action, path, hash) in [
            ("config.changed", file.as_deref(), config_hash.as_str()),
            ("policy.changed", policy_path, self.policy_hash.as_str()),
        ] {
            let path = path.map(|p| p.display().to_string());
            if let Some(ev) = self
                .store
                .record_hash_change(
                    actor,
                    action,
                    path.clone(),
                    hash,
                    serde_json::json!({ "file": path }),
                    now,
                )
                .await?
            {
                tracing::info!(action, event = ev.id, %hash, "recorded in the audit trail");
            }
        }
        Ok(())
    }

    /// Stored evaluations made under another policy would mislead the tier filter: marks them
    /// due so that pages evaluate those records in full until a sync stores this policy's view.
    pub async fn mark_stale_policy_due(&self) -> Result<u64, AppError> {
        Ok(self
            .store
            .mark_evaluations_due_unless_policy(&self.policy_hash)
            .await?)
    }
}
