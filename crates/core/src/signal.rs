//! Platform rules. A connector knows things only its platform can say — a trust policy without a
//! `sub` condition, a deploy key with write access — and reports them on the record as a
//! [`Signal`]: a rule id from [`PLATFORM_RULES`] and a message naming the evidence. The risk
//! engine turns signals into findings with the catalogue's OWASP code and severity, so they obey
//! the same rule switches, severity overrides, exceptions and tier formula as every other rule.
//!
//! Signals are facts about the record, not about time: a rule that depends on "now" belongs in
//! [`crate::risk`], where `now` is an input.

use serde::{Deserialize, Serialize};

use crate::model::{OwaspCode, Severity};

/// A platform rule that fired at sync time.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Signal {
    /// An id from [`PLATFORM_RULES`].
    pub rule: String,
    /// What was seen, in plain words, naming the evidence.
    pub message: String,
}

impl Signal {
    pub fn new(rule: &str, message: impl Into<String>) -> Self {
        Self {
            rule: rule.to_owned(),
            message: message.into(),
        }
    }
}

/// One entry of the platform rule catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlatformRule {
    pub id: &'static str,
    pub owasp: OwaspCode,
    pub severity: Severity,
    /// One line for the documentation and the rule list.
    pub summary: &'static str,
}

const fn rule(
    id: &'static str,
    owasp: OwaspCode,
    severity: Severity,
    summary: &'static str,
) -> PlatformRule {
    PlatformRule {
        id,
        owasp,
        severity,
        summary,
    }
}

/// The cross-platform rules the engine itself raises (their ids: [`crate::policy::RULE_IDS`]),
/// described as the platform rules are, for the rule picker and the documentation. The
/// severity is the default; the policy may change it.
pub const CROSS_PLATFORM_RULES: &[PlatformRule] = &[
    rule(
        "usage.stale",
        OwaspCode::Nhi1,
        Severity::Medium,
        "last use older than the stale threshold",
    ),
    rule(
        "usage.never_used",
        OwaspCode::Nhi1,
        Severity::Medium,
        "never used, once past the grace period",
    ),
    rule(
        "usage.no_data",
        OwaspCode::Nhi1,
        Severity::Info,
        "the platform cannot report its use",
    ),
    rule(
        "usage.human_sign_in",
        OwaspCode::Nhi10,
        Severity::Medium,
        "a person can sign in as this service identity",
    ),
    rule(
        "lifetime.no_expiry",
        OwaspCode::Nhi7,
        Severity::Low,
        "secret material without an expiry",
    ),
    rule(
        "lifetime.expired_present",
        OwaspCode::Nhi7,
        Severity::Low,
        "expired, still present",
    ),
    rule(
        "lifetime.expiring_soon",
        OwaspCode::Nhi7,
        Severity::Low,
        "expiring soon",
    ),
    rule(
        "lifetime.rotation_age",
        OwaspCode::Nhi7,
        Severity::Medium,
        "not rotated for too long",
    ),
    rule(
        "lifetime.secret_age",
        OwaspCode::Nhi7,
        Severity::Low,
        "CI secret not updated for too long",
    ),
    rule(
        "privilege.admin",
        OwaspCode::Nhi5,
        Severity::High,
        "admin privilege",
    ),
    rule(
        "owner.missing",
        OwaspCode::Nhi1,
        Severity::Medium,
        "no owner (nor has its identity)",
    ),
    rule(
        "credential.two_active",
        OwaspCode::Nhi9,
        Severity::Medium,
        "an identity holding two active credentials",
    ),
    rule(
        "credential.reused_across_scopes",
        OwaspCode::Nhi9,
        Severity::High,
        "the same key or certificate in more than one place",
    ),
    rule(
        "owner.departed",
        OwaspCode::Nhi1,
        Severity::High,
        "the owner left the directory",
    ),
    rule(
        "owner.unknown",
        OwaspCode::Nhi1,
        Severity::Low,
        "the directory never knew the owner",
    ),
];

/// Every rule, cross-platform first, as the rule picker lists them.
pub fn rule_catalogue() -> impl Iterator<Item = &'static PlatformRule> {
    CROSS_PLATFORM_RULES.iter().chain(PLATFORM_RULES.iter())
}

/// Every platform rule a connector may signal. Ids are `platform.subject.condition`.
pub const PLATFORM_RULES: &[PlatformRule] = &[
    // AWS IAM: who can assume a role.
    rule(
        "aws.trust.public",
        OwaspCode::Nhi6,
        Severity::Critical,
        "role can be assumed by any AWS principal in any account (`*` with no condition confining it to your accounts or organisation)",
    ),
    rule(
        "aws.trust.foreign_account",
        OwaspCode::Nhi3,
        Severity::High,
        "role trusts an AWS account or organisation outside the connector's accounts and `known_accounts`",
    ),
    rule(
        "aws.trust.no_external_id",
        OwaspCode::Nhi6,
        Severity::Medium,
        "role trusts another account with no `sts:ExternalId` condition (the confused deputy)",
    ),
    // AWS IAM: trust policies of federated roles (GitHub Actions, GitLab CI).
    rule(
        "aws.trust.any_repository",
        OwaspCode::Nhi6,
        Severity::Critical,
        "role's `sub` condition admits any repository or project of anyone on the CI issuer (`repo:*`, `project_path:*`)",
    ),
    rule(
        "aws.trust.no_sub",
        OwaspCode::Nhi6,
        Severity::Critical,
        "role trusts a CI OIDC provider without a `sub` condition: any repository or project on that issuer can assume it",
    ),
    rule(
        "aws.trust.wildcard_sub",
        OwaspCode::Nhi6,
        Severity::High,
        "role's `sub` condition is a wildcard over every repository of an owner, or of everyone",
    ),
    rule(
        "aws.trust.no_aud",
        OwaspCode::Nhi6,
        Severity::Medium,
        "role trusts a CI OIDC provider without an `aud` condition",
    ),
    rule(
        "aws.trust.literal_wildcard",
        OwaspCode::Nhi6,
        Severity::Low,
        "`*` inside StringEquals is matched literally: the condition admits no real token, so the role is unusable",
    ),
    // AWS IAM: users and keys. (A console password on a service user is the generic
    // `usage.human_sign_in`, from `Record::interactive_sign_in`.)
    rule(
        "aws.key.long_lived_with_federation",
        OwaspCode::Nhi4,
        Severity::Low,
        "a long-lived access key exists in an account that already trusts a CI OIDC provider",
    ),
    // GitHub. Tokens and SSO credential authorizations without expiry, unused ones, and
    // Actions secrets by age are the generic usage and lifetime rules.
    rule(
        "github.app.all_repos_write",
        OwaspCode::Nhi3,
        Severity::High,
        "a GitHub App is installed on all repositories of the org with write or admin permissions",
    ),
    rule(
        "github.deploy_key.write",
        OwaspCode::Nhi4,
        Severity::Medium,
        "an SSH deploy key can push to its repository (read_only is false)",
    ),
    rule(
        "github.webhook.insecure_ssl",
        OwaspCode::Nhi2,
        Severity::High,
        "a webhook delivers with insecure_ssl: TLS certificates are not verified, so payloads can be read or altered in transit",
    ),
    rule(
        "github.webhook.no_secret",
        OwaspCode::Nhi2,
        Severity::Medium,
        "a webhook has no secret: its receiver cannot verify that deliveries come from GitHub",
    ),
    // NHI6: the runner's machine, and the cloud roles and secrets it can reach, are exposed to
    // code from anyone's fork pull request through a deployment setting, not a leaked secret.
    rule(
        "github.runner.public_repo",
        OwaspCode::Nhi6,
        Severity::High,
        "a self-hosted runner serves a public repository: pull requests from forks can run code on it",
    ),
    // NHI8: the group's runners, and whatever cloud roles and secrets their machines hold, are
    // shared between untrusted code (fork pull requests to public repositories) and the org's
    // private repositories: one identity used from both sides of a trust boundary, which is
    // environment isolation rather than one runner's deployment setting (NHI6 above).
    rule(
        "github.runner_group.public_repos",
        OwaspCode::Nhi8,
        Severity::High,
        "a self-hosted runner group admits public repositories: fork pull requests can run code on runners the org's private repositories share",
    ),
    // GitLab. Tokens without expiry and unused tokens are the generic lifetime and usage rules;
    // trigger owners who left the directory are the generic `owner.departed`.
    rule(
        "gitlab.token.lifetime_over_max",
        OwaspCode::Nhi7,
        Severity::Medium,
        "a GitLab token's lifetime (expiry minus creation) exceeds the configured maximum (max_token_lifetime_days)",
    ),
    rule(
        "gitlab.bot_token.high_role",
        OwaspCode::Nhi5,
        Severity::High,
        "a project or group access token acts with the Maintainer or Owner role",
    ),
    rule(
        "gitlab.token.api_scope",
        OwaspCode::Nhi5,
        Severity::Medium,
        "a token has the `api` scope with a role that cannot write (Reporter or below): `read_api` would do",
    ),
    rule(
        "gitlab.deploy_key.can_push",
        OwaspCode::Nhi4,
        Severity::Medium,
        "an SSH deploy key can push to one or more projects",
    ),
    rule(
        "gitlab.variable.secret_unmasked",
        OwaspCode::Nhi2,
        Severity::High,
        "a CI/CD variable whose key looks like a secret is not masked: job logs can print it",
    ),
    rule(
        "gitlab.variable.secret_unprotected",
        OwaspCode::Nhi2,
        Severity::Medium,
        "a CI/CD variable whose key looks like a secret is not protected: pipelines on any branch can read it",
    ),
    rule(
        "gitlab.trigger.owner_inactive",
        OwaspCode::Nhi1,
        Severity::High,
        "a pipeline trigger's owner is blocked, deactivated or deleted in GitLab, yet the trigger still runs pipelines",
    ),
    // Microsoft Entra ID. Expired-but-present secrets and secrets without expiry are the
    // generic lifetime rules; the maximum lifetime is the connector's `max_secret_lifetime_days`.
    rule(
        "azure.client_secret.lifetime_exceeds_max",
        OwaspCode::Nhi7,
        Severity::Medium,
        "an app registration's client secret is valid for longer than the maximum lifetime",
    ),
    rule(
        "azure.federated_credential.broad_subject",
        OwaspCode::Nhi6,
        Severity::High,
        "a federated identity credential's subject admits more than one repository or branch of a CI issuer",
    ),
    rule(
        "azure.service_principal.own_credential",
        OwaspCode::Nhi4,
        Severity::Medium,
        "a service principal holds a password or key of its own, not on its app registration, where it is easily overlooked (a known way to keep access)",
    ),
    rule(
        "azure.application.no_owner",
        OwaspCode::Nhi1,
        Severity::Low,
        "an app registration has no owners in Entra ID: only directory administrators can manage it",
    ),
    // GCP IAM. User-managed keys by age and without expiry are the generic lifetime rules.
    rule(
        "gcp.service_account.basic_role",
        OwaspCode::Nhi5,
        Severity::Medium,
        "a service account holds a basic role (roles/owner, roles/editor or roles/viewer) on a project",
    ),
    rule(
        "gcp.wif_provider.no_condition",
        OwaspCode::Nhi6,
        Severity::Critical,
        "a workload identity provider trusts GitHub or GitLab CI tokens without an attributeCondition: any repository on the issuer can federate in",
    ),
    rule(
        "gcp.wif_provider.wide_condition",
        OwaspCode::Nhi6,
        Severity::High,
        "a workload identity provider's attributeCondition admits every repository of an owner, a pattern of repositories, or does not restrict the repository",
    ),
];

/// The catalogue entry for `id`.
pub fn platform_rule(id: &str) -> Option<&'static PlatformRule> {
    PLATFORM_RULES.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_namespaced() {
        let mut ids: Vec<_> = PLATFORM_RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "duplicate platform rule id");
        for id in ids {
            assert_eq!(
                id.split('.').count(),
                3,
                "{id} is not platform.subject.condition"
            );
        }
    }

    /// The catalogue describes exactly the rules the engine raises, each once.
    #[test]
    fn the_cross_platform_catalogue_is_the_engine_s_rule_list() {
        let described: Vec<_> = CROSS_PLATFORM_RULES.iter().map(|r| r.id).collect();
        assert_eq!(described, crate::policy::RULE_IDS.to_vec());
        assert_eq!(
            rule_catalogue().count(),
            CROSS_PLATFORM_RULES.len() + PLATFORM_RULES.len()
        );
    }
}
