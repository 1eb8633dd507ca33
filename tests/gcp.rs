#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `roster sync`, `identities`, `remediate` and `audit verify` against the GCP fixture estate
//! (wiremock; every fixture checked against Google's discovery documents by the connector's
//! schema test), authenticated with a service-account key file (RS256 JWT bearer grant): the GCP
//! "done means" of issue 9. Every kind with owner, usage (with provenance) and privilege; the
//! NHI5 / NHI6 / NHI7 findings, the NHI6 ones naming which repositories can federate in; a key
//! disabled then deleted, dry run first; a project that starts answering 403 reported and not
//! swept; no private key data and no token in the output or the database.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use roster_connector_gcp::testing::estate::{ACCESS_TOKEN, Estate};
use roster_connector_gcp::testing::{PRIVATE_KEY_CANARY, REMEDIATED_KEY};
use serde_json::Value;

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .current_dir(dir)
        .env_remove("ROSTER_CONFIG")
        .env("ROSTER_LOG", "debug")
        .args(args)
        .output()
        .unwrap()
}

fn write_config(dir: &Path, base: &str, remediation: &str) {
    std::fs::write(
        dir.join("roster.toml"),
        format!(
            r#"[database]
url = "sqlite://{db}?mode=rwc"

[[connectors]]
name = "acme-gcp"
kind = "gcp"
projects = ["acme-prod", "acme-dev"]
credentials_file = "{key}"
token_url = "{base}/token"
iam_url = "{base}"
resource_manager_url = "{base}"
policy_analyzer_url = "{base}"
{remediation}
"#,
            db = dir.join("roster.db").display(),
            key = dir.join("gcp-key.json").display(),
        ),
    )
    .unwrap();
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn item<'a>(items: &'a [Value], name: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["name"] == name || i["external_id"] == name)
        .unwrap_or_else(|| panic!("no `{name}`"))
}

fn finding<'a>(item: &'a Value, rule: &str) -> Option<&'a Value> {
    item["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
}

fn identities(dir: &Path, transcript: &mut String) -> Vec<Value> {
    let out = run(
        dir,
        &["identities", "--platform", "gcp", "--format", "json"],
    );
    *transcript += &text(&out);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_identities_and_key_remediation_against_the_gcp_estate() {
    let estate = Estate::start().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    Estate::write_key_file(&d.join("gcp-key.json")).unwrap();
    let key_pem = std::fs::read_to_string(d.join("gcp-key.json")).unwrap();
    let key_body: Value = serde_json::from_str(&key_pem).unwrap();
    let pem_line = key_body["private_key"]
        .as_str()
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_string();
    let mut transcript = String::new();
    write_config(d, &estate.uri(), "");

    let out = run(d, &["sync"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let items = identities(d, &mut transcript);
    let resource_types: BTreeSet<&str> = items
        .iter()
        .map(|i| i["resource_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        resource_types,
        roster_connector_gcp::resource_types().into_iter().collect()
    );
    let kinds: BTreeSet<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["service_account", "service_account_key", "role"])
    );
    assert!(
        items
            .iter()
            .all(|i| i["platform"] == "gcp" && i["connector"] == "acme-gcp")
    );

    // Service accounts: owner from the description, usage from the Policy Analyzer, privilege
    // from the project's bindings; the basic role is NHI5.
    let ci = item(&items, "ci-deployer@acme-prod.iam.gserviceaccount.com");
    assert_eq!(ci["scope"], "acme-prod");
    assert_eq!(ci["owner"], "team-platform");
    assert_eq!(ci["owner_source"], "gcp:description");
    assert_eq!(ci["usage"], "used");
    assert_eq!(ci["last_used_at"], "2026-11-01T07:00:00Z");
    assert_eq!(ci["privilege"], "admin");
    let basic = finding(ci, "gcp.service_account.basic_role").unwrap();
    assert_eq!(basic["owasp"], "NHI5");
    assert!(
        basic["message"].as_str().unwrap().contains("roles/editor"),
        "{basic}"
    );
    assert!(finding(ci, "privilege.admin").is_some(), "{ci}");
    let reporting = item(&items, "reporting@acme-prod.iam.gserviceaccount.com");
    assert_eq!(reporting["usage"], "never_used");
    assert_eq!(reporting["privilege"], "read");
    assert_eq!(reporting["owner"], "alice@acme.com");
    let legacy = item(&items, "legacy@acme-prod.iam.gserviceaccount.com");
    assert_eq!(legacy["status"], "disabled");
    assert!(
        legacy["findings"].as_array().unwrap().is_empty(),
        "{legacy}"
    );
    let builder = item(&items, "builder@acme-dev.iam.gserviceaccount.com");
    assert_eq!(builder["scope"], "acme-dev");
    assert_eq!(builder["usage"], "never_used");

    // Keys: the account's privilege and owner, their own usage, NHI7 for age and no expiry.
    let key = item(&items, REMEDIATED_KEY);
    assert_eq!(key["kind"], "service_account_key");
    assert_eq!(key["parent_id"], ci["id"]);
    assert_eq!(key["usage"], "used");
    assert_eq!(key["privilege"], "admin");
    assert_eq!(key["owner"], "team-platform");
    assert_eq!(key["created_at"], "2023-03-01T09:00:00Z");
    assert!(key["expires_at"].is_null());
    for rule in ["lifetime.no_expiry", "lifetime.rotation_age"] {
        assert_eq!(finding(key, rule).unwrap()["owasp"], "NHI7", "{key}");
    }
    let new_key = item(&items, "9c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f0a2b4c6d");
    assert!(new_key["expires_at"].is_string());
    assert!(finding(new_key, "lifetime.no_expiry").is_none());
    let disabled_key = item(&items, "5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b");
    assert_eq!(disabled_key["status"], "disabled");

    // Workload identity: pools, and providers judged by who can federate in (NHI6).
    let pool = item(&items, "ci-pool");
    assert_eq!(pool["kind"], "role");
    assert_eq!(pool["owner"], "team-platform");
    let open = item(&items, "ci-pool/github-open");
    let f = finding(open, "gcp.wif_provider.no_condition").unwrap();
    assert_eq!(f["owasp"], "NHI6");
    assert_eq!(f["severity"], "critical");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("every repository of every user and organisation"),
        "{f}"
    );
    assert_eq!(open["tier"], "critical");
    let acme = item(&items, "ci-pool/github-acme");
    let f = finding(acme, "gcp.wif_provider.wide_condition").unwrap();
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("every repository of `acme`"),
        "{f}"
    );
    let pinned = item(&items, "ci-pool/github-app");
    assert!(finding(pinned, "gcp.wif_provider.wide_condition").is_none());
    assert!(
        pinned["privilege_detail"]
            .as_array()
            .unwrap()
            .contains(&Value::from("admits: only `acme/app`")),
        "{pinned}"
    );
    let gitlab = item(&items, "gitlab-pool/gitlab");
    let f = finding(gitlab, "gcp.wif_provider.wide_condition").unwrap();
    assert!(f["message"].as_str().unwrap().contains("GitLab CI"), "{f}");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("startsWith('acme')"),
        "{f}"
    );

    // Remediation: dry run first (works with remediation off), then disable, then delete.
    let key_id = key["id"].as_str().unwrap();
    let out = run(d, &["remediate", key_id, "--action", "disable"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("DRY RUN: would disable key")
            && text(&out).contains(&format!(
                "would call POST /v1/projects/acme-prod/serviceAccounts/ci-deployer@acme-prod.iam.gserviceaccount.com/keys/{REMEDIATED_KEY}:disable"
            )),
        "{}",
        text(&out)
    );
    let out = run(
        d,
        &["remediate", key_id, "--action", "disable", "--execute"],
    );
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("remediation is off"), "{}", text(&out));

    write_config(
        d,
        &estate.uri(),
        "[connectors.remediation]\nenabled = true\ndelete_after_days = 0\n",
    );
    let out = run(d, &["remediate", key_id, "--action", "delete", "--execute"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("disable it first"), "{}", text(&out));
    let out = run(
        d,
        &[
            "remediate",
            key_id,
            "--action",
            "disable",
            "--execute",
            "--reason",
            "unused key",
        ],
    );
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("disabled key"), "{}", text(&out));
    let out = run(d, &["remediate", key_id, "--action", "delete", "--execute"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("deleted key")
            && text(&out).contains(&format!("called DELETE /v1/projects/acme-prod/serviceAccounts/ci-deployer@acme-prod.iam.gserviceaccount.com/keys/{REMEDIATED_KEY}")),
        "{}",
        text(&out)
    );
    let requests = estate.server.received_requests().await.unwrap();
    let mutating: Vec<String> = requests
        .iter()
        .filter(|r| {
            r.method.as_str() != "GET"
                && !r.url.path().ends_with(":getIamPolicy")
                && r.url.path() != "/token"
        })
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(mutating.len(), 2, "{mutating:?}");
    assert!(mutating[0].starts_with("POST") && mutating[0].ends_with(":disable"));
    assert!(mutating[1].starts_with("DELETE"));

    // acme-dev starts answering 403: reported, nothing swept there.
    estate.deny("acme-dev").await;
    let out = run(d, &["sync"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("NOT SEEN: gcp.service_account in acme-dev")
            && text(&out).contains("nothing swept there"),
        "{}",
        text(&out)
    );
    let items = identities(d, &mut transcript);
    let builder = item(&items, "builder@acme-dev.iam.gserviceaccount.com");
    assert_eq!(builder["status"], "active", "{builder}");

    let out = run(d, &["audit", "verify"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // No private key data, no access token and no key file content in the output or the database.
    let db = std::fs::read(d.join("roster.db")).unwrap();
    let wal = std::fs::read(d.join("roster.db-wal")).unwrap_or_default();
    for secret in [PRIVATE_KEY_CANARY, ACCESS_TOKEN, pem_line.as_str()] {
        assert!(!transcript.contains(secret), "{secret} in the CLI output");
        for bytes in [&db, &wal] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in the database"
            );
        }
    }
}
