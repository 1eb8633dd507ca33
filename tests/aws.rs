#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `roster sync`, `identities`, `remediate` and `audit verify` against moto (SigV4 verified):
//! DESIGN.md's AWS "done means". Skips when `ROSTER_MOTO` is unset; `tests/run` sets it.

use std::path::Path;
use std::process::{Command, Output};

use roster_connector_aws::testing::{self, Moto};

const KEY_ID_ENV: &str = "ROSTER_TEST_AWS_KEY_ID";
const SECRET_ENV: &str = "ROSTER_TEST_AWS_SECRET";

struct Env {
    key_id: String,
    secret: String,
}

fn run(dir: &Path, env: &Env, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .current_dir(dir)
        .env_remove("ROSTER_CONFIG")
        .env("ROSTER_LOG", "debug")
        .env(KEY_ID_ENV, &env.key_id)
        .env(SECRET_ENV, &env.secret)
        .args(args)
        .output()
        .unwrap()
}

fn write_config(dir: &Path, endpoint: &str, remediation: &str) {
    std::fs::write(
        dir.join("roster.toml"),
        format!(
            r#"[database]
url = "sqlite://{db}?mode=rwc"

[policy]
file = "{policy}"

[[connectors]]
name = "acme-aws"
kind = "aws"
accounts = [{{ id = "123456789012" }}]
endpoint_url = "{endpoint}"
access_key_id_env = "{KEY_ID_ENV}"
secret_access_key_env = "{SECRET_ENV}"
max_attempts = 2
initial_backoff_ms = 10
organization_id = "o-acme123456"
{remediation}
"#,
            policy = dir.join("policy.toml").display(),
            db = dir.join("roster.db").display()
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

fn item<'a>(items: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    items
        .iter()
        .find(|i| i["name"] == name)
        .unwrap_or_else(|| panic!("no `{name}`"))
}

async fn key_status(moto: &Moto, env: &Env, user: &str, key: &str) -> Option<String> {
    moto.client(&env.key_id, &env.secret)
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .access_key_metadata()
        .iter()
        .find(|k| k.access_key_id() == Some(key))
        .and_then(|k| k.status().map(|s| s.as_str().to_owned()))
}

#[tokio::test]
async fn sync_identities_and_staged_key_remediation_against_moto() {
    let Some(moto) = Moto::start(Some(3)) else {
        eprintln!("skipped: ROSTER_MOTO not set");
        return;
    };
    let (iam, admin) = testing::bootstrap(&moto).await.unwrap();
    testing::seed_estate(&iam, &moto).await.unwrap();
    let env = Env {
        key_id: admin.id.clone(),
        secret: admin.secret.clone(),
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut transcript = String::new();
    std::fs::write(
        d.join("policy.toml"),
        "[[owners]]\nplatform = \"aws\"\nname = \"gha-*\"\nowner = \"ci-platform\"\n",
    )
    .unwrap();
    write_config(d, &moto.endpoint, "");

    let out = run(d, &env, &["sync"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let out = run(
        d,
        &env,
        &["identities", "--platform", "aws", "--format", "json"],
    );
    transcript += &text(&out);
    assert!(out.status.success(), "{}", text(&out));
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let deployer = item(&items, "ci-deployer");
    assert_eq!(deployer["privilege"], "admin");
    assert_eq!(deployer["owner"], "platform-team");
    assert_eq!(deployer["usage"], "used");
    let wild = item(&items, "gha-wild");
    // Ownership as code wins over the platform's (absent) owner.
    assert_eq!(wild["owner"], "ci-platform");
    assert_eq!(wild["owner_source"], "policy:owners[0]");
    let f = wild["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "aws.trust.wildcard_sub")
        .unwrap();
    assert_eq!(f["owasp"], "NHI6");
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("any repository under `acme`"),
        "{f}"
    );
    let nosub = item(&items, "gha-nosub");
    assert_eq!(nosub["tier"], "critical");
    // Who can assume a role: anyone (critical), a vendor without an ExternalId; the role
    // confined to our organisation is clean.
    let rules_of = |name: &str| -> Vec<String> {
        item(&items, name)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(item(&items, "cross-public")["tier"], "critical");
    assert!(rules_of("cross-public").contains(&"aws.trust.public".to_owned()));
    assert!(
        !rules_of("cross-org")
            .iter()
            .any(|r| r.starts_with("aws.trust"))
    );
    let vendor = rules_of("vendor-no-external-id");
    assert!(
        vendor.contains(&"aws.trust.foreign_account".to_owned())
            && vendor.contains(&"aws.trust.no_external_id".to_owned()),
        "{vendor:?}"
    );
    // Two active keys on one user: the generic cross-record rule (NHI9).
    let etl = item(&items, "etl-bot");
    assert!(
        etl["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "credential.two_active" && f["owasp"] == "NHI9"),
        "{etl}"
    );
    let etl_keys: Vec<&serde_json::Value> = items
        .iter()
        .filter(|i| i["kind"] == "access_key" && i["name"].as_str().unwrap().ends_with("(etl-bot)"))
        .collect();
    assert_eq!(etl_keys.len(), 2);
    assert!(etl_keys.iter().all(|k| k["usage"] == "never_used"));
    let target = etl_keys[0];
    let id = target["id"].as_str().unwrap();
    let key = target["external_id"].as_str().unwrap();

    // Dry run: says what it would call, changes nothing, works with remediation off.
    let out = run(d, &env, &["remediate", id, "--action", "deactivate"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("DRY RUN") && text(&out).contains("would call iam:UpdateAccessKey"),
        "{}",
        text(&out)
    );
    assert_eq!(
        key_status(&moto, &env, "etl-bot", key).await.as_deref(),
        Some("Active")
    );
    // A real run needs remediation enabled.
    let out = run(
        d,
        &env,
        &["remediate", id, "--action", "deactivate", "--execute"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("remediation is off"), "{}", text(&out));

    write_config(
        d,
        &moto.endpoint,
        "[connectors.remediation]\nenabled = true\ndelete_after_days = 7\n",
    );
    // Delete before deactivate is refused.
    let out = run(
        d,
        &env,
        &["remediate", id, "--action", "delete", "--execute"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("deactivate it first"), "{}", text(&out));
    let out = run(
        d,
        &env,
        &[
            "remediate",
            id,
            "--action",
            "deactivate",
            "--execute",
            "--reason",
            "unused for 90 days",
        ],
    );
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        key_status(&moto, &env, "etl-bot", key).await.as_deref(),
        Some("Inactive")
    );
    // Within the grace period: refused, naming its end.
    let out = run(
        d,
        &env,
        &["remediate", id, "--action", "delete", "--execute"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("grace period of 7 days ends"),
        "{}",
        text(&out)
    );
    assert!(key_status(&moto, &env, "etl-bot", key).await.is_some());

    // Later (here: a grace period of zero days), the delete goes through.
    write_config(
        d,
        &moto.endpoint,
        "[connectors.remediation]\nenabled = true\ndelete_after_days = 0\n",
    );
    let out = run(d, &env, &["remediate", id, "--action", "delete"]);
    assert!(
        text(&out).contains("would call iam:DeleteAccessKey"),
        "{}",
        text(&out)
    );
    let out = run(
        d,
        &env,
        &["remediate", id, "--action", "delete", "--execute"],
    );
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(key_status(&moto, &env, "etl-bot", key).await, None);

    // The next sync sees the key gone; the audit trail holds every step and verifies.
    let out = run(d, &env, &["sync"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(
        d,
        &env,
        &[
            "identities",
            "--platform",
            "aws",
            "--kind",
            "access_key",
            "--include-gone",
            "--format",
            "json",
        ],
    );
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let gone = items.iter().find(|i| i["external_id"] == key).unwrap();
    assert_eq!(gone["status"], "gone");
    let out = run(d, &env, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // 2 syncs + 7 remediation runs (dry, refused and executed alike) + the first sync's
    // config.changed and policy.changed + the second sync's config.changed (remediation was
    // switched on in between).
    assert!(text(&out).contains("intact: 12 event(s)"), "{}", text(&out));

    // The connector's secret never reaches the logs or the database.
    assert!(
        !transcript.contains(&env.secret),
        "secret in the CLI output"
    );
    let db = std::fs::read(d.join("roster.db")).unwrap();
    let wal = std::fs::read(d.join("roster.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(
            !bytes
                .windows(env.secret.len())
                .any(|w| w == env.secret.as_bytes()),
            "secret in the database"
        );
    }
}
