#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Access-certification campaigns end to end through the `roster` binary: launch over an AWS
//! estate in moto, decisions through the API, sign-off, the revocation carried out against moto
//! (dry run first), the evidence; acknowledged decisions surviving `kill -9`; and two servers on
//! one PostgreSQL launching each scheduled campaign once.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use roster_connector_aws::testing::{self, Moto};
use support::*;

const KEY_ID_ENV: &str = "ROSTER_TEST_AWS_KEY_ID";
const SECRET_ENV: &str = "ROSTER_TEST_AWS_SECRET";

fn roster(dir: &Path, envs: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .current_dir(dir)
        .env_remove("ROSTER_CONFIG")
        .envs(envs.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

/// A `roster serve` configuration on a free port over a synthetic estate of `count` records in
/// SQLite under `d`, with `extra` appended, synced once. Returns the port.
fn synthetic_site(d: &Path, count: u32, extra: &str) -> u16 {
    let port = free_port();
    std::fs::write(
        d.join("roster.toml"),
        format!(
            "[server]\nbind = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
             [database]\nurl = \"sqlite://{}?mode=rwc\"\n\
             [[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = {count}\n{extra}",
            d.join("roster.db").display()
        ),
    )
    .unwrap();
    assert!(roster(d, &[], &["sync"]).status.success());
    port
}

/// Posts a decision through the API; the status code.
async fn decide(b: &mut Browser, base: &str, csrf: &str, item: i64, form: &str) -> u16 {
    b.post(
        &format!("{base}/api/v1/reviews/{item}/decision"),
        Some(csrf),
        Some(form),
    )
    .await
    .as_u16()
}

/// Each of `user`'s access keys with its status, sorted by key id.
async fn key_status(moto: &Moto, key_id: &str, secret: &str, user: &str) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = moto
        .client(key_id, secret)
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .unwrap()
        .access_key_metadata()
        .iter()
        .map(|k| {
            (
                k.access_key_id().unwrap_or_default().to_owned(),
                k.status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn a_campaign_revokes_through_moto_and_its_evidence_lists_every_decision() {
    let Some(moto) = Moto::start(Some(3)) else {
        eprintln!("skipped: ROSTER_MOTO not set");
        return;
    };
    let (iam, admin) = testing::bootstrap(&moto).await.unwrap();
    testing::seed_estate(&iam, &moto).await.unwrap();
    let envs = [
        (KEY_ID_ENV, admin.id.as_str()),
        (SECRET_ENV, admin.secret.as_str()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    std::fs::write(
        d.join("roster.toml"),
        format!(
            r#"[server]
bind = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
[database]
url = "sqlite://{db}?mode=rwc"
[[connectors]]
name = "acme-aws"
kind = "aws"
accounts = [{{ id = "123456789012" }}]
endpoint_url = "{endpoint}"
access_key_id_env = "{KEY_ID_ENV}"
secret_access_key_env = "{SECRET_ENV}"
max_attempts = 2
initial_backoff_ms = 10
[connectors.remediation]
enabled = true
delete_after_days = 7
"#,
            db = d.join("roster.db").display(),
            endpoint = moto.endpoint,
        ),
    )
    .unwrap();
    let out = roster(d, &envs, &["sync"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A bad scope is refused before anything is written.
    let out = roster(
        d,
        &envs,
        &[
            "campaign",
            "create",
            "--name",
            "Bad",
            "--scope",
            "tier=urgent",
            "--fallback-reviewer",
            "iam@acme.example",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("unknown tier `urgent`"),
        "{}",
        text(&out)
    );

    let launched = json(&roster(
        d,
        &envs,
        &[
            "campaign",
            "create",
            "--name",
            "Q4 AWS keys",
            "--scope",
            "platform=aws&kind=access_key",
            "--fallback-reviewer",
            "iam@acme.example",
            "--format",
            "json",
        ],
    ));
    let campaign = launched["id"].as_i64().unwrap();
    let keys = json(&roster(
        d,
        &envs,
        &[
            "identities",
            "--platform",
            "aws",
            "--kind",
            "access_key",
            "--format",
            "json",
        ],
    ));
    assert_eq!(
        launched["items"].as_u64().unwrap() as usize,
        keys.as_array().unwrap().len(),
        "one item per access key"
    );

    let (server, base, mut admin_ui, csrf) =
        serve_with_bootstrap(&d.join("roster.toml"), &envs).await;
    let (_, _, body) = admin_ui
        .fetch(&base, &format!("/api/v1/campaigns/{campaign}"))
        .await;
    let evidence: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items = evidence["items"].as_array().unwrap();
    let etl = items
        .iter()
        .find(|i| i["name"].as_str().unwrap().contains("etl-bot"))
        .unwrap_or_else(|| panic!("no etl-bot key in {evidence}"));
    let other = items.iter().find(|i| i["item"] != etl["item"]).unwrap();
    let (etl_item, other_item) = (
        etl["item"].as_i64().unwrap(),
        other["item"].as_i64().unwrap(),
    );
    let etl_key = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == etl["record"])
        .unwrap()["external_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = key_status(&moto, &admin.id, &admin.secret, "etl-bot").await;
    assert!(
        before.iter().any(|(k, s)| *k == etl_key && s == "Active"),
        "{before:?}"
    );

    // Revoking needs a reason; keeping a high-tier item does too (the default rule).
    assert_eq!(
        decide(&mut admin_ui, &base, &csrf, etl_item, "decision=revoke").await,
        400
    );
    assert_eq!(
        decide(
            &mut admin_ui,
            &base,
            &csrf,
            etl_item,
            "decision=revoke&justification=unused+since+spring"
        )
        .await,
        200
    );
    assert_eq!(
        decide(
            &mut admin_ui,
            &base,
            &csrf,
            other_item,
            "decision=keep&justification=deploys+billing"
        )
        .await,
        200
    );
    // Before sign-off, remediation is refused.
    let out = roster(d, &envs, &["campaign", "remediate", &campaign.to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // With items pending, the close needs their number confirmed.
    let out = roster(d, &envs, &["campaign", "close", &campaign.to_string()]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("confirm closing with"),
        "{}",
        text(&out)
    );
    let pending = json(&roster(
        d,
        &envs,
        &[
            "campaign",
            "show",
            &campaign.to_string(),
            "--format",
            "json",
        ],
    ))["counts"]["pending"]
        .as_u64()
        .unwrap();
    let wrong = (pending + 1).to_string();
    let out = roster(
        d,
        &envs,
        &[
            "campaign",
            "close",
            &campaign.to_string(),
            "--confirm-unreviewed",
            &wrong,
        ],
    );
    assert!(
        !out.status.success(),
        "a wrong count is refused: {}",
        text(&out)
    );
    let out = roster(
        d,
        &envs,
        &[
            "campaign",
            "close",
            &campaign.to_string(),
            "--confirm-unreviewed",
            &pending.to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("1 remediation task(s)"),
        "{}",
        text(&out)
    );
    // Closed: decisions are refused.
    assert_eq!(
        decide(
            &mut admin_ui,
            &base,
            &csrf,
            other_item,
            "decision=revoke&justification=too+late"
        )
        .await,
        400
    );
    drop(server);

    // Dry run: the call is named, moto untouched.
    let out = roster(d, &envs, &["campaign", "remediate", &campaign.to_string()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("planned"), "{}", text(&out));
    assert!(text(&out).contains("iam:UpdateAccessKey"), "{}", text(&out));
    assert_eq!(
        key_status(&moto, &admin.id, &admin.secret, "etl-bot").await,
        before
    );
    let out = roster(
        d,
        &envs,
        &["campaign", "remediate", &campaign.to_string(), "--execute"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(" done: "), "{}", text(&out));
    // Exactly the revoked key was deactivated (the first stage; delete follows the grace).
    let after = key_status(&moto, &admin.id, &admin.secret, "etl-bot").await;
    for ((k, was), (_, now)) in before.iter().zip(&after) {
        let want = if *k == etl_key {
            "Inactive"
        } else {
            was.as_str()
        };
        assert_eq!(now, want, "{k}: {before:?} → {after:?}");
    }

    // The evidence: both decisions with who, when and why, the remediation result, the hash.
    let out = roster(
        d,
        &envs,
        &[
            "campaign",
            "export",
            &campaign.to_string(),
            "--format",
            "csv",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let csv = String::from_utf8_lossy(&out.stdout).to_string();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("campaign,item,record,"), "{csv}");
    let etl_row = rows
        .iter()
        .find(|r| r.contains(",revoke,") && r.contains("unused since spring"))
        .unwrap_or_else(|| panic!("{csv}"));
    assert!(etl_row.contains("bootstrap"), "the actor: {etl_row}");
    assert!(
        rows.iter()
            .any(|r| r.contains(",keep,") && r.contains("deploys billing")),
        "{csv}"
    );
    let report = json(&roster(
        d,
        &envs,
        &[
            "campaign",
            "export",
            &campaign.to_string(),
            "--format",
            "json",
        ],
    ));
    assert_eq!(report["status"], "closed");
    assert!(
        report["signed_off_by"]
            .as_str()
            .unwrap()
            .starts_with("cli:"),
        "{report}"
    );
    assert_eq!(report["remediation"][0]["status"], "done");
    assert_eq!(report["audit_hash_at_close"].as_str().unwrap().len(), 64);
    // The report's counts are the database's: one keep, one revoke carried out, the rest
    // unreviewed and escalated to the fallback reviewer (the escalate rule).
    let counts = &report["counts"];
    let n = |k: &str| counts[k].as_u64().unwrap();
    assert_eq!(
        (n("kept"), n("revoked"), n("remediated")),
        (1, 1, 1),
        "{counts}"
    );
    assert_eq!(n("unreviewed"), pending, "{counts}");
    assert_eq!(n("escalated"), pending, "{counts}");
    assert_eq!(n("items"), report["items"].as_array().unwrap().len() as u64);
    let store = roster_store::Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        d.join("roster.db").display()
    ))
    .await
    .unwrap();
    let db = store.item_counts(campaign).await.unwrap();
    assert_eq!(
        (db.decided, db.unreviewed),
        (n("kept") + n("revoked"), n("unreviewed"))
    );
    assert!(
        report["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["findings"].is_array() && i["privilege"].is_string()),
        "each item carries its snapshotted privilege and findings"
    );
    let out = roster(
        d,
        &envs,
        &[
            "campaign",
            "export",
            &campaign.to_string(),
            "--format",
            "html",
        ],
    );
    let html = String::from_utf8_lossy(&out.stdout);
    assert!(
        html.contains("Access review evidence: Q4 AWS keys"),
        "{html}"
    );
    assert!(html.contains("unused since spring"));

    let out = roster(d, &envs, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[tokio::test]
async fn decisions_acknowledged_before_kill_9_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synthetic_site(d, 300, "");
    let launched = json(&roster(
        d,
        &[],
        &[
            "campaign",
            "create",
            "--name",
            "Crash",
            "--fallback-reviewer",
            "iam@acme.example",
            "--keep-justification-from",
            "none",
            "--format",
            "json",
        ],
    ));
    let campaign = launched["id"].as_i64().unwrap();
    assert!(launched["items"].as_i64().unwrap() >= 200);

    let (mut server, base, mut ui, csrf) = serve_with_bootstrap(&d.join("roster.toml"), &[]).await;
    let (_, _, body) = ui
        .fetch(&base, &format!("/api/v1/campaigns/{campaign}"))
        .await;
    let evidence: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items: Vec<i64> = evidence["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"].as_i64().unwrap())
        .collect();

    // Decide concurrently; kill the server mid-stream; keep what was acknowledged.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for chunk in items.chunks(items.len().div_ceil(4)) {
        let mut b = ui.clone();
        let (base, csrf, tx) = (base.clone(), csrf.clone(), tx.clone());
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            for item in chunk {
                let form = format!("decision=keep&justification=item+{item}");
                match tokio::time::timeout(
                    Duration::from_secs(5),
                    b.try_post(
                        &format!("{base}/api/v1/reviews/{item}/decision"),
                        &csrf,
                        &form,
                    ),
                )
                .await
                {
                    Ok(Some(200)) => tx.send(item).unwrap(),
                    _ => return,
                }
            }
        }));
    }
    drop(tx);
    // Let some decisions land, then kill -9 while others are in flight.
    let mut acknowledged = Vec::new();
    while acknowledged.len() < 40 {
        acknowledged.push(rx.recv().await.expect("decisions stopped early"));
    }
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    while let Ok(item) = rx.try_recv() {
        acknowledged.push(item);
    }
    assert!(
        acknowledged.len() < items.len(),
        "the kill came too late to test anything"
    );

    let report = json(&roster(
        d,
        &[],
        &[
            "campaign",
            "export",
            &campaign.to_string(),
            "--format",
            "json",
        ],
    ));
    let decided: std::collections::HashSet<i64> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["state"] == "decided")
        .map(|i| i["item"].as_i64().unwrap())
        .collect();
    for item in &acknowledged {
        assert!(
            decided.contains(item),
            "acknowledged decision on item {item} was lost"
        );
    }
    // Each recorded decision kept its justification, and the audit chain holds.
    for i in report["items"].as_array().unwrap() {
        if i["state"] == "decided" {
            assert_eq!(
                i["decisions"][0]["justification"],
                format!("item {}", i["item"])
            );
        }
    }
    let out = roster(d, &[], &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Rewriting one decision's audit event behind Roster's back: verify names that event.
    let store = roster_store::Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        d.join("roster.db").display()
    ))
    .await
    .unwrap();
    let row = sea_orm::ConnectionTrait::query_one(
        store.connection(),
        sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT id FROM audit_events WHERE action = 'campaign.decision' ORDER BY id LIMIT 1 OFFSET 5",
        ),
    )
    .await
    .unwrap()
    .unwrap();
    let id: i64 = row.try_get("", "id").unwrap();
    // As someone with the table owner's rights: past the append-only triggers.
    roster_store::testing::drop_audit_guards(&store)
        .await
        .unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        store.connection(),
        &format!(
            "UPDATE audit_events SET detail = replace(detail, 'keep', 'revoke') WHERE id = {id}"
        ),
    )
    .await
    .unwrap();
    let out = roster(d, &[], &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("BROKEN at event {id}:")),
        "{}",
        text(&out)
    );
}

#[tokio::test]
async fn two_servers_on_one_postgres_launch_each_scheduled_campaign_once() {
    // Both servers also copy the audit trail to one SIEM receiver: each event arrives once.
    let siem = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&siem)
        .await;
    let siem_url = siem.uri();
    let Some(url) = roster_store::testing::fresh_postgres_database()
        .await
        .unwrap()
    else {
        eprintln!("skipped: ROSTER_TEST_POSTGRES_URL not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut servers = Vec::new();
    for name in ["a", "b"] {
        let port = free_port();
        let config = d.join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "[server]\nbind = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
                 [database]\nurl = \"{url}\"\n\
                 [[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = 20\n\
                 [[campaigns]]\nname = \"every-3s\"\nschedule = \"*/3 * * * * *\"\n\
                 fallback_reviewer = \"iam@acme.example\"\ndue_days = 1\n\
                 [audit]\nwebhook_url_env = \"ROSTER_TEST_SIEM_URL\"\n"
            ),
        )
        .unwrap();
        if name == "a" {
            assert!(
                roster(d, &[], &["sync", "--config", config.to_str().unwrap()])
                    .status
                    .success()
            );
        }
        servers.push(
            serve_with_bootstrap(&config, &[("ROSTER_TEST_SIEM_URL", siem_url.as_str())]).await,
        );
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    drop(servers);
    let delivered: Vec<String> = siem
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["x-roster-event-id"].to_str().unwrap().to_owned())
        .collect();
    let unique: std::collections::HashSet<&String> = delivered.iter().collect();
    assert!(delivered.len() >= 4, "events were delivered: {delivered:?}");
    assert_eq!(
        unique.len(),
        delivered.len(),
        "an event delivered twice: {delivered:?}"
    );

    let out = roster(
        d,
        &[],
        &[
            "campaign",
            "list",
            "--config",
            d.join("a.toml").to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let list = json(&out);
    let launches: Vec<chrono::DateTime<chrono::Utc>> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["launched_at"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(launches.len() >= 2, "the schedule fired: {list}");
    let mut sorted = launches.clone();
    sorted.sort();
    for pair in sorted.windows(2) {
        assert!(
            pair[1] - pair[0] >= chrono::Duration::milliseconds(1500),
            "two launches for one tick: {pair:?}"
        );
    }
}

#[tokio::test]
async fn reminders_reach_each_reviewer_once_then_escalate_when_overdue() {
    let Some(smtp) = start_smtp() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("roster.db");
    let port = synthetic_site(
        d,
        60,
        &format!(
            "[scheduler]\nreminders = \"*/1 * * * * *\"\n{}",
            smtp.config_section()
        ),
    );
    // Due in one day: the one-day reminder is due at once (the 7- and 3-day ones fall before
    // the launch and are skipped).
    let launched = json(&roster(
        d,
        &[],
        &[
            "campaign",
            "create",
            "--name",
            "Remind me",
            "--due-days",
            "1",
            "--fallback-reviewer",
            "iam@acme.example",
            "--format",
            "json",
        ],
    ));
    let campaign = launched["id"].as_i64().unwrap();
    let shown = json(&roster(
        d,
        &[],
        &[
            "campaign",
            "show",
            &campaign.to_string(),
            "--format",
            "json",
        ],
    ));
    let reviewers: Vec<String> = shown["pending_by_reviewer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reviewer"].as_str().unwrap().to_owned())
        .collect();
    assert!(!reviewers.is_empty());

    let mut server = serve_with_bootstrap(&d.join("roster.toml"), &[]).await;
    let wait_for = |want: usize| {
        let smtp = &smtp;
        async move {
            for _ in 0..100 {
                if smtp.messages().len() >= want {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    wait_for(reviewers.len()).await;
    // Several firings later, still one message each.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), reviewers.len(), "one reminder per reviewer");
    for r in &reviewers {
        let m = mails
            .iter()
            .find(|m| m.header("To") == Some(r.as_str()))
            .unwrap_or_else(|| panic!("no reminder to {r}"));
        let subject = m.header("Subject").unwrap();
        assert!(
            subject.contains("Remind me") && subject.contains("due in 1 day"),
            "{subject}"
        );
        assert!(
            m.body.contains(&format!("http://127.0.0.1:{port}/reviews")),
            "{}",
            m.body
        );
    }

    // IAM reminds one reviewer now from the campaign page: one more message, audited, and a
    // second press within the hour is refused.
    let (base, csrf) = (server.1.clone(), server.3.clone());
    let remind = format!("{base}/campaigns/{campaign}/remind");
    let body = format!("reviewer={}", reviewers[0]);
    assert_eq!(server.2.post(&remind, Some(&csrf), Some(&body)).await, 303);
    wait_for(reviewers.len() + 1).await;
    let manual: Vec<_> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.body.contains("IAM asks you"))
        .collect();
    assert_eq!(manual.len(), 1, "one reminder on demand");
    assert_eq!(manual[0].header("To"), Some(reviewers[0].as_str()));
    assert_eq!(server.2.post(&remind, Some(&csrf), Some(&body)).await, 409);

    // Overdue (the due date moved into the past behind the server's back): a daily reminder,
    // and the fallback reviewer hears about every other reviewer's overdue items.
    let store = roster_store::Store::connect(&format!("sqlite://{}?mode=rwc", db.display()))
        .await
        .unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        store.connection(),
        &format!(
            "UPDATE campaigns SET due_at = '{}' WHERE id = {campaign}",
            (chrono::Utc::now() - chrono::Duration::hours(1)).format("%Y-%m-%d %H:%M:%S%.6f+00:00")
        ),
    )
    .await
    .unwrap();
    let others = reviewers
        .iter()
        .filter(|r| *r != "iam@acme.example")
        .count();
    wait_for(2 * reviewers.len() + others + 1).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(server);
    let mails = smtp.messages();
    let overdue: Vec<_> = mails
        .iter()
        .filter(|m| m.header("Subject").unwrap().contains("OVERDUE"))
        .collect();
    assert_eq!(overdue.len(), reviewers.len(), "one overdue reminder each");
    let escalations: Vec<_> = mails
        .iter()
        .filter(|m| m.header("Subject").unwrap().contains("ESCALATION"))
        .collect();
    assert_eq!(
        escalations.len(),
        others,
        "one escalation per overdue reviewer"
    );
    assert!(
        escalations
            .iter()
            .all(|m| m.header("To") == Some("iam@acme.example"))
    );
    // Then escalation moved every waiting item to the fallback reviewer.
    let shown = json(&roster(
        d,
        &[],
        &[
            "campaign",
            "show",
            &campaign.to_string(),
            "--format",
            "json",
        ],
    ));
    let holders: Vec<&str> = shown["pending_by_reviewer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reviewer"].as_str().unwrap())
        .collect();
    assert_eq!(holders, ["iam@acme.example"], "{shown}");
    let out = roster(d, &[], &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[tokio::test]
async fn one_decision_covers_a_filtered_selection_of_the_inbox() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synthetic_site(d, 200, "");
    // The bootstrap admin is the fallback reviewer: what nobody owns lands in its inbox.
    let launched = json(&roster(
        d,
        &[],
        &[
            "campaign",
            "create",
            "--name",
            "Bulk",
            "--fallback-reviewer",
            "bootstrap",
            "--keep-justification-from",
            "none",
            "--format",
            "json",
        ],
    ));
    let campaign = launched["id"].as_i64().unwrap();
    let (_server, base, mut ui, csrf) = serve_with_bootstrap(&d.join("roster.toml"), &[]).await;
    let (_, _, body) = ui.fetch(&base, "/api/v1/reviews").await;
    let inbox: Vec<serde_json::Value> = serde_json::from_str(&body).unwrap();
    let low: Vec<i64> = inbox
        .iter()
        .filter(|i| i["tier"] == "medium")
        .map(|i| i["item"].as_i64().unwrap())
        .collect();
    assert!(!low.is_empty() && low.len() < inbox.len(), "a mixed inbox");

    // The filtered page shows only medium items (the fallback's inbox holds what nobody owns,
    // so nothing in it is low); "all shown" decides exactly those.
    let (_, _, page) = ui.fetch(&base, "/reviews?tier=medium").await;
    assert_eq!(page.matches("name=\"item\"").count(), low.len());
    let status = ui
        .post(
            &format!("{base}/reviews/decide"),
            Some(&csrf),
            Some("all=1&back=tier%3Dmedium&decision=keep&justification=medium+risk+sweep"),
        )
        .await;
    assert_eq!(status, 303);
    let report = json(&roster(
        d,
        &[],
        &[
            "campaign",
            "export",
            &campaign.to_string(),
            "--format",
            "json",
        ],
    ));
    let decided: std::collections::HashSet<i64> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["state"] == "decided")
        .map(|i| i["item"].as_i64().unwrap())
        .collect();
    assert_eq!(decided, low.iter().copied().collect());
}

/// Suggestions accepted in bulk: every waiting item at or below the policy's tier (medium by
/// default) gets its own suggested decision, with its reason as the justification and the rule
/// in the evidence; items above it, and items no rule suggests for, are left and counted.
#[tokio::test]
async fn suggestions_are_accepted_in_bulk_only_up_to_the_policy_tier() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Policy rules that suggest something for nearly every item, high and critical ones too.
    std::fs::write(
        d.join("policy.toml"),
        "[[suggestions]]\nid = \"revoke.long_unused\"\ndecision = \"revoke\"\nunused_days_at_least = 180\n\n\
         [[suggestions]]\nid = \"keep.known_access\"\ndecision = \"keep\"\nprivilege_at_most = \"admin\"\n",
    )
    .unwrap();
    synthetic_site(
        d,
        300,
        &format!("[policy]\nfile = \"{}\"\n", d.join("policy.toml").display()),
    );
    let launched = json(&roster(
        d,
        &[],
        &[
            "campaign",
            "create",
            "--name",
            "Suggested",
            "--fallback-reviewer",
            "bootstrap",
            "--format",
            "json",
        ],
    ));
    let campaign = launched["id"].as_i64().unwrap();
    let (_server, base, mut ui, csrf) = serve_with_bootstrap(&d.join("roster.toml"), &[]).await;
    let (_, _, page) = ui.fetch(&base, "/reviews").await;
    assert!(page.contains("Accept suggestions (up to medium)"), "{page}");
    assert!(
        page.contains("class=\"suggestion\""),
        "each row shows its suggestion"
    );
    let resp = ui
        .post_form(
            &format!("{base}/reviews/decide"),
            &csrf,
            "all=1&accept=1&back=",
        )
        .await;
    assert_eq!(resp.0, 303, "{}", resp.1);
    let report = json(&roster(
        d,
        &[],
        &[
            "campaign",
            "export",
            &campaign.to_string(),
            "--format",
            "json",
        ],
    ));
    let items = report["items"].as_array().unwrap();
    let accepted: Vec<&serde_json::Value> = items
        .iter()
        .filter(|i| {
            i["decisions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["suggestion_rule"].is_string())
        })
        .collect();
    assert!(!accepted.is_empty(), "some suggestions were accepted");
    for i in &accepted {
        let tier = i["tier"].as_str().unwrap();
        assert!(
            tier == "low" || tier == "medium",
            "accepted above the tier: {i}"
        );
        let d = &i["decisions"][0];
        assert!(
            d["justification"]
                .as_str()
                .unwrap()
                .starts_with("suggestion accepted: "),
            "{d}"
        );
        assert_eq!(i["state"], "decided");
    }
    let above_left = items
        .iter()
        .any(|i| (i["tier"] == "high" || i["tier"] == "critical") && i["state"] == "pending");
    assert!(above_left, "high and critical items wait for the reviewer");
    assert!(
        items
            .iter()
            .filter(|i| i["tier"] == "high" || i["tier"] == "critical")
            .all(|i| i["decisions"].as_array().unwrap().is_empty()),
        "nothing above the tier was decided in bulk"
    );
    let csv = String::from_utf8_lossy(
        &roster(
            d,
            &[],
            &[
                "campaign",
                "export",
                &campaign.to_string(),
                "--format",
                "csv",
            ],
        )
        .stdout,
    )
    .to_string();
    assert!(
        csv.lines().next().unwrap().ends_with(",suggestion_rule"),
        "{csv}"
    );
    // One at a time, a high or critical item's suggestion may be accepted (it is not a bulk
    // acceptance) when the reviewer names the decision they saw; another is refused.
    let mut offered = None;
    for tier in ["high", "critical"] {
        let (_, _, page) = ui.fetch(&base, &format!("/reviews?tier={tier}")).await;
        for row in page.split("<tr id=\"row-").skip(1) {
            let id: i64 = row.split('"').next().unwrap().parse().unwrap();
            let suggested = row
                .split("data-suggested=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("");
            if !suggested.is_empty() && offered.is_none() {
                offered = Some((id, suggested.to_owned()));
            }
        }
    }
    let (high, suggested) = offered.expect("a high or critical item with a suggestion");
    let other = if suggested == "keep" {
        "revoke"
    } else {
        "keep"
    };
    let accept = format!("{base}/api/v1/reviews/{high}/accept-suggestion");
    let wrong = ui
        .post_form(&accept, &csrf, &format!("expect={other}"))
        .await;
    assert_eq!(
        wrong.0, 409,
        "a suggestion the reviewer did not see: {}",
        wrong.1
    );
    let ok = ui
        .post_form(&accept, &csrf, &format!("expect={suggested}"))
        .await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    let d: serde_json::Value = serde_json::from_str(&ok.1).unwrap();
    assert_eq!(d["decision"], suggested.as_str());
    assert!(d["suggestion_rule"].is_string(), "{d}");
}

/// The JSON API against its own OpenAPI document: the served document is the one in `docs/`,
/// `openapi-spec-validator` accepts it, and schemathesis, with an admin API token over a live
/// server with a campaign under way, finds no 5xx, no undocumented status or content type, no
/// answer that breaks its schema and no route that ignores a missing token. Skips when
/// `ROSTER_OPENAPI_TOOLS` (a virtualenv with both; `tests/run` makes it) is unset.
#[tokio::test]
async fn the_api_answers_as_its_openapi_document_says() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synthetic_site(d, 300, "");
    json(&roster(
        d,
        &[],
        &[
            "campaign",
            "create",
            "--name",
            "Fuzzed",
            "--fallback-reviewer",
            "bootstrap",
            "--format",
            "json",
        ],
    ));
    let (_server, base, mut ui, csrf) = serve_with_bootstrap(&d.join("roster.toml"), &[]).await;

    // Public (it holds no data), and the copy in docs/ (a unit test keeps that one current).
    let doc = reqwest::get(format!("{base}/api/v1/openapi.json"))
        .await
        .unwrap();
    assert_eq!(doc.status(), 200);
    let doc = doc.text().await.unwrap();
    let committed =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json"))
            .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&doc).unwrap(),
        serde_json::from_str::<serde_json::Value>(&committed).unwrap()
    );

    let Some(tools) = std::env::var_os("ROSTER_OPENAPI_TOOLS") else {
        eprintln!("skipped: ROSTER_OPENAPI_TOOLS not set");
        return;
    };
    let tools = Path::new(&tools).join("bin");
    let spec = d.join("openapi.json");
    std::fs::write(&spec, &doc).unwrap();
    let valid = Command::new(tools.join("openapi-spec-validator"))
        .arg(&spec)
        .output()
        .unwrap();
    assert!(valid.status.success(), "{}", text(&valid));

    let (status, page) = ui
        .post_form(
            &format!("{base}/tokens"),
            &csrf,
            "name=schemathesis&role=admin&days=1",
        )
        .await;
    assert_eq!(status, 200);
    let token = page
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the new token, shown once")
        .to_owned();
    // A body is read as its Content-Type says: a bad form is refused as a form.
    let refused = reqwest::Client::new()
        .post(format!("{base}/api/v1/reviews/1/decision"))
        .header("Authorization", format!("Bearer {token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("decision=keep&next=soon")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let refusal: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(refusal["error"], "invalid");
    assert!(
        refusal["message"].as_str().unwrap().starts_with("the form"),
        "{refusal}"
    );

    let run = Command::new(tools.join("st"))
        .current_dir(d)
        .args([
            "--no-color",
            "run",
            &format!("{base}/api/v1/openapi.json"),
            "--url",
            &base,
            "-H",
            &format!("Authorization: Bearer {token}"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance,ignored_auth",
            "--max-examples",
            "30",
            // One worker: CPython 3.11's `ast` is not safe across threads, and hypothesis
            // parses in each ("AST constructor recursion depth mismatch").
            "--workers",
            "1",
            "--seed",
            "7",
        ])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", text(&run));
    let operations: usize = serde_json::from_str::<serde_json::Value>(&doc).unwrap()["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|methods| methods.as_object().unwrap().len())
        .sum();
    assert!(
        String::from_utf8_lossy(&run.stdout).contains(&format!("Tested: {operations}")),
        "every operation was exercised: {}",
        text(&run)
    );
}
