#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `roster sync`, `identities`, `remediate` and `audit verify` against wiremock serving the
//! Microsoft Graph fixtures of `crates/connector-azure/tests/fixtures/graph.json` (each checked
//! against Microsoft's published Graph types by that crate's `schema` test): issue 9's Entra "done
//! means" — every kind with owner, usage (with provenance) and privilege, the NHI6 findings
//! naming the repositories that can federate in — then a 403 on one endpoint reported as not
//! seen (nothing swept), a client secret removed through `removePassword`, and the client
//! secret nowhere in the output or the database.

#[path = "../crates/connector-azure/tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET_ENV: &str = "ROSTER_TEST_ENTRA_SECRET";
const APP: &str = "a0000000-0000-4000-8000-000000000001";
const CI_SECRET: &str = "a3000000-0000-4000-8000-000000000001";

/// Runs the CLI off the async runtime, so that wiremock keeps answering meanwhile.
async fn run(dir: &Path, secret: &str, args: &[&str]) -> Output {
    let (dir, secret): (PathBuf, String) = (dir.to_path_buf(), secret.to_string());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_roster"))
            .current_dir(&dir)
            .env_remove("ROSTER_CONFIG")
            .env("ROSTER_LOG", "debug")
            .env(SECRET_ENV, &secret)
            .args(&args)
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn write_config(dir: &Path, graph: &str, remediation: &str) {
    std::fs::write(
        dir.join("roster.toml"),
        format!(
            r#"[database]
url = "sqlite://{db}?mode=rwc"

[[connectors]]
name = "contoso-entra"
kind = "azure"
tenant_id = "{tenant}"
client_id = "99999999-0000-4000-8000-000000000099"
graph_url = "{graph}"
token_url = "{graph}{token_path}"
client_secret_env = "{SECRET_ENV}"
{remediation}
"#,
            db = dir.join("roster.db").display(),
            tenant = support::tenant(),
            token_path = support::token_path(),
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

fn named<'a>(items: &'a [Value], kind: &str, name: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["kind"] == kind && i["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} `{name}`"))
}

fn rules(item: &Value) -> Vec<&str> {
    item["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect()
}

fn finding<'a>(item: &'a Value, rule: &str) -> &'a Value {
    item["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("no {rule} on {item}"))
}

async fn identities(dir: &Path, secret: &str, transcript: &mut String) -> Vec<Value> {
    let out = run(
        dir,
        secret,
        &["identities", "--platform", "azure", "--format", "json"],
    )
    .await;
    *transcript += &text(&out);
    assert!(out.status.success(), "{}", text(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_identities_and_remediation_against_graph_fixtures() {
    let server = MockServer::start().await;
    support::mount(&server).await;
    let secret = format!("entraCanary{:016x}", rand::random::<u64>());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut transcript = String::new();
    write_config(d, &server.uri(), "");

    let out = run(d, &secret, &["sync"]).await;
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let items = identities(d, &secret, &mut transcript).await;

    // Every kind the connector lists, all in the tenant's scope.
    let kinds: BTreeSet<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "app_installation",
            "service_account",
            "client_secret",
            "certificate",
            "role"
        ])
    );
    assert!(items.iter().all(|i| i["platform"] == "azure"
        && i["connector"] == "contoso-entra"
        && i["scope"] == support::tenant()));
    // … and one password and one key held by service principals themselves.
    assert_eq!(items.len(), 3 + 4 + 3 + 1 + 3 + 2, "{items:#?}");

    // Owner, usage with provenance, privilege.
    let bot = named(&items, "app_installation", "deploy-bot");
    assert_eq!(bot["owner"], "alice@contoso.com");
    assert_eq!(bot["owner_source"], "azure:application_owner");
    assert_eq!(bot["usage"], "used");
    assert_eq!(bot["last_used_at"], "2025-06-01T10:00:00Z");
    assert_eq!(bot["privilege"], "admin");
    assert!(rules(bot).contains(&"privilege.admin"), "{bot}");
    let reporting = named(&items, "app_installation", "reporting");
    assert!(reporting["owner"].is_null());
    assert_eq!(reporting["usage"], "never_used");
    assert_eq!(reporting["privilege"], "read");
    for rule in [
        "owner.missing",
        "azure.application.no_owner",
        "usage.never_used",
    ] {
        assert!(rules(reporting).contains(&rule), "{rule}: {reporting}");
    }
    assert_eq!(
        finding(reporting, "azure.application.no_owner")["owasp"],
        "NHI1"
    );
    let mi = named(&items, "service_account", "vm-backup");
    assert_eq!(mi["privilege"], "admin");
    assert_eq!(mi["usage"], "used");
    let legacy_sp = named(&items, "service_account", "legacy-sync");
    assert_eq!(legacy_sp["status"], "disabled");
    // Admin through a directory role's actions, not an app permission.
    assert_eq!(legacy_sp["privilege"], "admin");
    assert!(
        legacy_sp["privilege_detail"]
            .as_array()
            .unwrap()
            .contains(&json!("directory role: Cloud Application Administrator")),
        "{legacy_sp}"
    );

    // Client secrets: the hint and dates, never a value; lifetime and expiry findings.
    let ci = named(&items, "client_secret", "deploy-bot: ci-2024");
    assert_eq!(ci["parent_id"], bot["id"]);
    assert_eq!(ci["expires_at"], "2026-01-10T00:00:00Z");
    assert_eq!(ci["usage"], "used");
    assert_eq!(ci["privilege"], "admin");
    assert_eq!(ci["owner"], "alice@contoso.com");
    let lifetime = finding(ci, "azure.client_secret.lifetime_exceeds_max");
    assert_eq!(lifetime["owasp"], "NHI7");
    assert!(
        lifetime["message"].as_str().unwrap().contains("731 days"),
        "{lifetime}"
    );
    let old = named(&items, "client_secret", "deploy-bot: old-2023");
    assert!(rules(old).contains(&"lifetime.expired_present"), "{old}");
    assert_eq!(old["usage"], "never_used");
    let cert = named(&items, "certificate", "deploy-bot: CN=deploy-bot");
    assert_eq!(cert["parent_id"], bot["id"]);

    // Federated credentials: NHI6 naming who can federate in.
    let prod = named(&items, "role", "deploy-bot: prod-deploy");
    let broad = finding(prod, "azure.federated_credential.broad_subject");
    assert_eq!(broad["owasp"], "NHI6");
    let msg = broad["message"].as_str().unwrap();
    assert!(
        msg.contains("GitHub Actions jobs in any repository of `contoso`, environment `prod`"),
        "{msg}"
    );
    assert_eq!(prod["tier"], "critical", "{prod}");
    let pr = named(&items, "role", "legacy-sync: pr-checks");
    let msg = finding(pr, "azure.federated_credential.broad_subject")["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.contains("repository `contoso/legacy`, any pull request"),
        "{msg}"
    );
    let web = named(&items, "role", "deploy-bot: web-main");
    assert!(!rules(web).contains(&"azure.federated_credential.broad_subject"));

    // A 403 on one endpoint: that listing is not seen (with the permission it needs), the run
    // is partial, and nothing of it is swept.
    let forbidden = Mock::given(method("GET"))
        .and(path(format!(
            "/v1.0/applications/{APP}/federatedIdentityCredentials"
        )))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": {
            "code": "Authorization_RequestDenied",
            "message": "Insufficient privileges to complete the operation."}})))
        .with_priority(1)
        .mount_as_scoped(&server)
        .await;
    let out = run(d, &secret, &["sync"]).await;
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("NOT SEEN: azure.federated_credential")
            && text(&out).contains("needs Application.Read.All"),
        "{}",
        text(&out)
    );
    drop(forbidden);
    let after = identities(d, &secret, &mut transcript).await;
    let roles: Vec<&Value> = after.iter().filter(|i| i["kind"] == "role").collect();
    assert_eq!(roles.len(), 3);
    assert!(roles.iter().all(|r| r["status"] == "active"), "{roles:?}");

    // Remediation: dry run first, then removePassword with remediation enabled.
    let ci_id = ci["id"].as_str().unwrap();
    let out = run(d, &secret, &["remediate", ci_id, "--action", "remove"]).await;
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("would remove client secret `ci-2024`"),
        "{}",
        text(&out)
    );
    let out = run(
        d,
        &secret,
        &["remediate", ci_id, "--action", "remove", "--execute"],
    )
    .await;
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("remediation is off"), "{}", text(&out));

    let removed = Mock::given(method("POST"))
        .and(path(format!("/v1.0/applications/{APP}/removePassword")))
        .and(body_json(json!({"keyId": CI_SECRET})))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount_as_scoped(&server)
        .await;
    write_config(
        d,
        &server.uri(),
        "[connectors.remediation]\nenabled = true\n",
    );
    let out = run(
        d,
        &secret,
        &[
            "remediate",
            ci_id,
            "--action",
            "remove",
            "--execute",
            "--reason",
            "secret outlives the policy",
        ],
    )
    .await;
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("removed client secret `ci-2024`"),
        "{}",
        text(&out)
    );
    drop(removed);

    let out = run(d, &secret, &["audit", "verify"]).await;
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The client secret never reaches the logs or the database; it went only to the token
    // endpoint.
    assert!(
        !transcript.contains(&secret),
        "client secret in the CLI output"
    );
    let db = std::fs::read(d.join("roster.db")).unwrap();
    let wal = std::fs::read(d.join("roster.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "client secret in the database"
        );
    }
    for r in server.received_requests().await.unwrap() {
        let body = String::from_utf8_lossy(&r.body);
        if body.contains(&secret) {
            assert_eq!(r.url.path(), support::token_path());
        }
    }
}
