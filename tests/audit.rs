#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The audit trail from the outside: sign-ins through the bootstrap link and OpenID Connect,
//! failed ones, sign-outs and refusals recorded without any token or code; a claim whose event
//! cannot be written is not made; config and policy changes; the JSON-lines export and
//! `/api/v1/audit-events`; and the SIEM webhook delivering every event, in order, to a receiver
//! that fails twice, resuming after a restart.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use sha2::Sha256;
use support::*;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const SIEM_URL_VAR: &str = "ROSTER_TEST_SIEM_URL";
const SIEM_KEY_VAR: &str = "ROSTER_TEST_SIEM_KEY";
const SIEM_KEY: &str = "canary-siem-hmac-key";
const SIGNING_KEY_VAR: &str = "ROSTER_TEST_CHECKPOINT_KEY";
/// An Ed25519 seed (RFC 8032's first test vector).
const SIGNING_KEY: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const WRONG_TOKEN: &str = "canary0bootstrap0token0never0stored";

fn roster(args: &[&str], config: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env_remove("ROSTER_CONFIG")
        .output()
        .unwrap()
}

async fn query(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
}

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap();
}

/// GET `url` with the session cookie, as JSON.
async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
) -> T {
    http.get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `(id, actor, action, detail)` of every event, oldest first.
async fn events(db: &DatabaseConnection) -> Vec<(i64, String, String, String)> {
    query(
        db,
        "SELECT id, actor, action, detail FROM audit_events ORDER BY id",
    )
    .await
    .iter()
    .map(|r| {
        (
            r.try_get("", "id").unwrap(),
            r.try_get("", "actor").unwrap(),
            r.try_get("", "action").unwrap(),
            r.try_get("", "detail").unwrap(),
        )
    })
    .collect()
}

fn actions(evs: &[(i64, String, String, String)]) -> Vec<&str> {
    evs.iter().map(|e| e.2.as_str()).collect()
}

/// The ids the SIEM receiver accepted (2xx), in arrival order, each signature checked.
async fn accepted_ids(receiver: &MockServer) -> Vec<i64> {
    let mut ids = Vec::new();
    for r in receiver.received_requests().await.unwrap() {
        let ev: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(SIEM_KEY.as_bytes()).unwrap();
        mac.update(&r.body);
        let want: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            r.headers["x-roster-signature"].to_str().unwrap(),
            format!("sha256={want}")
        );
        // Each delivery carries a signed checkpoint of the trail up to its event.
        let checkpoint: roster_app::audit::Checkpoint =
            serde_json::from_str(r.headers["x-roster-checkpoint"].to_str().unwrap()).unwrap();
        assert_eq!(
            (checkpoint.id, checkpoint.hash.as_str()),
            (ev["id"].as_i64().unwrap(), ev["hash"].as_str().unwrap())
        );
        let seed: [u8; 32] = (0..32)
            .map(|i| u8::from_str_radix(&SIGNING_KEY[2 * i..2 * i + 2], 16).unwrap())
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        let key = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        checkpoint.verify_signature(&key).unwrap();
        ids.push(ev["id"].as_i64().unwrap());
    }
    ids
}

/// Waits (bounded) until the receiver has seen `id`.
async fn wait_delivered(receiver: &MockServer, id: i64) -> Vec<i64> {
    for _ in 0..600 {
        let ids = accepted_ids(receiver).await;
        if ids.contains(&id) {
            return ids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("event {id} never reached the SIEM receiver");
}

#[tokio::test]
async fn bootstrap_sign_ins_claims_config_changes_export_and_siem_delivery() {
    let receiver = MockServer::start().await;
    // Two failures first, then the receiver accepts.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202))
        .mount(&receiver)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("roster.toml");
    let db_url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    );
    let config_text = format!(
        "[server]\nbind = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
         [database]\nurl = \"{db_url}\"\n\
         [audit]\nwebhook_url_env = \"{SIEM_URL_VAR}\"\nwebhook_secret_env = \"{SIEM_KEY_VAR}\"\n\
         signing_key_env = \"{SIGNING_KEY_VAR}\"\n\
         [[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = 20\n"
    );
    std::fs::write(&config, &config_text).unwrap();

    // Config and policy hashes: recorded by the first start, not again while unchanged, again
    // once the file changes.
    assert!(roster(&["sync"], &config).status.success());
    assert!(roster(&["sync"], &config).status.success());
    let db = Database::connect(&db_url).await.unwrap();
    let evs = events(&db).await;
    let count =
        |evs: &[(i64, String, String, String)], a: &str| evs.iter().filter(|e| e.2 == a).count();
    assert_eq!(
        (count(&evs, "config.changed"), count(&evs, "policy.changed")),
        (1, 1),
        "{evs:?}"
    );
    std::fs::write(&config, format!("# edited\n{config_text}")).unwrap();
    assert!(roster(&["sync"], &config).status.success());
    let evs = events(&db).await;
    assert_eq!(count(&evs, "config.changed"), 2, "{evs:?}");
    assert_eq!(count(&evs, "policy.changed"), 1);
    let last_config = evs.iter().rev().find(|e| e.2 == "config.changed").unwrap();
    let detail: serde_json::Value = serde_json::from_str(&last_config.3).unwrap();
    assert!(detail["sha256"].as_str().unwrap().starts_with("sha256:"));
    assert_ne!(detail["sha256"], detail["previous_sha256"]);

    let siem_url = receiver.uri();
    let envs = [
        (SIEM_URL_VAR, siem_url.as_str()),
        (SIEM_KEY_VAR, SIEM_KEY),
        (SIGNING_KEY_VAR, SIGNING_KEY),
    ];
    let (server, link, _log) = start_roster_bootstrap(&config, &envs);
    let base = link.split("/login").next().unwrap().to_owned();
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // A wrong token, the right one, then the right one again.
    let wrong = http
        .get(format!("{base}/login/bootstrap?token={WRONG_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let ok = http.get(&link).send().await.unwrap();
    assert_eq!(ok.status(), 303);
    let cookie = ok.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        http.get(&link).send().await.unwrap().status(),
        401,
        "single use"
    );
    let evs = events(&db).await;
    let tail: Vec<&str> = actions(&evs).into_iter().rev().take(3).rev().collect();
    assert_eq!(
        tail,
        ["auth.sign_in_failed", "auth.sign_in", "auth.sign_in_failed"],
        "{evs:?}"
    );
    let signed_in = evs.iter().rev().find(|e| e.2 == "auth.sign_in").unwrap();
    assert_eq!(signed_in.1, "bootstrap");
    let failed = evs
        .iter()
        .rev()
        .find(|e| e.2 == "auth.sign_in_failed")
        .unwrap();
    assert_eq!(failed.1, "anonymous");
    let detail: serde_json::Value = serde_json::from_str(&failed.3).unwrap();
    assert_eq!(detail["client"], "127.0.0.1");

    // A claim whose audit event cannot be written is not made, and the request fails.
    let session: serde_json::Value =
        get_json(&http, &format!("{base}/api/v1/session"), &cookie).await;
    let csrf = session["csrf_token"].as_str().unwrap().to_owned();
    let listed: serde_json::Value =
        get_json(&http, &format!("{base}/api/v1/identities"), &cookie).await;
    let id = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let claim = || {
        http.post(format!("{base}/api/v1/identities/{id}/claim"))
            .header("cookie", &cookie)
            .header("X-CSRF-Token", &csrf)
            .form(&[("owner", "team-payments"), ("note", "audit test")])
            .send()
    };
    exec(
        &db,
        "CREATE TRIGGER audit_down BEFORE INSERT ON audit_events \
         BEGIN SELECT RAISE(ABORT, 'audit trail unavailable'); END",
    )
    .await;
    assert_eq!(claim().await.unwrap().status(), 500);
    let claims = |db: &DatabaseConnection| {
        let db = db.clone();
        async move {
            query(&db, "SELECT record_id FROM ownership_claims")
                .await
                .len()
        }
    };
    assert_eq!(claims(&db).await, 0, "no event, no claim");
    exec(&db, "DROP TRIGGER audit_down").await;
    assert_eq!(claim().await.unwrap().status(), 200);
    assert_eq!(claims(&db).await, 1);

    // The API's view of the trail, and a signed-out session.
    let api: Vec<serde_json::Value> = get_json(
        &http,
        &format!("{base}/api/v1/audit-events?after=0&limit=10000"),
        &cookie,
    )
    .await;
    assert_eq!(api.last().unwrap()["action"], "ownership.claim");
    assert_eq!(api.last().unwrap()["detail"]["owner"], "team-payments");
    let page: Vec<serde_json::Value> = http
        .get(format!(
            "{base}/api/v1/audit-events?after={}&limit=2",
            api[0]["id"]
        ))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page, api[1..3].to_vec(), "after and limit page the trail");
    let out = http
        .post(format!("{base}/logout"))
        .header("cookie", &cookie)
        .header("X-CSRF-Token", &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let evs = events(&db).await;
    let last = evs.last().unwrap();
    assert_eq!(
        (last.1.as_str(), last.2.as_str()),
        ("bootstrap", "auth.sign_out")
    );

    // The export prints the same events as JSON lines, and `--after` resumes.
    let out = roster(&["audit", "export"], &config);
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), evs.len());
    assert_eq!(lines[..api.len()], api[..]);
    for pair in lines.windows(2) {
        assert_eq!(pair[1]["prev_hash"], pair[0]["hash"], "chained");
    }
    let third = lines[2]["id"].to_string();
    let out = roster(
        &["audit", "export", "--after", &third, "--format", "jsonl"],
        &config,
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().lines().count(),
        lines.len() - 3
    );
    assert!(roster(&["audit", "verify"], &config).status.success());

    // Neither the bootstrap token, the wrong one, nor the signing key was stored anywhere.
    let everything = serde_json::to_string(&lines).unwrap();
    for secret in [token.as_str(), WRONG_TOKEN, SIEM_KEY] {
        assert!(!everything.contains(secret), "{secret} in the audit trail");
    }
    drop(db);
    let file = std::fs::read(dir.path().join("roster.db")).unwrap();
    let wal = std::fs::read(dir.path().join("roster.db-wal")).unwrap_or_default();
    for bytes in [&file, &wal] {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(&token) && !text.contains(WRONG_TOKEN),
            "a token in the database"
        );
    }

    // The SIEM got every event, in order, despite two failures.
    let last_id = lines.last().unwrap()["id"].as_i64().unwrap();
    let ids = wait_delivered(&receiver, last_id).await;
    let all: Vec<i64> = lines.iter().map(|l| l["id"].as_i64().unwrap()).collect();
    let first = all[0];
    assert_eq!(&ids[..3], &[first, first, first], "retried: {ids:?}");
    let mut accepted = ids[2..].to_vec();
    accepted.dedup();
    assert_eq!(accepted, all, "every event once, in order");

    // After a restart, delivery resumes after the cursor: nothing is sent twice.
    let db = Database::connect(&db_url).await.unwrap();
    for _ in 0..600 {
        let cursor: Vec<i64> = query(&db, "SELECT last_event_id FROM audit_deliveries")
            .await
            .iter()
            .map(|r| r.try_get("", "last_event_id").unwrap())
            .collect();
        if cursor == [last_id] {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(server);
    let (_server, link, _log) = restart_roster_signed_in(&config, &envs);
    let bad = link.replace("token=", "token=x");
    // A new client: the old one's pooled connections went with the old server.
    let http = reqwest::Client::new();
    assert_eq!(http.get(&bad).send().await.unwrap().status(), 401);
    let evs = events(&db).await;
    assert_eq!(evs.last().unwrap().2, "auth.sign_in_failed");
    let ids = wait_delivered(&receiver, evs.last().unwrap().0).await;
    let after_restart = &ids[ids.iter().position(|i| *i == last_id).unwrap() + 1..];
    // Someone had signed in: the restarted server printed no link, an admin asked the CLI
    // for one (audited), then the wrong token was refused.
    let new: Vec<(i64, &str)> = evs
        .iter()
        .filter(|e| e.0 > last_id)
        .map(|e| (e.0, e.2.as_str()))
        .collect();
    assert_eq!(
        new.iter().map(|e| e.1).collect::<Vec<_>>(),
        ["auth.sign_in_link_issued", "auth.sign_in_failed"]
    );
    assert_eq!(
        after_restart,
        new.iter().map(|e| e.0).collect::<Vec<_>>(),
        "{ids:?}"
    );
}

/// OIDC: the code and state never reach the trail; a replayed or forged callback is a recorded
/// failure; a role check refusing a signed-in owner is recorded.
#[tokio::test]
async fn oidc_sign_ins_failures_and_refusals_are_recorded_without_the_code() {
    let Some(site) = start_site(1, |_| async {}).await else {
        return;
    };
    let base = site.base.clone();
    let mut owner = Browser::new();
    let (callback, _) = owner
        .follow(&format!("{base}/login"), "owner", Some("/auth/callback"))
        .await;
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let state = callback
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(owner.get(&callback).await.status(), 200, "signed in");
    // The same callback again: the sign-in under way was used up.
    assert_eq!(owner.get(&callback).await.status(), 403);
    // A fresh sign-in whose state was tampered with.
    let mut forger = Browser::new();
    let (mut forged, _) = forger
        .follow(&format!("{base}/login"), "owner", Some("/auth/callback"))
        .await;
    let pairs: Vec<(String, String)> = forged
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                format!("{v}x")
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    assert_eq!(forger.get(&forged).await.status(), 403);

    // Signed in as an owner: refused the sync runs page and the audit API.
    let (status, _, _) = owner.fetch(&base, "/sync-runs").await;
    assert_eq!(status, 403);
    let (status, _, _) = owner.fetch(&base, "/api/v1/audit-events").await;
    assert_eq!(status, 403);
    // Anonymous: sent to sign in, not an event.
    assert_eq!(Browser::new().fetch(&base, "/sync-runs").await.0, 401);

    let db = Database::connect(&site.database_url()).await.unwrap();
    let evs = events(&db).await;
    let sign_ins: Vec<_> = evs.iter().filter(|e| e.2 == "auth.sign_in").collect();
    assert_eq!(sign_ins.len(), 1, "{evs:?}");
    assert_eq!(sign_ins[0].1, "sso:owner@acme.example");
    let detail: serde_json::Value = serde_json::from_str(&sign_ins[0].3).unwrap();
    assert_eq!(
        (detail["method"].as_str(), detail["role"].as_str()),
        (Some("oidc"), Some("owner"))
    );
    let failures: Vec<serde_json::Value> = evs
        .iter()
        .filter(|e| e.2 == "auth.sign_in_failed")
        .map(|e| serde_json::from_str(&e.3).unwrap())
        .collect();
    assert_eq!(failures.len(), 2, "{evs:?}");
    assert!(
        failures[0]["reason"]
            .as_str()
            .unwrap()
            .contains("no sign-in under way"),
        "{failures:?}"
    );
    assert!(
        failures[1]["reason"]
            .as_str()
            .unwrap()
            .contains("state does not match"),
        "{failures:?}"
    );
    let denied: Vec<_> = evs.iter().filter(|e| e.2 == "auth.access_denied").collect();
    assert_eq!(denied.len(), 2, "{evs:?}");
    assert!(denied.iter().all(|e| e.1 == "sso:owner@acme.example"));
    let targets: Vec<String> = query(
        &db,
        "SELECT target FROM audit_events WHERE action = 'auth.access_denied' ORDER BY id",
    )
    .await
    .iter()
    .map(|r| r.try_get("", "target").unwrap())
    .collect();
    assert_eq!(targets, ["GET /sync-runs", "GET /api/v1/audit-events"]);
    let all = format!("{evs:?}");
    assert!(!all.contains(&code), "the authorization code");
    assert!(!all.contains(&state), "the state");
    assert!(!all.contains(SECRET), "the client secret");
    drop(site);
}
