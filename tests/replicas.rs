#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Several `roster serve` on one database: two started at once on an empty PostgreSQL migrate
//! once and both serve; `/readyz` while migrations wait and while the database is away; a
//! graceful stop (SIGTERM) that lets a request in flight finish and gives the leases back; and
//! two replicas behind Debian's haproxy, one killed with SIGKILL mid-way through bulk decisions.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use roster_store::Store;
use sea_orm::{ConnectionTrait, Statement};
use support::*;

fn roster(config: &Path, envs: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .env_remove("ROSTER_CONFIG")
        .envs(envs.iter().copied())
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// A `roster serve` started without waiting for it: its stdout lines and stderr as they come.
struct Serve {
    child: Killed,
    lines: Arc<Mutex<Vec<String>>>,
    log: Arc<Mutex<String>>,
}

impl Serve {
    fn spawn(config: &Path, envs: &[(&str, &str)]) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
            .args(["serve", "--config"])
            .arg(config)
            .env_remove("ROSTER_CONFIG")
            .env("ROSTER_LOG", "info")
            .env(SECRET_VAR, SECRET)
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        Serve {
            child: Killed(child),
            lines,
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.0.id()
    }

    /// Waits until it has said where to sign in (it is then migrated, scheduling and serving).
    async fn wait_serving(&mut self, within: Duration) {
        let start = Instant::now();
        loop {
            if self.lines.lock().unwrap().iter().any(|l| {
                l.contains("Sign in at ")
                    || l.contains("/login/bootstrap?token=")
                    || l.contains("roster admin sign-in-link")
            }) {
                return;
            }
            if let Ok(Some(status)) = self.child.0.try_wait() {
                panic!(
                    "roster serve exited ({status}): {}",
                    self.log.lock().unwrap()
                );
            }
            assert!(
                start.elapsed() < within,
                "roster serve did not start within {within:?}: {}",
                self.log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The one-time admin link it printed, if any.
    fn bootstrap_link(&self) -> Option<String> {
        self.lines.lock().unwrap().iter().find_map(|l| {
            l.find("http://")
                .filter(|_| l.contains("/login/bootstrap?token="))
                .map(|i| l[i..].trim().to_owned())
        })
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig}");
    }

    /// Waits for the process to exit; its status.
    async fn exited(&mut self, within: Duration) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.0.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < within,
                "still running after {within:?}: {}",
                self.log.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn status_of(url: &str) -> Option<u16> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    http.get(url).send().await.ok().map(|r| r.status().as_u16())
}

/// Polls `url` until it answers `want`, for at most `within`.
async fn wait_status(url: &str, want: u16, within: Duration) {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < within {
        last = status_of(url).await;
        if last == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} answered {last:?}, not {want}, for {within:?}");
}

/// Rows of `sql` as JSON objects (every column read as text).
async fn rows(store: &Store, sql: &str, columns: &[&str]) -> Vec<Vec<String>> {
    let db = store.connection();
    db.query_all(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| {
                    r.try_get::<String>("", c)
                        .or_else(|_| r.try_get::<i64>("", c).map(|n| n.to_string()))
                        .or_else(|_| r.try_get::<i32>("", c).map(|n| n.to_string()))
                        .unwrap_or_else(|e| panic!("{c}: {e}"))
                })
                .collect()
        })
        .collect()
}

/// The job leases held by the process `pid`: as server (`PID-…`) or as syncing process
/// (`host:PID:…`).
async fn leases_of(store: &Store, pid: u32) -> Vec<String> {
    rows(
        store,
        "SELECT job, holder FROM job_leases",
        &["job", "holder"],
    )
    .await
    .into_iter()
    .filter(|r| r[1].starts_with(&format!("{pid}-")) || r[1].contains(&format!(":{pid}:")))
    .map(|r| r[0].clone())
    .collect()
}

fn postgres_config(dir: &Path, url: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("roster.toml");
    // The bind address is each replica's (ROSTER_SERVER__BIND); the file is the same for all,
    // as it would be in a Deployment.
    std::fs::write(
        &path,
        format!(
            "[server]\nbind = \"127.0.0.1:1\"\npublic_url = \"http://127.0.0.1:1\"\n\
             [database]\nurl = \"{url}\"\n\
             [[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = 20\n{extra}"
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn two_servers_started_at_once_on_an_empty_postgres_migrate_once_and_both_serve() {
    let Some(url) = roster_store::testing::fresh_postgres_database()
        .await
        .unwrap()
    else {
        eprintln!("skipped: ROSTER_TEST_POSTGRES_URL not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = postgres_config(dir.path(), &url, "");
    let ports = [free_port(), free_port()];
    let binds: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    // Both spawned before either is waited for.
    let mut servers: Vec<Serve> = binds
        .iter()
        .map(|b| Serve::spawn(&config, &[("ROSTER_SERVER__BIND", b)]))
        .collect();
    for s in &mut servers {
        s.wait_serving(Duration::from_secs(60)).await;
    }
    for p in ports {
        assert_eq!(
            status_of(&format!("http://127.0.0.1:{p}/readyz")).await,
            Some(200)
        );
    }
    let store = Store::connect(&url).await.unwrap();
    let counts = rows(
        &store,
        "SELECT count(*) AS n, count(DISTINCT version) AS d FROM seaql_migrations",
        &["n", "d"],
    )
    .await;
    let (n, d): (i64, i64) = (counts[0][0].parse().unwrap(), counts[0][1].parse().unwrap());
    assert_eq!(n, d, "each migration recorded once");
    assert!(n >= 27, "every migration applied: {n}");
    // One configuration, one policy: each hash recorded once, however many servers started.
    for action in ["config.changed", "policy.changed"] {
        let got = rows(
            &store,
            &format!("SELECT count(*) AS n FROM audit_events WHERE action = '{action}'"),
            &["n"],
        )
        .await;
        assert_eq!(got[0][0], "1", "{action}");
    }
    let out = roster(&config, &[], &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[tokio::test]
async fn readyz_is_503_while_migrations_wait_and_while_the_database_is_away() {
    let (Some(url), Ok(admin_url)) = (
        roster_store::testing::fresh_postgres_database()
            .await
            .unwrap(),
        std::env::var("ROSTER_TEST_POSTGRES_URL"),
    ) else {
        eprintln!("skipped: ROSTER_TEST_POSTGRES_URL not set");
        return;
    };
    let name = url.rsplit('/').next().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let config = postgres_config(dir.path(), &url, "");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");

    // Another server is migrating: this one waits on the migration lock.
    let lock_holder = Store::connect(&url).await.unwrap();
    let txn = sea_orm::TransactionTrait::begin(lock_holder.connection())
        .await
        .unwrap();
    txn.execute(Statement::from_string(
        sea_orm::DbBackend::Postgres,
        format!(
            "SELECT pg_advisory_xact_lock({})",
            roster_store::MIGRATION_LOCK
        ),
    ))
    .await
    .unwrap();
    let bind = format!("127.0.0.1:{port}");
    let mut server = Serve::spawn(&config, &[("ROSTER_SERVER__BIND", &bind)]);
    wait_status(&format!("{base}/healthz"), 200, Duration::from_secs(30)).await;
    for _ in 0..5 {
        assert_eq!(status_of(&format!("{base}/readyz")).await, Some(503));
        assert_eq!(status_of(&format!("{base}/healthz")).await, Some(200));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    txn.rollback().await.unwrap();
    drop(lock_holder);
    server.wait_serving(Duration::from_secs(60)).await;
    assert_eq!(status_of(&format!("{base}/readyz")).await, Some(200));

    // The database refuses connections and drops the server's: not ready, but alive.
    let admin = Store::connect(&admin_url).await.unwrap();
    let sql = |s: String| Statement::from_string(sea_orm::DbBackend::Postgres, s);
    admin
        .connection()
        .execute(sql(format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
        )))
        .await
        .unwrap();
    admin
        .connection()
        .execute(sql(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        )))
        .await
        .unwrap();
    wait_status(&format!("{base}/readyz"), 503, Duration::from_secs(15)).await;
    assert_eq!(status_of(&format!("{base}/healthz")).await, Some(200));
    admin
        .connection()
        .execute(sql(format!(
            "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
        )))
        .await
        .unwrap();
    wait_status(&format!("{base}/readyz"), 200, Duration::from_secs(15)).await;
    drop(server);
}

#[tokio::test]
async fn sigterm_lets_a_request_in_flight_finish_and_gives_back_the_leases() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A GitLab that accepts connections and never answers: the scheduled sync of `hang` holds
    // its leases and a running sync run until the stop cancels it.
    let hang = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_port = hang.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in hang.incoming() {
            held.push(stream);
        }
    });
    // A SIEM receiver that refuses connections: the delivery keeps retrying, holding its lease.
    let siem_url = format!("http://127.0.0.1:{}/", free_port());
    let port = free_port();
    // Once a minute, a few seconds from now: one firing during the test.
    let second = (chrono::Utc::now() + chrono::Duration::seconds(6)).format("%S");
    let config = d.join("roster.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
             shutdown_grace_seconds = 3\n\
             [database]\nurl = \"sqlite://{}?mode=rwc\"\n\
             [audit]\nwebhook_url_env = \"ROSTER_TEST_SIEM_URL\"\n\
             [[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = 40\n\
             [[connectors]]\nname = \"hang\"\nkind = \"gitlab\"\nurl = \"http://127.0.0.1:{hang_port}\"\n\
             groups = [\"acme\"]\ntoken_env = \"ROSTER_TEST_GITLAB_TOKEN\"\n\
             schedule = \"{second} * * * * *\"\n",
            d.join("roster.db").display()
        ),
    )
    .unwrap();
    let envs = [
        ("ROSTER_TEST_SIEM_URL", siem_url.as_str()),
        ("ROSTER_TEST_GITLAB_TOKEN", "glpat-test"),
    ];
    let out = roster(&config, &envs, &["sync", "--connector", "sample"]);
    assert!(out.status.success(), "{}", text(&out));
    let launched = json(&roster(
        &config,
        &envs,
        &[
            "campaign",
            "create",
            "--name",
            "Drain",
            "--fallback-reviewer",
            "iam@acme.example",
            "--format",
            "json",
        ],
    ));
    let campaign = launched["id"].as_i64().unwrap();

    let mut server = Serve::spawn(&config, &envs);
    server.wait_serving(Duration::from_secs(60)).await;
    let base = format!("http://127.0.0.1:{port}");
    let mut ui = Browser::new();
    let link = server
        .bootstrap_link()
        .expect("a first start prints the admin link");
    assert!(
        ui.get(&reqwest::Url::parse(&link).unwrap())
            .await
            .status()
            .is_redirection()
    );
    let (_, me) = ui.session(&base).await;
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let (_, _, body) = ui
        .fetch(&base, &format!("/api/v1/campaigns/{campaign}"))
        .await;
    let evidence: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items: Vec<i64> = evidence["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"].as_i64().unwrap())
        .take(10)
        .collect();
    assert_eq!(items.len(), 10);

    let store = Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        d.join("roster.db").display()
    ))
    .await
    .unwrap();
    // The scheduled sync is under way and the SIEM delivery holds its lease.
    let start = Instant::now();
    loop {
        let held = leases_of(&store, server.pid()).await;
        if ["sync:hang", "sync-run:hang", "siem-webhook"]
            .iter()
            .all(|j| held.iter().any(|h| h == j))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "leases held: {held:?}\n{}",
            server.log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(store.running_sync_runs().await.unwrap().len(), 1);

    // A bulk decision whose body is still arriving when SIGTERM comes.
    let form: String = items
        .iter()
        .map(|i| format!("item={i}&"))
        .collect::<String>()
        + "decision=keep&justification=decided+while+stopping&back=";
    let (first, rest) = form.split_at(form.len() / 2);
    let (first, rest) = (first.to_owned(), rest.to_owned());
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(first) }).chain(
        futures::stream::once(async move {
            let _ = wait.await;
            Ok(rest)
        }),
    );
    let request = ui
        .http
        .post(format!("{base}/reviews/decide"))
        .header("cookie", ui.cookie_header())
        .header("X-CSRF-Token", &csrf)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let request = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped_at = Instant::now();
    server.signal("TERM");
    tokio::time::sleep(Duration::from_millis(500)).await;
    go.send(()).unwrap();
    let resp = request.await.unwrap().unwrap();
    assert_eq!(resp.status(), 303, "{}", server.log.lock().unwrap());
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("decided=10"), "{location}");

    // It exits once the grace (3 s) is over, not when the hung sync's 30 s timeout would be.
    let status = server.exited(Duration::from_secs(15)).await;
    assert!(status.success(), "{status}: {}", server.log.lock().unwrap());
    assert!(stopped_at.elapsed() < Duration::from_secs(10));
    // Nothing it held is left but a finished tick's marker (the start-up refresh).
    let left = leases_of(&store, server.pid()).await;
    assert!(
        left.iter().all(|j| j == "evaluation-refresh"),
        "leases left: {left:?}\n{}",
        server.log.lock().unwrap()
    );
    assert!(store.running_sync_runs().await.unwrap().is_empty());
    let runs = rows(
        &store,
        "SELECT status FROM sync_runs WHERE connectors LIKE '%hang%'",
        &["status"],
    )
    .await;
    assert_eq!(runs, vec![vec!["aborted".to_owned()]]);
    let report = json(&roster(
        &config,
        &envs,
        &[
            "campaign",
            "export",
            &campaign.to_string(),
            "--format",
            "json",
        ],
    ));
    let decided = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["state"] == "decided")
        .count();
    assert_eq!(decided, 10);
    let out = roster(&config, &envs, &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
