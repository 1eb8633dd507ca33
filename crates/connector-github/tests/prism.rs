//! The GitHub connector against Prism serving GitHub's own OpenAPI description (the NHI subset
//! extracted by `tests/github/setup.sh`): every listing runs to completion, records of every kind
//! come back with the fields of GitHub's examples, and no response carried an `sl-violations`
//! header (Prism's mark of a request that breaks GitHub's schema).
//!
//! Needs `ROSTER_PRISM` (the prism binary) and `ROSTER_GITHUB_SPEC` (the extracted spec):
//! `eval "$(tests/github/setup.sh)"`. Without them the test says it is skipped and passes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use roster_connector_github::testing::Prism;
use roster_connector_github::{Credentials, GithubConfig, GithubConnector};
use roster_connector_sdk::{
    Connector, RemediationRequest, Remediator, Secret, SystemClock, list_all,
};
use roster_core::{Kind, Privilege, Record, Usage};

type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

fn observed(connector: GithubConnector) -> (GithubConnector, Seen) {
    let seen: Seen = Arc::default();
    let sink = seen.clone();
    let connector = connector.with_response_observer(Arc::new(move |url, headers| {
        let violations = headers
            .get("sl-violations")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        sink.lock().unwrap().push((url.to_string(), violations));
    }));
    (connector, seen)
}

async fn run_all(connector: &GithubConnector) -> Vec<Record> {
    let mut records = Vec::new();
    for listing in connector.plan().await.unwrap() {
        let page = list_all(connector, &listing, 1000)
            .await
            .unwrap_or_else(|e| panic!("{listing}: {e}"));
        records.extend(page);
    }
    records
}

fn assert_no_violations(seen: &Seen) {
    let seen = seen.lock().unwrap();
    assert!(!seen.is_empty());
    let bad: Vec<_> = seen.iter().filter(|(_, v)| v.is_some()).collect();
    assert!(bad.is_empty(), "schema violations: {bad:#?}");
}

fn find<'a>(records: &'a [Record], resource_type: &str) -> Vec<&'a Record> {
    records
        .iter()
        .filter(|r| r.key.resource_type == resource_type)
        .collect()
}

#[tokio::test]
async fn every_listing_against_githubs_openapi_examples() {
    if std::env::var_os("ROSTER_PRISM").is_none() {
        println!("skipped: ROSTER_PRISM not set (eval \"$(tests/github/setup.sh)\" sets it)");
        return;
    }
    let prism = Prism::start().expect("prism answers within 60 s");

    // With a token.
    let config = GithubConfig::new(prism.url.clone(), &["octocat"]);
    let connector = GithubConnector::with_credentials(
        config,
        Credentials::Token(Secret::new("ghp_prism")),
        Arc::new(SystemClock),
    )
    .unwrap();
    let (connector, seen) = observed(connector);
    let records = run_all(&connector).await;
    assert_no_violations(&seen);

    let kinds: BTreeSet<Kind> = records.iter().map(|r| r.kind).collect();
    for kind in [
        Kind::AppInstallation,
        Kind::PersonalAccessToken,
        Kind::DeployKey,
        Kind::CiSecret,
        Kind::Runner,
        Kind::Webhook,
        Kind::Role,
    ] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    let resource_types: BTreeSet<&str> = records
        .iter()
        .map(|r| r.key.resource_type.as_str())
        .collect();
    assert_eq!(
        resource_types,
        roster_connector_github::resource_types()
            .into_iter()
            .collect(),
        "every resource type yields records from GitHub's examples"
    );

    // Fields of GitHub's examples.
    let apps = find(&records, "github.app_installation");
    assert_eq!(apps[0].key.external_id, "25381");
    assert!(
        apps[0]
            .privilege_detail
            .contains(&"deployments:write".to_string())
    );
    assert_eq!(apps[0].privilege, Privilege::Write);
    let pats = find(&records, "github.fine_grained_pat");
    assert_eq!(pats[0].name, "Some Token");
    assert_eq!(pats[0].owner.as_deref(), Some("octocat"));
    assert_eq!(pats[0].usage, Usage::NeverUsed);
    assert!(pats[0].expires_at.is_some());
    let auths = find(&records, "github.credential_authorization");
    assert!(auths.len() >= 2, "{auths:?}");
    assert!(
        auths
            .iter()
            .all(|r| r.raw.get("token_last_eight").is_none())
    );
    assert!(auths.iter().any(|r| r.owner.as_deref() == Some("hubot")));
    let keys = find(&records, "github.deploy_key");
    assert!(
        keys[0].name.ends_with("octocat@octomac"),
        "{}",
        keys[0].name
    );
    assert_eq!(keys[0].owner.as_deref(), Some("octocat"));
    assert_eq!(keys[0].usage, Usage::Used);
    let org_secrets = find(&records, "github.org_actions_secret");
    assert!(org_secrets.iter().any(|r| r.key.external_id == "GH_TOKEN"));
    let repo_secrets = find(&records, "github.repo_actions_secret");
    assert!(repo_secrets.iter().all(|r| r.created_at.is_some()));
    let runners = find(&records, "github.org_runner");
    assert!(runners.iter().any(|r| r.name == "linux_runner"));
    // GitHub's example: Default (all), octo-runner-group (selected), expensive-hardware
    // (private), all three with allows_public_repositories; a private group serves private
    // repositories only.
    let groups = find(&records, "github.runner_group");
    let group = |name: &str| {
        *groups
            .iter()
            .find(|g| g.name == format!("runner group: {name}"))
            .unwrap()
    };
    let public_rule = |g: &Record| {
        g.signals
            .iter()
            .any(|s| s.rule == "github.runner_group.public_repos")
    };
    assert!(public_rule(group("Default")));
    assert!(public_rule(group("octo-runner-group")));
    assert!(!public_rule(group("expensive-hardware")));
    assert!(group("octo-runner-group").privilege_detail.contains(
        &"workflow:octo-org/octo-repo/.github/workflows/deploy.yaml@refs/heads/main".to_string()
    ));
    assert!(
        group("Default")
            .privilege_detail
            .contains(&"runner:linux_runner".to_string()),
        "{:?}",
        group("Default").privilege_detail
    );
    let linux_runner = runners.iter().find(|r| r.name == "linux_runner").unwrap();
    assert_eq!(
        linux_runner
            .parent
            .as_ref()
            .map(|p| p.resource_type.as_str()),
        Some("github.runner_group")
    );
    let hooks = find(&records, "github.webhook");
    assert!(
        hooks[0]
            .privilege_detail
            .contains(&"event:push".to_string())
    );
    assert!(
        hooks[0]
            .signals
            .iter()
            .any(|s| s.rule == "github.webhook.no_secret")
    );
    let oidc = find(&records, "github.oidc_sub_template");
    assert_eq!(oidc[0].raw["include_claim_keys"][0], "repo");

    // Remediation: for one record of each type that offers an action, a dry run and a real
    // run make the documented requests, and GitHub's schema accepts every one of them.
    let mut config = GithubConfig::new(prism.url.clone(), &["octocat"]);
    config.remediation.enabled = true;
    let connector = GithubConnector::with_credentials(
        config,
        Credentials::Token(Secret::new("ghp_prism")),
        Arc::new(SystemClock),
    )
    .unwrap();
    let (connector, seen) = observed(connector);
    let expected = [
        (
            "github.deploy_key",
            "DELETE /repos/octocat/Hello-World/keys/",
        ),
        (
            "github.fine_grained_pat",
            "POST /orgs/octocat/personal-access-tokens/25381 {\"action\":\"revoke\"}",
        ),
        (
            "github.credential_authorization",
            "DELETE /orgs/octocat/credential-authorizations/161195",
        ),
        (
            "github.org_runner",
            "DELETE /orgs/octocat/actions/runners/23",
        ),
        (
            "github.repo_runner",
            "DELETE /repos/octocat/Hello-World/actions/runners/23",
        ),
        (
            "github.webhook",
            "PATCH /orgs/octocat/hooks/1 {\"active\":false}",
        ),
    ];
    for (resource_type, call) in expected {
        let record = find(&records, resource_type)[0];
        let action = connector.actions(resource_type)[0];
        for execute in [false, true] {
            let out = connector
                .remediate(&RemediationRequest {
                    record,
                    action,
                    execute,
                    now: chrono::Utc::now(),
                    previous_stage_at: None,
                })
                .await
                .unwrap_or_else(|e| panic!("{resource_type} {action} (execute: {execute}): {e}"));
            assert_eq!(out.executed, execute, "{resource_type}: {out:?}");
            assert_eq!(out.calls.len(), 1, "{resource_type}: {out:?}");
            assert!(out.calls[0].starts_with(call), "{resource_type}: {out:?}");
        }
    }
    assert_no_violations(&seen);
    let urls: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(u, _)| u.clone())
        .collect();
    assert!(urls.len() >= 18, "{urls:#?}");
    assert!(prism.violations().is_empty(), "{:#?}", prism.violations());

    // As a GitHub App: the token exchange is a request GitHub's schema accepts too.
    let key_file = {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        let pem = private.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, pem.as_bytes()).unwrap();
        file
    };
    let mut config = GithubConfig::new(prism.url.clone(), &["octocat"]);
    config.app_id = Some("2218".into());
    config.installation_id = Some("25381".into());
    config.private_key_file = Some(key_file.path().to_path_buf());
    let credentials = config.credentials(|_| None).unwrap();
    let connector =
        GithubConnector::with_credentials(config, credentials, Arc::new(SystemClock)).unwrap();
    let (connector, seen) = observed(connector);
    let listing = roster_connector_sdk::Listing::new("github.fine_grained_pat", "octocat");
    let page = connector.list(&listing, None).await.unwrap();
    assert!(!page.records.is_empty());
    assert_no_violations(&seen);
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|(url, _)| url.ends_with("/app/installations/25381/access_tokens")),
        "the installation token was minted"
    );
}
