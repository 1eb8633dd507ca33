#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The browser suite: tests/browser/suite.mjs drives Debian's Chromium with playwright-core
//! against `roster serve`, signing in through the real OpenID provider (see `support`). It checks
//! each role's pages, CSP and axe-core accessibility, and saves screenshots of the main pages to
//! `tests/browser/screenshots/`. Skips when tests/browser/setup.sh has not run
//! (`ROSTER_BROWSER_SUITE` unset); `tests/run` runs it.

mod support;

use std::process::Command;

use roster_connector_aws::testing::{self, Moto};
use support::*;

/// How many of `user`'s access keys are active in moto.
async fn active_keys(moto: &Moto, admin: &testing::TestKey, user: &str) -> usize {
    moto.client(&admin.id, &admin.secret)
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .access_key_metadata()
        .iter()
        .filter(|k| k.status().map(|s| s.as_str()) == Some("Active"))
        .count()
}

#[tokio::test]
async fn admin_owner_and_auditor_in_a_real_browser() {
    let (Ok(suite), Ok(chromium)) = (
        std::env::var("ROSTER_BROWSER_SUITE"),
        std::env::var("ROSTER_CHROMIUM"),
    ) else {
        eprintln!("skipped: ROSTER_BROWSER_SUITE not set (eval \"$(tests/browser/setup.sh)\")");
        return;
    };
    // An AWS account in moto beside the synthetic estate: its access keys are the owner's to
    // attest in a campaign, and a revocation is carried out there.
    let Some(moto) = Moto::start(Some(3)) else {
        eprintln!("skipped: ROSTER_MOTO not set");
        return;
    };
    let (iam, aws_admin) = testing::bootstrap(&moto).await.unwrap();
    testing::seed_estate(&iam, &moto).await.unwrap();
    let envs = [
        ("ROSTER_TEST_AWS_KEY_ID", aws_admin.id.as_str()),
        ("ROSTER_TEST_AWS_SECRET", aws_admin.secret.as_str()),
    ];
    let policy_dir = tempfile::tempdir().unwrap();
    let policy = policy_dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[owners]]\nplatform = \"aws\"\nkind = \"access_key\"\nowner = \"owner@acme.example\"\n",
    )
    .unwrap();
    let extra = format!(
        "[policy]\nfile = \"{}\"\n[[connectors]]\nname = \"acme-aws\"\nkind = \"aws\"\n\
         accounts = [{{ id = \"123456789012\" }}]\nendpoint_url = \"{}\"\n\
         access_key_id_env = \"ROSTER_TEST_AWS_KEY_ID\"\n\
         secret_access_key_env = \"ROSTER_TEST_AWS_SECRET\"\nmax_attempts = 2\n\
         [connectors.remediation]\nenabled = true\ndelete_after_days = 7\n",
        policy.display(),
        moto.endpoint
    );
    // Two syncs, so the dashboard has a trend.
    let Some(site) = start_site_with(2, &extra, &envs, |_| async {}).await else {
        return;
    };
    let launched = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["campaign", "create", "--config"])
        .arg(site.dir.path().join("roster.toml"))
        .args([
            "--name",
            "Q4 AWS keys",
            "--scope",
            "platform=aws&kind=access_key",
            "--fallback-reviewer",
            "iam@acme.example",
            "--format",
            "json",
        ])
        .envs(envs)
        .output()
        .unwrap();
    assert!(
        launched.status.success(),
        "{}",
        String::from_utf8_lossy(&launched.stderr)
    );
    let campaign: serde_json::Value = serde_json::from_slice(&launched.stdout).unwrap();
    let etl_keys_before = active_keys(&moto, &aws_admin, "etl-bot").await;

    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/browser/screenshots");
    let out = Command::new("node")
        .arg(&suite)
        .env("ROSTER_BASE", &site.base)
        .env("ROSTER_CAMPAIGN", campaign["id"].to_string())
        .env("ROSTER_CHROMIUM", chromium)
        .env("ROSTER_SCREENSHOTS", shots)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    assert!(
        out.status.success(),
        "{report}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        site.log.lock().unwrap()
    );
    assert!(report.contains("0 failure(s)"), "{report}");
    for png in [
        "dashboard",
        "inventory-filtered",
        "identity",
        "my-identities",
        "sync-runs",
        "reviews",
        "review-item",
        "campaign-closed",
    ] {
        let meta = std::fs::metadata(format!("{shots}/{png}.png")).unwrap();
        assert!(meta.len() > 1000, "{png}.png");
    }
    // The owner revoked one etl-bot key; IAM carried it out: one fewer active key in moto.
    assert_eq!(
        active_keys(&moto, &aws_admin, "etl-bot").await,
        etl_keys_before - 1,
        "{report}"
    );
}

/// The demo as a newcomer meets it: `roster demo`'s IAM admin link in Chromium, the inventory
/// riskiest first and its top identity, screenshots saved (`demo-inventory.png`,
/// `demo-identity.png`), and nothing on the first page an IAM engineer would not believe.
#[test]
fn the_demo_inventory_in_a_real_browser() {
    let (Ok(suite), Ok(chromium)) = (
        std::env::var("ROSTER_BROWSER_SUITE"),
        std::env::var("ROSTER_CHROMIUM"),
    ) else {
        eprintln!("skipped: ROSTER_BROWSER_SUITE not set (eval \"$(tests/browser/setup.sh)\")");
        return;
    };
    use std::io::BufRead;
    let mut demo = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["demo", "--size", "2000", "--bind", "127.0.0.1:0"])
        .env_remove("ROSTER_CONFIG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(demo.stdout.take().unwrap()).lines();
    let link = loop {
        let line = lines.next().expect("demo exited early").unwrap();
        if let Some(i) = line.find("http://")
            && line.contains("/login/bootstrap?token=")
        {
            break line[i..].trim().to_owned();
        }
    };
    let _demo = Killed(demo);
    std::thread::spawn(move || for _ in lines.by_ref() {});
    let script = std::path::Path::new(&suite).with_file_name("demo.mjs");
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/browser/screenshots");
    let out = Command::new("node")
        .arg(&script)
        .env("ROSTER_DEMO_LINK", &link)
        .env("ROSTER_CHROMIUM", chromium)
        .env("ROSTER_SCREENSHOTS", shots)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    assert!(
        out.status.success() && report.contains("0 failure(s)"),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for png in ["demo-inventory", "demo-identity"] {
        assert!(
            std::path::Path::new(shots)
                .join(format!("{png}.png"))
                .exists(),
            "{png}.png"
        );
    }
}

/// An owner with a full inbox clears it: one item without the script, the rest from the
/// keyboard alone (tests/browser/inbox.mjs counts the actions per item and the page loads).
/// Every record is the owner's (a policy rule), and a campaign over them is launched first.
#[tokio::test]
async fn an_owner_clears_a_full_inbox_from_the_keyboard() {
    let (Ok(suite), Ok(chromium)) = (
        std::env::var("ROSTER_BROWSER_SUITE"),
        std::env::var("ROSTER_CHROMIUM"),
    ) else {
        eprintln!("skipped: ROSTER_BROWSER_SUITE not set (eval \"$(tests/browser/setup.sh)\")");
        return;
    };
    let policy_dir = tempfile::tempdir().unwrap();
    let policy = policy_dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[owners]]\nname = \"*\"\nowner = \"owner@acme.example\"\n",
    )
    .unwrap();
    // 40 sample records come with the site; 30 more make the inbox span two pages.
    let extra = format!(
        "[policy]\nfile = \"{}\"\n[[connectors]]\nname = \"more\"\nkind = \"synthetic\"\ncount = 30\nseed = 9\n",
        policy.display()
    );
    let Some(site) = start_site_with(1, &extra, &[], |_| async {}).await else {
        return;
    };
    let launched = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["campaign", "create", "--config"])
        .arg(site.dir.path().join("roster.toml"))
        .args([
            "--name",
            "Owner's inbox",
            "--scope",
            "owner=owner@acme.example",
            "--fallback-reviewer",
            "iam@acme.example",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(
        launched.status.success(),
        "{}",
        String::from_utf8_lossy(&launched.stderr)
    );
    let campaign: serde_json::Value = serde_json::from_slice(&launched.stdout).unwrap();
    let items = campaign["items"].as_u64().unwrap();
    assert!(items >= 60, "the owner's inbox is full enough: {items}");
    let script = std::path::Path::new(&suite).with_file_name("inbox.mjs");
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/browser/screenshots");
    let out = Command::new("node")
        .arg(&script)
        .env("ROSTER_BASE", &site.base)
        .env("ROSTER_CHROMIUM", chromium)
        .env("ROSTER_SCREENSHOTS", shots)
        .env("ROSTER_EXPECT_ITEMS", items.to_string())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    println!("{report}");
    assert!(
        out.status.success() && report.contains("0 failure(s)"),
        "{report}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        site.log.lock().unwrap()
    );
    for png in ["inbox", "inbox-keyboard"] {
        let meta = std::fs::metadata(format!("{shots}/{png}.png")).unwrap();
        assert!(meta.len() > 1000, "{png}.png");
    }
}
