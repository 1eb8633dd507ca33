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

/// haproxy (Debian's package; tests/run installs it and sets `ROSTER_HAPROXY`) on `port`,
/// round robin over `servers`, each checked on `/readyz` every 300 ms; every response says
/// which server answered (`X-Served-By`).
fn start_haproxy(haproxy: &str, dir: &Path, port: u16, servers: &[(&str, u16)]) -> Killed {
    let backends: String = servers
        .iter()
        .map(|(name, p)| {
            format!("    server {name} 127.0.0.1:{p} check inter 300ms fall 2 rise 1\n")
        })
        .collect();
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n    maxconn 512\n\
             defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n\
             \x20   timeout server 30s\n    retries 3\n    option redispatch 1\n\
             frontend web\n    bind 127.0.0.1:{port}\n    default_backend roster\n\
             backend roster\n    balance roundrobin\n    option httpchk\n\
             \x20   http-check send meth GET uri /readyz\n\
             \x20   http-response set-header X-Served-By %[srv_name]\n{backends}"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("haproxy.log")).unwrap();
    let child = Command::new(haproxy)
        .arg("-db")
        .arg("-f")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("haproxy");
    Killed(child)
}

fn served_by(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-served-by")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// When the `every-3s` definition was launched.
fn scheduled_launches(config: &Path) -> Vec<chrono::DateTime<chrono::Utc>> {
    json(&roster(
        config,
        &[],
        &["campaign", "list", "--format", "json"],
    ))
    .as_array()
    .unwrap()
    .iter()
    .filter(|c| c["name"].as_str().unwrap().starts_with("every-3s"))
    .map(|c| c["launched_at"].as_str().unwrap().parse().unwrap())
    .collect()
}

/// What a bulk decision came to.
#[derive(Debug)]
struct Bulk {
    items: Vec<i64>,
    /// The status, or none when nothing answered.
    status: Option<u16>,
    decided: Option<usize>,
    server: String,
    sent: Instant,
}

#[tokio::test]
async fn two_replicas_behind_haproxy_share_the_session_and_survive_a_sigkill() {
    let haproxy = match std::env::var("ROSTER_HAPROXY") {
        Ok(h) if !h.is_empty() => h,
        _ => {
            eprintln!("skipped: ROSTER_HAPROXY not set (tests/run installs haproxy)");
            return;
        }
    };
    let Some(script) = provider_script() else {
        return;
    };
    let Some(url) = roster_store::testing::fresh_postgres_database()
        .await
        .unwrap()
    else {
        eprintln!("skipped: ROSTER_TEST_POSTGRES_URL not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (op_port, lb_port) = (free_port(), free_port());
    let ports = [("a", free_port()), ("b", free_port())];
    let lb = format!("http://127.0.0.1:{lb_port}");
    let _provider = start_provider(&script, op_port, &format!("{lb}/auth/callback"));
    let policy = d.join("policy.toml");
    std::fs::write(
        &policy,
        "[[owners]]\nname = \"*\"\nowner = \"owner@acme.example\"\n",
    )
    .unwrap();
    let config = d.join("roster.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1:1\"\npublic_url = \"{lb}\"\n\
             [database]\nurl = \"{url}\"\n\
             [policy]\nfile = \"{}\"\n\
             [auth.oidc]\nissuer = \"http://127.0.0.1:{op_port}\"\nclient_id = \"roster\"\n\
             client_secret_env = \"{SECRET_VAR}\"\nadmin_groups = [\"iam-team\"]\n\
             [[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = 200\n\
             [[campaigns]]\nname = \"every-3s\"\nschedule = \"*/3 * * * * *\"\n\
             scope = \"platform=github\"\nfallback_reviewer = \"iam@acme.example\"\ndue_days = 1\n",
            policy.display()
        ),
    )
    .unwrap();
    let out = roster(&config, &[], &["sync"]);
    assert!(out.status.success(), "{}", text(&out));
    let launched = json(&roster(
        &config,
        &[],
        &[
            "campaign",
            "create",
            "--name",
            "Bulk",
            "--scope",
            "owner=owner@acme.example",
            "--fallback-reviewer",
            "iam@acme.example",
            "--format",
            "json",
        ],
    ));
    let campaign = launched["id"].as_i64().unwrap();
    let export = |config: &Path| {
        json(&roster(
            config,
            &[],
            &[
                "campaign",
                "export",
                &campaign.to_string(),
                "--format",
                "json",
            ],
        ))
    };
    let items: Vec<i64> = export(&config)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["item"].as_i64().unwrap())
        .collect();
    assert!(items.len() >= 150, "{} items", items.len());

    let mut replicas = Vec::new();
    for (_, port) in ports {
        let bind = format!("127.0.0.1:{port}");
        replicas.push(Serve::spawn(&config, &[("ROSTER_SERVER__BIND", &bind)]));
    }
    for r in &mut replicas {
        r.wait_serving(Duration::from_secs(60)).await;
    }
    let _haproxy = start_haproxy(&haproxy, d, lb_port, &ports);

    // Both replicas in rotation.
    let http = reqwest::Client::new();
    let start = Instant::now();
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "haproxy did not send to both replicas: {seen:?}\n{}",
            std::fs::read_to_string(d.join("haproxy.log")).unwrap_or_default()
        );
        if let Ok(resp) = http.get(format!("{lb}/readyz")).send().await
            && resp.status() == 200
        {
            seen.insert(served_by(&resp));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A person signs in through the provider and the balancer; the session holds on both.
    let (mut owner, csrf) = Browser::signed_in(&lb, "owner").await;
    let mut answered = std::collections::HashSet::new();
    for _ in 0..10 {
        let resp = owner
            .get(&reqwest::Url::parse(&format!("{lb}/api/v1/session")).unwrap())
            .await;
        assert_eq!(resp.status(), 200);
        answered.insert(served_by(&resp));
        let me: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(me["who"], "owner@acme.example");
        assert_eq!(me["csrf_token"], csrf.as_str());
    }
    assert_eq!(answered.len(), 2, "requests alternate: {answered:?}");

    // The schedule has fired before the kill.
    let start = Instant::now();
    while scheduled_launches(&config).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no scheduled launch"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Bulk decisions, five items each, two at a time, paced so that they outlast the kill of
    // replica a after the first few.
    const CHUNK: usize = 5;
    let chunks: Arc<Mutex<Vec<Vec<i64>>>> = Arc::new(Mutex::new(
        items.chunks(CHUNK).rev().map(<[i64]>::to_vec).collect(),
    ));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Bulk>();
    let mut workers = Vec::new();
    for _ in 0..2 {
        let (b, csrf, lb, chunks, tx) = (
            owner.clone(),
            csrf.clone(),
            lb.clone(),
            chunks.clone(),
            tx.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(80)).await;
                let Some(chunk) = chunks.lock().unwrap().pop() else {
                    return;
                };
                let form: String = chunk
                    .iter()
                    .map(|i| format!("item={i}&"))
                    .collect::<String>()
                    + "decision=keep&justification=kept+through+the+balancer&back=";
                let sent = Instant::now();
                let resp = tokio::time::timeout(
                    Duration::from_secs(10),
                    b.http
                        .post(format!("{lb}/reviews/decide"))
                        .header("cookie", b.cookie_header())
                        .header("X-CSRF-Token", &csrf)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(form)
                        .send(),
                )
                .await;
                let bulk = match resp {
                    Ok(Ok(r)) => Bulk {
                        items: chunk,
                        status: Some(r.status().as_u16()),
                        decided: r
                            .headers()
                            .get("location")
                            .and_then(|l| l.to_str().ok())
                            .and_then(|l| l.split("decided=").nth(1))
                            .and_then(|n| n.split('&').next())
                            .and_then(|n| n.parse().ok()),
                        server: served_by(&r),
                        sent,
                    },
                    _ => Bulk {
                        items: chunk,
                        status: None,
                        decided: None,
                        server: String::new(),
                        sent,
                    },
                };
                tx.send(bulk).unwrap();
            }
        }));
    }
    drop(tx);
    let mut results = Vec::new();
    while results
        .iter()
        .filter(|b: &&Bulk| b.status == Some(303))
        .count()
        < 4
    {
        results.push(rx.recv().await.expect("decisions stopped early"));
    }
    replicas[0].child.0.kill().unwrap(); // SIGKILL
    let killed_at = Instant::now();
    replicas[0].child.0.wait().unwrap();
    while let Some(b) = rx.recv().await {
        results.push(b);
    }
    for w in workers {
        w.await.unwrap();
    }
    let failed: Vec<&Bulk> = results.iter().filter(|b| b.status != Some(303)).collect();
    let after: Vec<&Bulk> = results
        .iter()
        .filter(|b| b.sent > killed_at + Duration::from_secs(1))
        .collect();
    assert!(
        results.len() == items.chunks(CHUNK).count() && after.len() >= 5,
        "the kill came too late to test anything: {results:?}"
    );
    // Only what was in flight on the killed replica may have failed; b serves the rest.
    assert!(failed.len() <= 2, "failed: {failed:?}");
    for b in &after {
        assert_eq!((b.status, b.server.as_str()), (Some(303), "b"), "{b:?}");
    }
    // Every acknowledged decision is in the database.
    let report = export(&config);
    let decided: std::collections::HashSet<i64> = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["state"] == "decided")
        .map(|i| i["item"].as_i64().unwrap())
        .collect();
    for b in results.iter().filter(|b| b.status == Some(303)) {
        assert_eq!(b.decided, Some(b.items.len()), "{b:?}");
        for item in &b.items {
            assert!(decided.contains(item), "acknowledged item {item} was lost");
        }
    }
    // The session holds on the survivor.
    let (status, me) = owner.session(&lb).await;
    assert_eq!(
        (status.as_u16(), me["who"].as_str()),
        (200, Some("owner@acme.example"))
    );

    // The scheduled campaign launched once per tick, before the kill and after it.
    let wait = (killed_at + Duration::from_secs(7)).saturating_duration_since(Instant::now());
    tokio::time::sleep(wait).await;
    let now = chrono::Utc::now();
    let since_kill = chrono::Duration::from_std(killed_at.elapsed()).unwrap();
    let launches = scheduled_launches(&config);
    let mut per_tick = std::collections::HashMap::new();
    for at in &launches {
        *per_tick.entry(at.timestamp() / 3).or_insert(0) += 1;
    }
    assert!(
        per_tick.values().all(|n| *n == 1),
        "a tick launched twice: {launches:?}"
    );
    let after_kill = launches.iter().filter(|at| **at > now - since_kill).count();
    assert!(
        after_kill >= 2 && launches.len() > after_kill,
        "launches before and after the kill: {launches:?}"
    );
    drop(replicas);
    let out = roster(&config, &[], &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
