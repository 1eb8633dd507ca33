#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `kill -9` at any moment of a sync, aimed mostly at its end (the re-evaluation of what the run
//! changed, the summary): afterwards no stored evaluation may be wrong, whether the next sync or
//! the server's start-up refresh picks up after it. `roster doctor` compares every stored
//! evaluation with a fresh one; it also shows, right after each kill, what the dead run left.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use roster_store::Store;

/// Records per trial: enough for a sync of a second or so, small enough for 20 trials per
/// backend in CI.
const N: u64 = 8_000;
const TRIALS: u32 = 20;

fn roster() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_roster"));
    c.env_remove("ROSTER_CONFIG").env("ROSTER_LOG", "warn");
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    roster().current_dir(dir).args(args).output().unwrap()
}

fn write_config(dir: &Path, db: &str) {
    std::fs::write(
        dir.join("roster.toml"),
        format!(
            "[server]\nbind = \"127.0.0.1:0\"\n\n[database]\nurl = \"{db}\"\n\n[[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = {N}\nseed = 5\npage_size = 500\n"
        ),
    )
    .unwrap();
}

async fn fresh_url(dir: &Path, postgres: bool) -> String {
    if postgres {
        roster_store::testing::fresh_postgres_database()
            .await
            .unwrap()
            .unwrap()
    } else {
        format!("sqlite://{}?mode=rwc", dir.join("roster.db").display())
    }
}

/// `roster doctor --format json`: (wrong, due, dead runs), or None while nothing is there yet.
fn doctor(dir: &Path) -> Option<(u64, u64, u64)> {
    let out = run(dir, &["doctor", "--format", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let n = |k: &str| report[k].as_u64().unwrap();
    Some((n("evaluations_wrong"), n("evaluations_due"), n("dead_runs")))
}

#[derive(Debug, Clone, Copy)]
enum Recovery {
    NextSync,
    ServerStart,
}

struct Trial {
    killed_mid_run: bool,
    wrong_after_kill: u64,
}

/// Starts `roster sync` in `dir` and waits until its run is under way (its row is in the
/// database); returns the child and the store.
#[allow(clippy::zombie_processes)] // the caller waits for it
async fn start_sync(dir: &Path, db: &str) -> (std::process::Child, Store) {
    let child = roster()
        .current_dir(dir)
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        // The database, its tables, then the run's row: each may not exist for a moment.
        if let Ok(s) = Store::connect(db).await
            && let Ok(runs) = s.recent_sync_runs(1).await
            && !runs.is_empty()
        {
            return (child, s);
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{db}: the sync never began its run"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn trial(postgres: bool, kill_after: Duration, recovery: Recovery) -> Trial {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_url(dir.path(), postgres).await;
    write_config(dir.path(), &db);
    let (mut child, _) = start_sync(dir.path(), &db).await;
    tokio::time::sleep(kill_after).await;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let store = Store::connect(&db).await.ok();
    let mut killed_mid_run = false;
    if let Some(s) = &store
        && let Ok(runs) = s.recent_sync_runs(1).await
    {
        killed_mid_run = runs.first().is_some_and(|r| r.status == "running");
    }
    // What the dead run left, before anything picks up after it.
    let wrong_after_kill = doctor(dir.path()).map_or(0, |(wrong, _, _)| wrong);

    match recovery {
        Recovery::NextSync => {
            let out = run(dir.path(), &["sync"]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{db}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Recovery::ServerStart => {
            let log = std::fs::File::create(dir.path().join("serve.log")).unwrap();
            let mut server = roster()
                .current_dir(dir.path())
                .arg("serve")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            // The start-up refresh closes the dead run and redoes every evaluation.
            let started = Instant::now();
            loop {
                if let Some((0, 0, 0)) = doctor(dir.path()) {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "{db}: the server's start-up refresh never caught up: {:?}\nserver: {:?}\n{}",
                    doctor(dir.path()),
                    server.try_wait(),
                    std::fs::read_to_string(dir.path().join("serve.log")).unwrap_or_default()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            server.kill().unwrap();
            server.wait().unwrap();
        }
    }
    let out = run(dir.path(), &["doctor"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{db} after {recovery:?} (killed at {kill_after:?}): {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let (wrong, _, dead) = doctor(dir.path()).unwrap();
    assert_eq!((wrong, dead), (0, 0), "{db} after {recovery:?}");
    if let Recovery::NextSync = recovery {
        let s = Store::connect(&db).await.unwrap();
        let runs = s.recent_sync_runs(1).await.unwrap();
        assert_eq!(runs[0].status, "ok", "{db}");
    }
    Trial {
        killed_mid_run,
        wrong_after_kill,
    }
}

#[tokio::test]
async fn kill_9_at_any_moment_of_a_sync_leaves_no_stored_evaluation_wrong() {
    let mut backends = vec![false];
    if std::env::var("ROSTER_TEST_POSTGRES_URL").is_ok() {
        backends.push(true);
    }
    for postgres in backends {
        // How long a first sync's run lasts here, from its row appearing to the process's
        // exit: the kills are spread from 20 % of it to its end, so most land in its
        // last phases (the re-evaluation of what the run changed, the summary). The shorter of
        // two runs: the very first is slowed by cold caches, and kills timed by it landed after
        // the trials' (warm) runs had ended (7 of 20 mid-run once in CI).
        let mut whole = Duration::MAX;
        for _ in 0..2 {
            let dir = tempfile::tempdir().unwrap();
            let db = fresh_url(dir.path(), postgres).await;
            write_config(dir.path(), &db);
            let (mut child, _) = start_sync(dir.path(), &db).await;
            let started = Instant::now();
            assert!(child.wait().unwrap().success());
            whole = whole.min(started.elapsed());
        }

        let mut mid_run = 0;
        let mut left_wrong = 0;
        for i in 0..TRIALS {
            let share = 0.2 + 0.8 * f64::from(i) / f64::from(TRIALS - 1);
            let recovery = if i % 2 == 0 {
                Recovery::NextSync
            } else {
                Recovery::ServerStart
            };
            let t = trial(postgres, whole.mul_f64(share), recovery).await;
            mid_run += u32::from(t.killed_mid_run);
            left_wrong += u32::from(t.wrong_after_kill > 0);
        }
        eprintln!(
            "postgres={postgres}: a first sync's run {whole:?}; {mid_run}/{TRIALS} kills mid-run, \
             {left_wrong} of them left wrong evaluations until recovery"
        );
        assert!(
            mid_run >= TRIALS / 2,
            "most kills must land mid-run ({mid_run}/{TRIALS}): the trials test nothing otherwise"
        );
    }
}
