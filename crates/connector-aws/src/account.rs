//! One account's IAM, read with the fewest calls the data needs:
//! GetAccountAuthorizationDetails (users, groups, roles with RoleLastUsed, customer policies) in
//! a few pages; one credential report for every key's last use; ListAccessKeys per user for key
//! ids (the report has none), several in flight; GetPolicyVersion once per AWS-managed policy
//! actually attached. GetAccessKeyLastUsed per key only when the report is unavailable, or for
//! the keys the report cannot tell apart (see [`credential_report::indistinct`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_iam::Client;
use aws_sdk_iam::types::{
    AccessKeyMetadata, EntityType, GroupDetail, ReportStateType, RoleDetail, UserDetail,
};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use roster_connector_sdk::{ConnectorError, PageGuard};
use tokio::sync::Mutex;

use crate::client::{map_err, to_utc};
use crate::config::AwsConfig;
use crate::credential_report::{self, ReportRow};

/// What GetAccountAuthorizationDetails returned, all pages.
#[derive(Debug, Default)]
pub struct AuthorizationDetails {
    pub users: Vec<UserDetail>,
    pub groups: HashMap<String, GroupDetail>,
    pub roles: Vec<RoleDetail>,
    /// Customer-managed policies' default versions: ARN → (name, document).
    pub local_policies: HashMap<String, (String, String)>,
}

/// Key ids and last use per user. `Err` names the users whose keys could not be listed.
pub struct AccessKeys {
    pub by_user: HashMap<String, Vec<AccessKeyMetadata>>,
    /// GetAccessKeyLastUsed's answer per key id, for the keys it was asked about: every key
    /// when the report was unavailable, else those the report cannot tell apart. An error
    /// stays an error: that key's usage is unknown, not read from the report.
    pub last_used: HashMap<String, Result<KeyLastUsed, ConnectorError>>,
}

/// What GetAccessKeyLastUsed says of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLastUsed {
    /// `None`: never used (as far as IAM's tracking, since April 2015, goes).
    pub at: Option<DateTime<Utc>>,
    pub service: Option<String>,
}

/// Everything read from one account.
pub struct AccountData {
    pub details: AuthorizationDetails,
    /// `None` when the report could not be had (the reason is in `notes`).
    pub report: Option<HashMap<String, ReportRow>>,
    pub keys: Result<AccessKeys, ConnectorError>,
    /// OIDC provider URLs of the account; `None` when they could not be listed.
    pub oidc_providers: Option<Vec<String>>,
    /// What was degraded without failing a listing, for the raw record and logs.
    pub notes: Vec<String>,
    /// Customer and AWS-managed documents by ARN, in one map.
    pub all_docs: HashMap<String, NamedDocument>,
    /// Privilege verdict per document text: a policy attached to a thousand users (AWS's
    /// ReadOnlyAccess has thousands of actions) is parsed and judged once.
    pub verdicts: std::sync::Mutex<HashMap<String, crate::principal::Verdict>>,
}

/// A policy's name and document.
type NamedDocument = (String, String);

/// AWS-managed policy documents are the same in every account: read each once per sync.
pub type ManagedPolicyCache = Arc<Mutex<HashMap<String, Option<(String, String)>>>>;

pub struct AccountReader<'a> {
    pub client: &'a Client,
    pub config: &'a AwsConfig,
    pub account: &'a str,
    pub endpoint: &'a str,
}

impl AccountReader<'_> {
    fn err<E>(
        &self,
        op: &str,
        e: aws_sdk_iam::error::SdkError<
            E,
            aws_smithy_runtime_api::client::orchestrator::HttpResponse,
        >,
    ) -> ConnectorError
    where
        E: aws_sdk_iam::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        map_err(self.endpoint, self.account, op, e)
    }

    pub async fn read(&self, cache: &ManagedPolicyCache) -> Result<AccountData, ConnectorError> {
        let details = self.authorization_details().await?;
        let mut notes = Vec::new();
        let managed_policies = self.managed_policies(&details, cache, &mut notes).await;
        let report = match self.credential_report().await {
            Ok(r) => Some(r),
            Err(e) => {
                notes.push(format!(
                    "credential report unavailable ({e}); key usage read per key instead"
                ));
                None
            }
        };
        let keys = self.access_keys(&details.users, report.as_ref()).await;
        if let Ok(k) = &keys {
            let failed: Vec<&str> = k
                .last_used
                .iter()
                .filter(|(_, r)| r.is_err())
                .map(|(id, _)| id.as_str())
                .collect();
            if let Some(e) = k.last_used.values().find_map(|r| r.as_ref().err()) {
                notes.push(format!(
                    "GetAccessKeyLastUsed failed for {} key(s), their usage is unknown: {e}",
                    failed.len()
                ));
            }
        }
        let oidc_providers = match self.client.list_open_id_connect_providers().send().await {
            Ok(out) => Some(
                out.open_id_connect_provider_list()
                    .iter()
                    .filter_map(|p| p.arn().map(str::to_owned))
                    .collect(),
            ),
            Err(e) => {
                notes.push(format!(
                    "OIDC providers not listed: {}",
                    self.err("ListOpenIDConnectProviders", e)
                ));
                None
            }
        };
        let mut all_docs = details.local_policies.clone();
        all_docs.extend(managed_policies.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(AccountData {
            all_docs,
            verdicts: std::sync::Mutex::new(HashMap::new()),
            details,
            report,
            keys,
            oidc_providers,
            notes,
        })
    }

    async fn authorization_details(&self) -> Result<AuthorizationDetails, ConnectorError> {
        let op = "GetAccountAuthorizationDetails";
        let mut out = AuthorizationDetails::default();
        let mut guard = PageGuard::new(format!("{op} in {}", self.account), self.config.max_pages);
        let mut marker: Option<String> = None;
        loop {
            let mut req = self
                .client
                .get_account_authorization_details()
                .filter(EntityType::User)
                .filter(EntityType::Role)
                .filter(EntityType::Group)
                .filter(EntityType::LocalManagedPolicy)
                .max_items(self.config.page_size);
            if let Some(m) = &marker {
                req = req.marker(m);
            }
            let page = req.send().await.map_err(|e| self.err(op, e))?;
            out.users.extend(page.user_detail_list.unwrap_or_default());
            out.roles.extend(page.role_detail_list.unwrap_or_default());
            for g in page.group_detail_list.unwrap_or_default() {
                if let Some(name) = g.group_name.clone() {
                    out.groups.insert(name, g);
                }
            }
            for p in page.policies.unwrap_or_default() {
                let doc = p
                    .policy_version_list
                    .unwrap_or_default()
                    .into_iter()
                    .find(|v| v.is_default_version)
                    .and_then(|v| v.document);
                if let (Some(arn), Some(doc)) = (p.arn, doc) {
                    out.local_policies
                        .insert(arn, (p.policy_name.unwrap_or_default(), doc));
                }
            }
            // Follow IsTruncated, not the page's length: IAM may return short pages.
            match (page.is_truncated, page.marker) {
                (true, Some(m)) => {
                    guard.advance(&m)?;
                    marker = Some(m);
                }
                (true, None) => {
                    return Err(ConnectorError::Malformed {
                        url: format!("{} {op} (account {})", self.endpoint, self.account),
                        detail: "IsTruncated is true but no Marker was returned".into(),
                    });
                }
                (false, _) => break,
            }
        }
        Ok(out)
    }

    /// Documents of the AWS-managed policies attached anywhere in the account.
    async fn managed_policies(
        &self,
        d: &AuthorizationDetails,
        cache: &ManagedPolicyCache,
        notes: &mut Vec<String>,
    ) -> HashMap<String, (String, String)> {
        let mut wanted: Vec<String> = d
            .users
            .iter()
            .flat_map(|u| u.attached_managed_policies())
            .chain(d.roles.iter().flat_map(|r| r.attached_managed_policies()))
            .chain(
                d.groups
                    .values()
                    .flat_map(|g| g.attached_managed_policies()),
            )
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            // Permission boundaries are read like attached policies.
            .chain(
                d.users
                    .iter()
                    .filter_map(|u| u.permissions_boundary())
                    .chain(d.roles.iter().filter_map(|r| r.permissions_boundary()))
                    .filter_map(|b| b.permissions_boundary_arn().map(str::to_owned)),
            )
            .filter(|arn| !d.local_policies.contains_key(arn))
            .collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut out = HashMap::new();
        let mut missing = Vec::new();
        {
            let c = cache.lock().await;
            wanted.retain(|arn| match c.get(arn) {
                Some(Some(v)) => {
                    out.insert(arn.clone(), v.clone());
                    false
                }
                Some(None) => false,
                None => true,
            });
        }
        let fetched: Vec<(String, Result<NamedDocument, ConnectorError>)> =
            futures::stream::iter(wanted)
                .map(|arn| async move {
                    let r = self.managed_policy(&arn).await;
                    (arn, r)
                })
                .buffer_unordered(self.config.concurrency.max(1))
                .collect()
                .await;
        let mut c = cache.lock().await;
        for (arn, r) in fetched {
            match r {
                Ok(v) => {
                    c.insert(arn.clone(), Some(v.clone()));
                    out.insert(arn, v);
                }
                Err(e) => {
                    c.insert(arn.clone(), None);
                    missing.push(format!("{arn}: {e}"));
                }
            }
        }
        if !missing.is_empty() {
            notes.push(format!(
                "managed policies not read, privilege from them unknown: {}",
                missing.join("; ")
            ));
        }
        out
    }

    async fn managed_policy(&self, arn: &str) -> Result<(String, String), ConnectorError> {
        let p = self
            .client
            .get_policy()
            .policy_arn(arn)
            .send()
            .await
            .map_err(|e| self.err("GetPolicy", e))?;
        let (name, version) = match p.policy {
            Some(p) => (p.policy_name.unwrap_or_default(), p.default_version_id),
            None => (String::new(), None),
        };
        let version = version.unwrap_or_else(|| "v1".into());
        let v = self
            .client
            .get_policy_version()
            .policy_arn(arn)
            .version_id(version)
            .send()
            .await
            .map_err(|e| self.err("GetPolicyVersion", e))?;
        let doc = v
            .policy_version
            .and_then(|v| v.document)
            .unwrap_or_default();
        Ok((name, doc))
    }

    /// Generates (or reuses, within AWS's four hours) the report and reads it; polls a bounded
    /// number of times while AWS builds it.
    async fn credential_report(&self) -> Result<HashMap<String, ReportRow>, ConnectorError> {
        for attempt in 0..20u32 {
            let state = self
                .client
                .generate_credential_report()
                .send()
                .await
                .map_err(|e| self.err("GenerateCredentialReport", e))?;
            if state.state == Some(ReportStateType::Complete) || attempt > 0 {
                match self.client.get_credential_report().send().await {
                    Ok(out) => {
                        let bytes = out.content.map(|b| b.into_inner()).unwrap_or_default();
                        return credential_report::parse(&bytes).map_err(|e| {
                            ConnectorError::Malformed {
                                url: format!(
                                    "{} GetCredentialReport (account {})",
                                    self.endpoint, self.account
                                ),
                                detail: e.to_string(),
                            }
                        });
                    }
                    Err(e) => {
                        let code = aws_sdk_iam::error::ProvideErrorMetadata::code(&e)
                            .unwrap_or("")
                            .to_owned();
                        if !code.starts_with("ReportInProgress")
                            && !code.starts_with("ReportNotPresent")
                        {
                            return Err(self.err("GetCredentialReport", e));
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt + 1))).await;
        }
        Err(ConnectorError::Timeout {
            url: format!(
                "{} GetCredentialReport (account {})",
                self.endpoint, self.account
            ),
            attempts: 20,
        })
    }

    async fn access_keys(
        &self,
        users: &[UserDetail],
        report: Option<&HashMap<String, ReportRow>>,
    ) -> Result<AccessKeys, ConnectorError> {
        let names: Vec<String> = users.iter().filter_map(|u| u.user_name.clone()).collect();
        let results: Vec<(String, Result<Vec<AccessKeyMetadata>, ConnectorError>)> =
            futures::stream::iter(names)
                .map(|name| async move {
                    let r = self.list_access_keys(&name).await;
                    (name, r)
                })
                .buffer_unordered(self.config.concurrency.max(1))
                .collect()
                .await;
        let mut by_user = HashMap::new();
        let mut failed = Vec::new();
        let mut first_err = None;
        for (name, r) in results {
            match r {
                Ok(keys) => {
                    by_user.insert(name, keys);
                }
                // A user deleted between the two calls has no keys to report.
                Err(ConnectorError::NotFound { .. }) => {}
                Err(e) => {
                    failed.push(name);
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_err {
            failed.sort();
            return Err(match e {
                ConnectorError::Forbidden { url, needs } => ConnectorError::Forbidden {
                    url: format!("{url}, for user(s) {}", failed.join(", ")),
                    needs,
                },
                other => other,
            });
        }
        let ids = match report {
            None => by_user
                .values()
                .flatten()
                .filter_map(|k| k.access_key_id.clone())
                .collect(),
            Some(_) => report_cannot_tell_apart(&by_user),
        };
        let last_used = futures::stream::iter(ids)
            .map(|id| async move {
                let r = self.access_key_last_used(&id).await;
                (id, r)
            })
            .buffer_unordered(self.config.concurrency.max(1))
            .collect()
            .await;
        Ok(AccessKeys { by_user, last_used })
    }

    async fn access_key_last_used(&self, id: &str) -> Result<KeyLastUsed, ConnectorError> {
        let out = self
            .client
            .get_access_key_last_used()
            .access_key_id(id)
            .send()
            .await
            .map_err(|e| self.err("GetAccessKeyLastUsed", e))?;
        let used = out.access_key_last_used;
        Ok(KeyLastUsed {
            at: used
                .as_ref()
                .and_then(|u| u.last_used_date.as_ref())
                .and_then(to_utc),
            // IAM says `N/A` for a key never used.
            service: used
                .map(|u| u.service_name)
                .filter(|s| !s.is_empty() && s != "N/A"),
        })
    }

    async fn list_access_keys(&self, user: &str) -> Result<Vec<AccessKeyMetadata>, ConnectorError> {
        let op = "ListAccessKeys";
        let mut keys = Vec::new();
        let mut guard = PageGuard::new(
            format!("{op} for {user} in {}", self.account),
            self.config.max_pages,
        );
        let mut marker: Option<String> = None;
        loop {
            let mut req = self
                .client
                .list_access_keys()
                .user_name(user)
                .max_items(self.config.page_size);
            if let Some(m) = &marker {
                req = req.marker(m);
            }
            let page = req.send().await.map_err(|e| self.err(op, e))?;
            keys.extend(page.access_key_metadata);
            match (page.is_truncated, page.marker) {
                (true, Some(m)) => {
                    guard.advance(&m)?;
                    marker = Some(m);
                }
                (true, None) => {
                    return Err(ConnectorError::Malformed {
                        url: format!("{} {op} (account {})", self.endpoint, self.account),
                        detail: "IsTruncated is true but no Marker was returned".into(),
                    });
                }
                (false, _) => break,
            }
        }
        Ok(keys)
    }
}

/// The ids of the keys whose report column cannot be known, over every user.
fn report_cannot_tell_apart(by_user: &HashMap<String, Vec<AccessKeyMetadata>>) -> Vec<String> {
    by_user
        .values()
        .flat_map(|keys| {
            let created: Vec<_> = keys
                .iter()
                .map(|k| k.create_date().and_then(to_utc))
                .collect();
            keys.iter()
                .zip(credential_report::indistinct(&created))
                .filter(|(_, ask)| *ask)
                .filter_map(|(k, _)| k.access_key_id.clone())
                .collect::<Vec<_>>()
        })
        .collect()
}
