#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The AWS connector against moto in server mode, with SigV4 verified (moto checks every call
//! after the first three). Skips when `ROSTER_MOTO` is unset; `tests/run` sets it.

use std::collections::HashMap;

use roster_connector_aws::testing::{self, Moto, TestKey};
use roster_connector_aws::{AccountConfig, AwsConfig, AwsConnector, RemediationConfig};
use roster_connector_sdk::{Connector, ConnectorError, list_all};
use roster_core::{Kind, Privilege, Record, RiskPolicy, Usage};

const ACCOUNT: &str = "123456789012";

pub fn config(endpoint: &str, key: &TestKey, dir: &std::path::Path) -> AwsConfig {
    let id = dir.join("key_id");
    let secret = dir.join("secret");
    std::fs::write(&id, &key.id).unwrap();
    std::fs::write(&secret, &key.secret).unwrap();
    AwsConfig {
        accounts: vec![AccountConfig {
            id: ACCOUNT.into(),
            role_arn: None,
            external_id: None,
        }],
        region: "us-east-1".into(),
        endpoint_url: Some(endpoint.into()),
        access_key_id_env: None,
        secret_access_key_env: None,
        session_token_env: None,
        access_key_id_file: Some(id.display().to_string()),
        secret_access_key_file: Some(secret.display().to_string()),
        github_issuers: vec![],
        known_accounts: vec![],
        organization_id: Some("o-acme123456".into()),
        gitlab_issuers: vec![],
        max_attempts: 2,
        initial_backoff_ms: 10,
        max_backoff_secs: 1,
        timeout_secs: 60,
        concurrency: 4,
        page_size: 1000,
        max_pages: 100,
        remediation: RemediationConfig::default(),
    }
}

async fn all_records(c: &AwsConnector) -> HashMap<String, Result<Vec<Record>, ConnectorError>> {
    let mut out = HashMap::new();
    for l in c.plan().await.unwrap() {
        out.insert(l.resource_type.clone(), list_all(c, &l, 100).await);
    }
    out
}

fn by_name<'a>(records: &'a [Record], name: &str) -> &'a Record {
    records
        .iter()
        .find(|r| r.name == name || r.name.ends_with(&format!("({name})")))
        .unwrap_or_else(|| {
            panic!(
                "no record `{name}` in {:?}",
                records.iter().map(|r| &r.name).collect::<Vec<_>>()
            )
        })
}

fn rules(r: &Record) -> Vec<&str> {
    r.signals.iter().map(|s| s.rule.as_str()).collect()
}

#[tokio::test]
async fn inventory_of_a_seeded_account_with_signed_calls() {
    let Some(moto) = Moto::start(Some(3)) else {
        eprintln!("skipped: ROSTER_MOTO not set");
        return;
    };
    let (iam, admin) = testing::bootstrap(&moto).await.unwrap();
    testing::seed_estate(&iam, &moto).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let c = AwsConnector::new(config(&moto.endpoint, &admin, dir.path())).unwrap();
    let got = all_records(&c).await;
    let users = got["aws.iam_user"].as_ref().unwrap();
    let keys = got["aws.access_key"].as_ref().unwrap();
    let roles = got["aws.role"].as_ref().unwrap();

    // Users: service users only; a person (console password, no service hint) is not listed.
    assert!(users.iter().all(|u| u.kind == Kind::ServiceAccount));
    assert!(
        users.iter().all(|u| u.name != "alice"),
        "a person was listed as a service user"
    );
    let deployer = by_name(users, "ci-deployer");
    assert_eq!(deployer.privilege, Privilege::Admin);
    assert!(
        deployer
            .privilege_detail
            .iter()
            .any(|d| d.contains("AdministratorAccess") && d.contains("every action")),
        "{:?}",
        deployer.privilege_detail
    );
    assert_eq!(deployer.owner.as_deref(), Some("platform-team"));
    assert_eq!(deployer.owner_source.as_deref(), Some("aws_tag:owner"));
    assert_eq!(deployer.usage, Usage::Used);
    // Admin through a group's inline iam:PassRole, not through any policy's name.
    let via_group = by_name(users, "release-svc");
    assert_eq!(
        via_group.privilege,
        Privilege::Admin,
        "{:?}",
        via_group.privilege_detail
    );
    assert!(
        via_group
            .privilege_detail
            .iter()
            .any(|d| d.contains("via group deployers"))
    );
    let etl = by_name(users, "etl-bot");
    assert_eq!(etl.privilege, Privilege::Write);
    assert_eq!(etl.owner.as_deref(), Some("data"));
    assert!(rules(etl).is_empty(), "{:?}", etl.signals);
    assert_eq!(etl.raw["active_access_keys"].as_array().unwrap().len(), 2);
    let reporting = by_name(users, "svc-reporting");
    assert_eq!(reporting.privilege, Privilege::Read);
    // Its console password: a person can sign in as it (NHI10, the generic rule).
    let sign_in = reporting
        .interactive_sign_in
        .as_ref()
        .expect("console password");
    assert_eq!(sign_in.method, "console password");
    assert!(etl.interactive_sign_in.is_none());
    let evaluated = RiskPolicy::default().evaluate(reporting, chrono::Utc::now());
    assert!(
        evaluated
            .findings
            .iter()
            .any(|f| f.rule == "usage.human_sign_in" && f.message.contains("svc-reporting")),
        "{:?}",
        evaluated.findings
    );

    // Keys: used, never used, inactive; a person's key is owned by the person.
    let deployer_keys: Vec<_> = keys
        .iter()
        .filter(|k| k.raw["user_name"] == "ci-deployer")
        .collect();
    assert_eq!(deployer_keys.len(), 1);
    assert_eq!(deployer_keys[0].usage, Usage::Used);
    assert!(deployer_keys[0].last_used_at.is_some());
    assert_eq!(deployer_keys[0].privilege, Privilege::Admin);
    assert_eq!(
        deployer_keys[0].parent.as_ref().unwrap().external_id,
        "ci-deployer"
    );
    let etl_keys: Vec<_> = keys
        .iter()
        .filter(|k| k.raw["user_name"] == "etl-bot")
        .collect();
    assert_eq!(etl_keys.len(), 2);
    assert!(etl_keys.iter().all(|k| k.usage == Usage::NeverUsed));
    let old = keys
        .iter()
        .find(|k| k.raw["user_name"] == "old-job")
        .unwrap();
    assert_eq!(old.status, roster_core::Status::Disabled);
    let alice = keys.iter().find(|k| k.raw["user_name"] == "alice").unwrap();
    assert_eq!(
        (alice.owner.as_deref(), alice.owner_source.as_deref()),
        (Some("alice"), Some("aws:key_holder"))
    );
    assert!(alice.parent.is_none());
    assert!(rules(alice).contains(&"aws.key.long_lived_with_federation"));
    assert!(
        !rules(old).contains(&"aws.key.long_lived_with_federation"),
        "inactive keys are not judged"
    );

    // Roles and their trust policies.
    assert!(
        rules(by_name(roles, "gha-safe")).is_empty(),
        "{:?}",
        by_name(roles, "gha-safe").signals
    );
    let safe_who = &by_name(roles, "gha-safe").raw["trust"]["ci"][0]["who"][0];
    assert!(
        safe_who.as_str().unwrap().contains("acme/web"),
        "{safe_who}"
    );
    assert_eq!(
        rules(by_name(roles, "gha-wild")),
        vec!["aws.trust.wildcard_sub", "aws.trust.no_aud"]
    );
    assert_eq!(rules(by_name(roles, "gha-nosub")), vec!["aws.trust.no_sub"]);
    assert_eq!(
        rules(by_name(roles, "gha-literal")),
        vec!["aws.trust.literal_wildcard"]
    );
    assert_eq!(
        by_name(roles, "gha-literal").raw["trust"]["ci"][0]["unusable"],
        true
    );
    assert_eq!(
        rules(by_name(roles, "gitlab-group")),
        vec!["aws.trust.wildcard_sub"]
    );
    assert_eq!(
        rules(by_name(roles, "gha-anywhere")),
        vec!["aws.trust.any_repository"]
    );
    assert_eq!(
        rules(by_name(roles, "cross-public")),
        vec!["aws.trust.public"]
    );
    assert!(
        rules(by_name(roles, "cross-org")).is_empty(),
        "{:?}",
        by_name(roles, "cross-org").signals
    );
    assert_eq!(
        by_name(roles, "cross-org").raw["trust"]["aws"][0],
        "any AWS principal, confined to organisation o-acme123456"
    );
    assert_eq!(
        rules(by_name(roles, "vendor-no-external-id")),
        vec!["aws.trust.foreign_account", "aws.trust.no_external_id"]
    );
    assert_eq!(
        rules(by_name(roles, "vendor-external-id")),
        vec!["aws.trust.foreign_account"]
    );
    assert!(rules(by_name(roles, "ec2-reader")).is_empty());
    // Effective privilege: the boundary caps AdministratorAccess at read; a deny of iam:*
    // leaves only the read it allowed beside.
    let bounded = by_name(roles, "bounded-admin");
    assert_eq!(
        bounded.privilege,
        Privilege::Read,
        "{:?}",
        bounded.privilege_detail
    );
    assert!(
        bounded
            .privilege_detail
            .iter()
            .any(|d| d.starts_with("capped at read by the permission boundary ReadOnlyAccess")),
        "{:?}",
        bounded.privilege_detail
    );
    let denied = by_name(roles, "iam-denied");
    assert_eq!(
        denied.privilege,
        Privilege::Read,
        "{:?}",
        denied.privilege_detail
    );
    assert!(
        denied
            .privilege_detail
            .iter()
            .any(|d| d.starts_with("denies `iam:*` on every resource")),
        "{:?}",
        denied.privilege_detail
    );
    assert_eq!(
        by_name(roles, "ec2-reader").privilege,
        Privilege::Read,
        "{:?}",
        by_name(roles, "ec2-reader").privilege_detail
    );

    // The signals become NHI6 findings under the default policy.
    let now = chrono::Utc::now();
    let e = RiskPolicy::default().evaluate(by_name(roles, "gha-nosub"), now);
    let f = e
        .findings
        .iter()
        .find(|f| f.rule == "aws.trust.no_sub")
        .unwrap();
    assert_eq!(f.owasp.as_str(), "NHI6");
    assert!(f.message.contains("any repository"), "{}", f.message);
}

#[tokio::test]
async fn wrong_credentials_are_unauthorized_and_nothing_is_listed() {
    let Some(moto) = Moto::start(Some(3)) else {
        eprintln!("skipped: ROSTER_MOTO not set");
        return;
    };
    let (_iam, mut admin) = testing::bootstrap(&moto).await.unwrap();
    admin.secret = "not-the-secret".into();
    let dir = tempfile::tempdir().unwrap();
    let c = AwsConnector::new(config(&moto.endpoint, &admin, dir.path())).unwrap();
    let got = all_records(&c).await;
    for (rt, r) in got {
        let err = match r {
            Err(e) => e,
            Ok(v) => panic!("{rt} listed with a bad signature: {} records", v.len()),
        };
        assert!(
            matches!(
                err,
                ConnectorError::Unauthorized { .. } | ConnectorError::Forbidden { .. }
            ),
            "{rt}: {err}"
        );
    }
}

/// Creates two keys for `user`, the second in the same second as the first (`same_second`) or
/// in a later one, and returns them in creation order (the report's column order).
async fn two_keys(iam: &aws_sdk_iam::Client, user: &str, same_second: bool) -> (TestKey, TestKey) {
    let second_of = |k: &aws_sdk_iam::types::AccessKeyMetadata| k.create_date().unwrap().secs();
    // Two calls to a local moto nearly always land in one second; a pair that straddles a
    // second boundary is deleted and made again, a bounded number of times.
    for _ in 0..10 {
        let first = testing::create_key(iam, user).await.unwrap();
        if !same_second {
            let listed = iam.list_access_keys().user_name(user).send().await.unwrap();
            let created = second_of(&listed.access_key_metadata()[0]);
            while chrono::Utc::now().timestamp() <= created {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        let second = testing::create_key(iam, user).await.unwrap();
        let listed = iam.list_access_keys().user_name(user).send().await.unwrap();
        let seconds: Vec<i64> = listed.access_key_metadata().iter().map(second_of).collect();
        if (seconds[0] == seconds[1]) == same_second {
            return (first, second);
        }
        for k in [&first, &second] {
            iam.delete_access_key()
                .user_name(user)
                .access_key_id(&k.id)
                .send()
                .await
                .unwrap();
        }
    }
    panic!("could not create two keys for {user} with same_second = {same_second}");
}

#[tokio::test]
async fn keys_created_in_the_same_second_are_told_apart_by_get_access_key_last_used() {
    let Some(moto) = Moto::start(Some(3)) else {
        eprintln!("skipped: ROSTER_MOTO not set");
        return;
    };
    let (iam, admin) = testing::bootstrap(&moto).await.unwrap();
    for user in ["twin-keys-svc", "apart-keys-svc"] {
        iam.create_user()
            .user_name(user)
            .path("/service/")
            .send()
            .await
            .unwrap();
        // Enough for the signed call below to succeed.
        iam.put_user_policy()
            .user_name(user)
            .policy_name("whoami")
            .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:GetUser","Resource":"*"}]}"#)
            .send()
            .await
            .unwrap();
    }
    let (twin_first, twin_second) = two_keys(&iam, "twin-keys-svc", true).await;
    let (apart_first, apart_second) = two_keys(&iam, "apart-keys-svc", false).await;
    // Only each user's second key is used, through a real signed call.
    for k in [&twin_second, &apart_second] {
        moto.client(&k.id, &k.secret)
            .get_user()
            .send()
            .await
            .unwrap();
    }
    // The report cannot tell the twins apart: both share one creation second.
    iam.generate_credential_report().send().await.unwrap();
    let report = iam.get_credential_report().send().await.unwrap();
    let csv = String::from_utf8(report.content.unwrap().into_inner()).unwrap();
    let twin_row = csv
        .lines()
        .find(|l| l.starts_with("twin-keys-svc,"))
        .unwrap();
    let cols: Vec<&str> = twin_row.split(',').collect();
    assert_eq!(
        cols[9], cols[14],
        "both columns rotated in the same second: {twin_row}"
    );

    let dir = tempfile::tempdir().unwrap();
    let c = AwsConnector::new(config(&moto.endpoint, &admin, dir.path())).unwrap();
    let got = all_records(&c).await;
    let keys = got["aws.access_key"].as_ref().unwrap();
    let key = |id: &str| keys.iter().find(|k| k.key.external_id == id).unwrap();

    let first = key(&twin_first.id);
    assert_eq!(first.usage, Usage::NeverUsed, "{}", first.raw);
    assert_eq!(first.last_used_at, None);
    assert_eq!(first.raw["usage_source"], "get_access_key_last_used");
    let second = key(&twin_second.id);
    assert_eq!(second.usage, Usage::Used, "{}", second.raw);
    assert!(second.last_used_at.is_some());
    assert_eq!(second.raw["usage_source"], "get_access_key_last_used");
    assert_eq!(second.raw["last_used_service"], "iam");

    // Clean twin: keys created in different seconds are matched from the report alone.
    let first = key(&apart_first.id);
    assert_eq!(first.usage, Usage::NeverUsed, "{}", first.raw);
    assert_eq!(first.raw["usage_source"], "credential_report");
    assert_eq!(first.raw["usage_detail"], serde_json::Value::Null);
    let second = key(&apart_second.id);
    assert_eq!(second.usage, Usage::Used, "{}", second.raw);
    assert_eq!(second.raw["usage_source"], "credential_report");

    // The users follow their used keys.
    let users = got["aws.iam_user"].as_ref().unwrap();
    for name in ["twin-keys-svc", "apart-keys-svc"] {
        assert_eq!(by_name(users, name).usage, Usage::Used, "{name}");
    }
}
