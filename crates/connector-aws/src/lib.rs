//! The AWS IAM connector: service users, their access keys and roles (with CI trust-policy
//! analysis) of one or more accounts, through the official AWS SDK.
//!
//! One account is read once per sync (see `account.rs`) and served to three listings —
//! `aws.iam_user`, `aws.access_key`, `aws.role` — so that a failure to list keys (say,
//! AccessDenied on ListAccessKeys) leaves users and roles swept normally and keys untouched.
//! Groups and policies are read to reduce privilege, not listed as identities; OIDC providers
//! appear in the trust analysis of the roles that trust them.

mod access_key;
mod account;
mod client;
mod config;
mod credential_report;
mod iam_user;
mod policy_document;
mod principal;
pub mod remediation;
mod role;
pub mod testing;
mod trust;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use roster_connector_sdk::{Connector, ConnectorError, Listing, Page, PageToken, Remediator};
use roster_core::Record;
use tokio::sync::{Mutex, OnceCell};

pub use config::{AccountConfig, AwsConfig, RemediationConfig};
pub use policy_document::{PolicyDocument, parse as parse_policy, privilege as policy_privilege};
pub use trust::{CiIssuer, CiKind, TrustAnalysis, TrustScope, analyse as analyse_trust};

use account::{AccountReader, ManagedPolicyCache};
use trust::CiKind as Ci;

/// Records per page handed to the sync engine.
const PAGE: usize = 1000;

/// One account's records, per listing.
struct AccountView {
    users: Vec<Record>,
    keys: Result<Vec<Record>, ConnectorError>,
    roles: Vec<Record>,
}

type ViewCell = Arc<OnceCell<Result<Arc<AccountView>, ConnectorError>>>;

pub struct AwsConnector {
    config: AwsConfig,
    issuers: Vec<CiIssuer>,
    /// The connector's accounts and its `known_accounts`: trusting these is inside.
    known_accounts: Vec<String>,
    endpoint: String,
    /// Filled on first use in a sync, emptied by `plan` (the start of the next sync).
    views: Mutex<HashMap<String, ViewCell>>,
    managed: ManagedPolicyCache,
}

impl AwsConnector {
    pub fn new(config: AwsConfig) -> Result<Self, ConnectorError> {
        if config.accounts.is_empty() {
            return Err(ConnectorError::Config(
                "`accounts` is empty: name at least one account id".into(),
            ));
        }
        let twelve_digits = |id: &str| id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit());
        for a in &config.accounts {
            if !twelve_digits(&a.id) {
                return Err(ConnectorError::Config(format!(
                    "account id `{}` is not 12 digits",
                    a.id
                )));
            }
        }
        if let Some(bad) = config.known_accounts.iter().find(|a| !twelve_digits(a)) {
            return Err(ConnectorError::Config(format!(
                "known_accounts: `{bad}` is not a 12-digit account id"
            )));
        }
        if let Some(org) = &config.organization_id {
            let ok = org.len() >= 12
                && org.starts_with("o-")
                && org[2..]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !ok {
                return Err(ConnectorError::Config(format!(
                    "organization_id: `{org}` is not an organisation id such as o-a1b2c3d4e5"
                )));
            }
        }
        let known_accounts = config
            .accounts
            .iter()
            .map(|a| a.id.clone())
            .chain(config.known_accounts.iter().cloned())
            .collect();
        if !(1..=1000).contains(&config.page_size) {
            return Err(ConnectorError::Config("page_size must be 1..=1000".into()));
        }
        if let Some(u) = &config.endpoint_url {
            url::Url::parse(u)
                .map_err(|e| ConnectorError::Config(format!("endpoint_url `{u}`: {e}")))?;
        }
        let mut issuers = CiIssuer::defaults();
        issuers.extend(config.github_issuers.iter().map(|h| CiIssuer {
            host: h.clone(),
            kind: Ci::Github,
        }));
        issuers.extend(config.gitlab_issuers.iter().map(|h| CiIssuer {
            host: h.clone(),
            kind: Ci::Gitlab,
        }));
        let endpoint = config
            .endpoint_url
            .clone()
            .unwrap_or_else(|| "https://iam.amazonaws.com".into());
        Ok(Self {
            config,
            issuers,
            known_accounts,
            endpoint,
            views: Mutex::new(HashMap::new()),
            managed: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    pub fn config(&self) -> &AwsConfig {
        &self.config
    }

    async fn view(&self, account_id: &str) -> Result<Arc<AccountView>, ConnectorError> {
        let cell = {
            let mut views = self.views.lock().await;
            views.entry(account_id.to_owned()).or_default().clone()
        };
        cell.get_or_init(|| async { self.read_account(account_id).await.map(Arc::new) })
            .await
            .clone()
    }

    async fn read_account(&self, account_id: &str) -> Result<AccountView, ConnectorError> {
        let account = self
            .config
            .accounts
            .iter()
            .find(|a| a.id == account_id)
            .ok_or_else(|| ConnectorError::Config(format!("no account {account_id}")))?;
        let client = client::iam_client(&self.config, account).await?;
        let reader = AccountReader {
            client: &client,
            config: &self.config,
            account: account_id,
            endpoint: &self.endpoint,
        };
        let data = reader.read(&self.managed).await?;
        for note in &data.notes {
            tracing::warn!(account = account_id, "{note}");
        }
        // The credentials must reach the account the config names, or records would be filed
        // under the wrong scope.
        let arns = data
            .details
            .users
            .iter()
            .filter_map(|u| u.arn())
            .chain(data.details.roles.iter().filter_map(|r| r.arn()));
        for arn in arns {
            let seen = arn.split(':').nth(4).unwrap_or("");
            if seen != account_id {
                return Err(ConnectorError::Config(format!(
                    "the credentials for account {account_id} read account {seen} ({arn})"
                )));
            }
        }
        let ci_providers: Vec<String> = data
            .oidc_providers
            .iter()
            .flatten()
            .filter(|arn| {
                let host = arn.split_once(":oidc-provider/").map_or("", |(_, h)| h);
                self.issuers
                    .iter()
                    .any(|i| i.host.eq_ignore_ascii_case(host))
            })
            .cloned()
            .collect();

        let mut users = Vec::new();
        let mut key_records = Vec::new();
        for u in &data.details.users {
            let privilege = iam_user::user_privilege(u, &data);
            let user_record = iam_user::record(account_id, u, &data, &privilege);
            let is_service = user_record.is_some();
            if let Ok(keys) = &data.keys {
                for k in u
                    .user_name()
                    .and_then(|n| keys.by_user.get(n))
                    .into_iter()
                    .flatten()
                {
                    key_records.extend(access_key::record(
                        account_id,
                        u,
                        is_service,
                        k,
                        &data,
                        Some(&ci_providers),
                        &privilege,
                    ));
                }
            }
            users.extend(user_record);
        }
        let scope = TrustScope {
            issuers: &self.issuers,
            known_accounts: &self.known_accounts,
            organization_id: self.config.organization_id.as_deref(),
        };
        let roles = data
            .details
            .roles
            .iter()
            .filter(|r| !role::is_service_linked(r))
            .filter_map(|r| role::record(account_id, r, &data, &scope))
            .collect();
        let keys = match data.keys {
            Ok(_) => Ok(key_records),
            Err(e) => Err(e),
        };
        Ok(AccountView { users, keys, roles })
    }
}

#[async_trait]
impl Connector for AwsConnector {
    async fn plan(&self) -> Result<Vec<Listing>, ConnectorError> {
        // A new sync reads every account afresh.
        self.views.lock().await.clear();
        self.managed.lock().await.clear();
        Ok(self
            .config
            .accounts
            .iter()
            .flat_map(|a| {
                [
                    iam_user::RESOURCE_TYPE,
                    access_key::RESOURCE_TYPE,
                    role::RESOURCE_TYPE,
                ]
                .map(|rt| Listing::new(rt, a.id.clone()))
            })
            .collect())
    }

    async fn list(
        &self,
        listing: &Listing,
        page: Option<&PageToken>,
    ) -> Result<Page, ConnectorError> {
        let view = self.view(&listing.scope).await?;
        let records = match listing.resource_type.as_str() {
            iam_user::RESOURCE_TYPE => &view.users,
            access_key::RESOURCE_TYPE => view.keys.as_ref().map_err(Clone::clone)?,
            role::RESOURCE_TYPE => &view.roles,
            other => {
                return Err(ConnectorError::Config(format!(
                    "no resource type `{other}` in the aws connector"
                )));
            }
        };
        let start: usize = match page {
            None => 0,
            Some(t) => t.0.parse().map_err(|_| ConnectorError::PaginationLoop {
                listing: listing.to_string(),
                detail: format!("bad page token `{}`", t.0),
            })?,
        };
        let end = (start + PAGE).min(records.len());
        Ok(Page {
            records: records.get(start..end).unwrap_or_default().to_vec(),
            next: (end < records.len()).then(|| PageToken(end.to_string())),
        })
    }

    fn remediator(&self) -> Option<&dyn Remediator> {
        Some(self)
    }
}
