#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The `roster` binary end to end: sync and inventory on both backends, refusals of bad
//! configuration that write nothing, a `kill -9` mid-sync, and the demo server.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use roster_store::{InventoryFilter, Store};

fn roster() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_roster"));
    // Whole table lines unless a test asks for a width.
    c.env_remove("ROSTER_CONFIG")
        .env_remove("COLUMNS")
        .env("ROSTER_LOG", "warn");
    c
}

/// A GET with the signed-in session's cookie.
async fn signed_in_get(client: &reqwest::Client, url: String, session: &str) -> reqwest::Response {
    client
        .get(url)
        .header("cookie", session)
        .send()
        .await
        .unwrap()
}

fn run(dir: &Path, args: &[&str]) -> Output {
    roster().current_dir(dir).args(args).output().unwrap()
}

/// A fresh database URL per backend: a SQLite file, and PostgreSQL when the suite has it.
async fn database_urls(dir: &Path) -> Vec<String> {
    let mut urls = vec![format!(
        "sqlite://{}?mode=rwc",
        dir.join("roster.db").display()
    )];
    if let Some(pg) = roster_store::testing::fresh_postgres_database()
        .await
        .unwrap()
    {
        urls.push(pg);
    }
    urls
}

fn write_config(dir: &Path, db: &str, count: u64, extra: &str) -> PathBuf {
    let path = dir.join("roster.toml");
    std::fs::write(
        &path,
        format!(
            "[database]\nurl = \"{db}\"\n\n[[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = {count}\nseed = 5\n{extra}"
        ),
    )
    .unwrap();
    path
}

fn json_items(out: &Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[tokio::test]
async fn sync_then_identities_prints_every_record_and_resync_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    for db in database_urls(dir.path()).await {
        write_config(dir.path(), &db, 2000, "");
        let out = run(dir.path(), &["sync", "--format", "json"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["counts"]["new"], 2000);

        let items = json_items(&run(dir.path(), &["identities", "--format", "json"]));
        assert_eq!(items.len(), 2000, "{db}");
        let fields = [
            "id",
            "platform",
            "scope",
            "kind",
            "external_id",
            "name",
            "parent_id",
            "status",
            "created_at",
            "last_used_at",
            "usage",
            "expires_at",
            "privilege",
            "owner",
            "owner_source",
            "tier",
            "findings",
        ];
        for item in &items {
            for f in fields {
                assert!(item.get(f).is_some(), "{f} missing in {item}");
            }
        }
        // Credentials name their identity, and that identity is in the list.
        let ids: std::collections::HashSet<&str> =
            items.iter().map(|i| i["id"].as_str().unwrap()).collect();
        let with_parent: Vec<_> = items.iter().filter(|i| !i["parent_id"].is_null()).collect();
        assert!(!with_parent.is_empty());
        assert!(
            with_parent
                .iter()
                .all(|i| ids.contains(i["parent_id"].as_str().unwrap()))
        );
        // RFC 3339 UTC.
        let created = items.iter().find_map(|i| i["created_at"].as_str()).unwrap();
        assert!(
            created.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(created).is_ok(),
            "{created}"
        );
        // Findings carry rule, OWASP code, severity and message.
        let f = items
            .iter()
            .flat_map(|i| i["findings"].as_array().unwrap())
            .next()
            .unwrap();
        for k in ["rule", "owasp", "severity", "message"] {
            assert!(f.get(k).is_some());
        }

        let out = run(dir.path(), &["sync"]);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("0 new, 0 changed, 2000 unchanged, 0 gone"),
            "{text}"
        );

        // Filters and formats.
        let aws = json_items(&run(
            dir.path(),
            &["identities", "--platform", "aws", "--format", "json"],
        ));
        assert!(!aws.is_empty() && aws.len() < 2000 && aws.iter().all(|i| i["platform"] == "aws"));
        let csv = run(dir.path(), &["identities", "--format", "csv"]);
        assert_eq!(String::from_utf8_lossy(&csv.stdout).lines().count(), 2001);
        let table = run(dir.path(), &["identities", "--kind", "access_key"]);
        assert!(String::from_utf8_lossy(&table.stdout).contains("access_key"));
        // Riskiest first, fitted to the terminal's width (COLUMNS when not a terminal).
        let narrow = roster()
            .current_dir(dir.path())
            .env("COLUMNS", "80")
            .args(["identities"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&narrow.stdout);
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
        let rank = |t: &str| {
            ["critical", "high", "medium", "low"]
                .iter()
                .position(|x| *x == t)
        };
        let tiers: Vec<usize> = text
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().and_then(rank))
            .collect();
        assert!(
            tiers.len() > 100 && tiers.windows(2).all(|w| w[0] <= w[1]),
            "riskiest first"
        );

        // --as-of a year later: more is stale, nothing new was read.
        let now = json_items(&run(
            dir.path(),
            &["identities", "--stale", "--format", "json"],
        ))
        .len();
        let later = json_items(&run(
            dir.path(),
            &[
                "identities",
                "--stale",
                "--as-of",
                "2028-01-01T00:00:00Z",
                "--format",
                "json",
            ],
        ))
        .len();
        assert!(later > now, "stale now {now}, later {later}");
        let orphaned = json_items(&run(
            dir.path(),
            &["identities", "--orphaned", "--format", "json"],
        ));
        assert!(
            !orphaned.is_empty()
                && orphaned.iter().all(|i| i["owner"].is_null()
                    || i["findings"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|f| f["rule"] == "owner.departed"))
        );

        std::fs::remove_file(dir.path().join("roster.toml")).unwrap();
    }
}

#[test]
fn bad_configuration_is_refused_naming_the_key_and_writes_nothing() {
    let cases = [
        (
            "token = \"ghp_0123456789abcdefghij\"\n",
            "connectors[0].token",
        ),
        ("colour = \"blue\"\n", "connectors[0].colour"),
        ("count = \"lots\"\n", "count"),
        // A schedule `serve` could not run is refused by `sync` too, before anything is written.
        ("schedule = \"every tuesday\"\n", "connectors[0].schedule"),
        ("[server]\npublic_url = \"::::\"\n", "server.public_url"),
        (
            "[[campaigns]]\nname = \"q\"\nscope = \"teir=high\"\nfallback_reviewer = \"iam\"\n",
            "campaigns[0].scope",
        ),
        (
            "[scheduler]\nreminders = \"hourly\"\n",
            "scheduler.reminders",
        ),
        ("[server]\nmetrics_bind = \"9464\"\n", "server.metrics_bind"),
    ];
    for (extra, key) in cases {
        let dir = tempfile::tempdir().unwrap();
        let db = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("roster.db").display()
        );
        let config = write_config(dir.path(), &db, 10, "");
        let text = std::fs::read_to_string(&config)
            .unwrap()
            .replace("count = 10\n", "");
        let text = if key == "count" {
            format!("{text}{extra}")
        } else {
            format!("{text}count = 10\n{extra}")
        };
        std::fs::write(&config, text).unwrap();
        let out = run(dir.path(), &["sync"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(key), "expected {key} in: {stderr}");
        assert!(
            !stderr.contains("ghp_0123"),
            "the secret itself is never echoed: {stderr}"
        );
        assert!(
            !dir.path().join("roster.db").exists(),
            "nothing may be written"
        );
    }
    // Environment overrides go through the same checks, and take effect.
    let dir = tempfile::tempdir().unwrap();
    let out = roster()
        .current_dir(dir.path())
        .env("ROSTER_DATABASE__URL", "mysql://x/y")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("database.url"));
    let out = roster()
        .current_dir(dir.path())
        .env("ROSTER_SERVER__BND", "1")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("server.bnd"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let elsewhere = dir.path().join("elsewhere.db");
    let out = roster()
        .current_dir(dir.path())
        .env(
            "ROSTER_DATABASE__URL",
            format!("sqlite://{}?mode=rwc", elsewhere.display()),
        )
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(elsewhere.exists() && !dir.path().join("roster.db").exists());

    // A database URL that names no file, and a PostgreSQL port that refuses: named at once.
    let dir = tempfile::tempdir().unwrap();
    let out = roster()
        .current_dir(dir.path())
        .env("ROSTER_DATABASE__URL", "sqlite:")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("database.url") && stderr.contains("names no database file"),
        "{stderr}"
    );
    let out = roster()
        .current_dir(dir.path())
        .env(
            "ROSTER_DATABASE__URL",
            "postgres://roster@127.0.0.1:1/roster",
        )
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("127.0.0.1:1") && stderr.to_lowercase().contains("refused"),
        "{stderr}"
    );

    // Unknown top-level key, through the same path.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("roster.toml"), "[server]\nbnd = \"x\"\n").unwrap();
    let out = run(dir.path(), &["identities"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.bnd"));
    assert!(!dir.path().join("roster.db").exists());
}

#[tokio::test]
async fn kill_9_mid_sync_leaves_a_consistent_store_and_the_next_run_completes() {
    const N: u64 = 60_000;
    let dir = tempfile::tempdir().unwrap();
    for db in database_urls(dir.path()).await {
        write_config(dir.path(), &db, N, "page_size = 500\n");
        let mut child = roster()
            .current_dir(dir.path())
            .arg("sync")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let store = loop {
            // The database may not exist for a moment.
            if let Ok(s) = Store::connect(&db).await {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let started = Instant::now();
        loop {
            let n = store
                .inventory_count(&InventoryFilter::default())
                .await
                .unwrap_or(0);
            if n >= 5_000 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "sync never started writing"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let runs = store.recent_sync_runs(1).await.unwrap();
        assert_eq!(
            runs[0].status, "running",
            "{db}: the sync must have been killed mid-run"
        );
        let partial = store
            .inventory_count(&InventoryFilter::default())
            .await
            .unwrap();
        assert!(partial < N, "{db}: killed before it finished ({partial})");

        let out = run(dir.path(), &["sync"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let runs = store.recent_sync_runs(2).await.unwrap();
        assert_eq!(
            (runs[0].status.as_str(), runs[1].status.as_str()),
            ("ok", "aborted"),
            "{db}"
        );
        assert_eq!(
            store
                .inventory_count(&InventoryFilter::default())
                .await
                .unwrap(),
            N,
            "{db}"
        );
        assert_eq!(
            store
                .inventory_count(&InventoryFilter {
                    status: Some(roster_core::Status::Gone),
                    ..Default::default()
                })
                .await
                .unwrap(),
            0,
            "{db}: nothing marked gone"
        );
        if db.starts_with("sqlite") {
            use sea_orm::{ConnectionTrait, Statement};
            let row = store
                .connection()
                .query_one(Statement::from_string(
                    sea_orm::DbBackend::Sqlite,
                    "PRAGMA integrity_check",
                ))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(row.try_get_by_index::<String>(0).unwrap(), "ok");
        }
        // And a third run sees everything unchanged.
        let out = run(dir.path(), &["sync"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{N} unchanged")));
        std::fs::remove_file(dir.path().join("roster.toml")).unwrap();
    }
}

#[tokio::test]
async fn demo_serves_the_sample_behind_a_one_time_link() {
    let mut child = roster()
        .args(["demo", "--size", "300", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let link = loop {
        let line = lines.next().expect("demo exited early").unwrap();
        if let Some(i) = line.find("http://")
            && line.contains("/login/bootstrap?token=")
        {
            break line[i..].trim().to_owned();
        }
    };
    let base = link.split("/login").next().unwrap().to_owned();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let anon = client
        .get(format!("{base}/inventory"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    assert_eq!(
        client
            .get(format!("{base}/api/v1/identities"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    let login = client.get(&link).send().await.unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(
        client.get(&link).send().await.unwrap().status(),
        401,
        "the link is single use"
    );

    let page = signed_in_get(&client, format!("{base}/inventory?platform=aws"), &session).await;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("Sample data"), "the sample is labelled");
    assert!(
        html.contains("<td class=\"c-platform\" title=\"aws\">AWS</td>")
            && !html.contains("title=\"github\">"),
        "only AWS records, labelled in words"
    );

    // A role's trust policy, in words and as stored.
    let roles: serde_json::Value = signed_in_get(
        &client,
        format!("{base}/api/v1/identities?platform=aws&kind=role&limit=1"),
        &session,
    )
    .await
    .json()
    .await
    .unwrap();
    let role = roles["items"][0]["id"]
        .as_str()
        .expect("an AWS role in the demo");
    let page = signed_in_get(&client, format!("{base}/identities/{role}"), &session)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Who can assume it")
            && page.contains("(through <code>https://token.actions.githubusercontent.com</code>)")
            && page.contains("sts:AssumeRoleWithWebIdentity"),
        "{page}"
    );

    let api: serde_json::Value =
        signed_in_get(&client, format!("{base}/api/v1/identities"), &session)
            .await
            .json()
            .await
            .unwrap();
    assert_eq!(api["items"].as_array().unwrap().len(), 300);
    // The planted stories are there for a reviewer to find; the departed owner's through the
    // sample directory the demo imports.
    let found: std::collections::HashSet<&str> = api["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["findings"].as_array().unwrap())
        .filter_map(|f| f["rule"].as_str())
        .collect();
    for rule in [
        "owner.departed",
        "github.deploy_key.write",
        "aws.trust.no_sub",
        "github.app.all_repos_write",
    ] {
        assert!(found.contains(rule), "{rule} not in the demo: {found:?}");
    }
    // Most risky first: the same records, tiers never rising down the list.
    let by_risk: serde_json::Value = signed_in_get(
        &client,
        format!("{base}/api/v1/identities?sort=risk"),
        &session,
    )
    .await
    .json()
    .await
    .unwrap();
    let rank = |t: &serde_json::Value| match t.as_str().unwrap() {
        "critical" => 0,
        "high" => 1,
        "medium" => 2,
        _ => 3,
    };
    let ranks: Vec<i32> = by_risk["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| rank(&i["tier"]))
        .collect();
    assert_eq!(ranks.len(), 300);
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
    assert!(
        ranks.first() < ranks.last(),
        "the estate has more than one tier"
    );
    let ids = |v: &serde_json::Value| {
        let mut ids: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(&by_risk), ids(&api));
    for bad in [
        "sort=bogus",
        "sort=risk&after=nope",
        "sort=risk&after=high.zz",
    ] {
        assert_eq!(
            signed_in_get(&client, format!("{base}/api/v1/identities?{bad}"), &session)
                .await
                .status(),
            400,
            "{bad}"
        );
    }
    assert_eq!(
        signed_in_get(&client, format!("{base}/inventory?tier=bogus"), &session)
            .await
            .status(),
        400
    );
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn check_is_a_ci_gate_with_text_json_and_sarif() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    );
    write_config(dir.path(), &db, 1500, "");
    assert_eq!(run(dir.path(), &["sync"]).status.code(), Some(0));

    let out = run(
        dir.path(),
        &["check", "--fail-on", "high", "--format", "json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let failing = report["failing"].as_array().unwrap();
    assert!(
        !failing.is_empty(),
        "the sample estate has admin identities"
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        failing
            .iter()
            .all(|i| i["tier"] == "high" || i["tier"] == "critical")
    );
    // Every failing record says which findings produced its tier.
    assert!(failing.iter().all(|i| {
        i["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["severity"] == "high" || f["severity"] == "critical")
    }));
    assert!(
        report["policy_hash"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let evaluated = report["evaluated"].as_u64().unwrap();
    let by_tier: u64 = report["tiers"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(evaluated, by_tier);

    // The gate's exit code follows the report, whatever the threshold.
    for tier in ["critical", "high", "medium", "low"] {
        let out = run(
            dir.path(),
            &["check", "--fail-on", tier, "--format", "json"],
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let expected = if report["passed"] == true { 0 } else { 1 };
        assert_eq!(out.status.code(), Some(expected), "--fail-on {tier}");
    }
    let low = run(dir.path(), &["check", "--fail-on", "low"]);
    assert!(String::from_utf8_lossy(&low.stdout).contains(&format!("FAIL: {evaluated} record(s)")));

    let sarif = run(dir.path(), &["check", "--format", "sarif"]);
    assert_eq!(sarif.status.code(), Some(1));
    let sarif: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run0 = &sarif["runs"][0];
    let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = run0["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "privilege.admin" && r["level"] == "error")
    );
    for r in results {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(
            rules[idx],
            r["ruleId"].as_str().unwrap(),
            "ruleIndex points at its rule"
        );
    }

    // Microsoft's SARIF Multitool finds no schema errors (tests/run installs it).
    if let Ok(multitool) = std::env::var("ROSTER_SARIF_MULTITOOL") {
        let file = dir.path().join("check.sarif");
        std::fs::write(&file, serde_json::to_vec(&sarif).unwrap()).unwrap();
        let out = Command::new(multitool)
            .env("DOTNET_SYSTEM_GLOBALIZATION_INVARIANT", "1")
            .arg("validate")
            .arg(&file)
            .arg("--output")
            .arg(dir.path().join("validation.sarif"))
            .arg("--log")
            .arg("ForceOverwrite")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(!text.contains(": error "), "schema errors: {text}");
        let validation: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("validation.sarif")).unwrap())
                .unwrap();
        let errors = validation["runs"][0]["results"]
            .as_array()
            .map(|r| r.iter().filter(|x| x["level"] == "error").count())
            .unwrap_or(0);
        assert_eq!(errors, 0, "{text}");
    }

    // With an exception for every high finding the gate passes; once it has expired, it fails.
    let config = std::fs::read_to_string(dir.path().join("roster.toml")).unwrap();
    std::fs::write(
        dir.path().join("roster.toml"),
        format!("[policy]\nfile = \"policy.toml\"\n{config}"),
    )
    .unwrap();
    // The rules of the sample's high and critical findings (admin privilege, wildcard CI trust
    // on AWS roles, recent human sign-ins on AWS service users), read off the report.
    let high_rules: std::collections::BTreeSet<String> = failing
        .iter()
        .flat_map(|i| i["findings"].as_array().unwrap().iter())
        .filter(|f| f["severity"] == "high" || f["severity"] == "critical")
        .map(|f| f["rule"].as_str().unwrap().to_owned())
        .collect();
    assert!(high_rules.contains("privilege.admin"), "{high_rules:?}");
    let exception = |expires: &str| {
        high_rules
            .iter()
            .map(|rule| format!(
                "[[exceptions]]\nrule = \"{rule}\"\nname = \"*\"\nowner = \"iam@acme.example\"\nreason = \"sample estate\"\nexpires = {expires}\n"
            ))
            .collect::<String>()
    };
    std::fs::write(dir.path().join("policy.toml"), exception("2099-12-31")).unwrap();
    let out = run(
        dir.path(),
        &["check", "--fail-on", "high", "--format", "json"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["failing"].as_array().unwrap().is_empty());
    let items = json_items(&run(dir.path(), &["identities", "--format", "json"]));
    assert!(
        items
            .iter()
            .flat_map(|i| i["findings"].as_array().unwrap())
            .any(|f| f["exception"]["owner"] == "iam@acme.example")
    );
    std::fs::write(dir.path().join("policy.toml"), exception("\"2020-01-01\"")).unwrap();
    assert_eq!(
        run(dir.path(), &["check", "--fail-on", "high"])
            .status
            .code(),
        Some(1),
        "an expired exception stops applying"
    );
    std::fs::write(
        dir.path().join("policy.toml"),
        "[rules.\"privilege.adnim\"]\nenabled = false\n",
    )
    .unwrap();
    let out = run(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("privilege.adnim"));

    // A malformed policy: exit 2, naming the line.
    std::fs::write(
        dir.path().join("policy.toml"),
        "stale_days = 90\ngrace_days = \"soon\"\n",
    )
    .unwrap();
    let out = run(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("line 2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn orphaned_lists_exactly_what_has_no_owner_or_whose_owner_left() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    );
    write_config(dir.path(), &db, 2000, "");
    assert_eq!(run(dir.path(), &["sync"]).status.code(), Some(0));
    let all = json_items(&run(dir.path(), &["identities", "--format", "json"]));

    // Everyone is present except bob, who is marked inactive, and erin, who is missing from the
    // second import.
    let people = [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
        "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter",
        "yara",
    ];
    let csv = |skip: &str| {
        let mut s = String::from("id,email,name,active\n");
        for p in people.iter().filter(|p| **p != skip) {
            s += &format!("{p},{p}@acme.example,{p},{}\n", *p != "bob");
        }
        s
    };
    std::fs::write(dir.path().join("hr.csv"), csv("")).unwrap();
    let out = run(
        dir.path(),
        &[
            "people", "import", "hr.csv", "--format", "csv", "--source", "hr",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("20 added"));
    std::fs::write(dir.path().join("hr.csv"), csv("erin")).unwrap();
    let out = run(
        dir.path(),
        &["people", "import", "hr.csv", "--source", "hr"],
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 departed"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let departed = ["bob@acme.example", "erin@acme.example"];
    let mut expected: Vec<&str> = all
        .iter()
        .filter(|i| i["status"] == "active")
        .filter(|i| {
            // Identities and credentials alike: a credential has its identity's owner.
            i["owner"].is_null() || departed.contains(&i["owner"].as_str().unwrap_or(""))
        })
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    expected.sort_unstable();
    let orphaned = json_items(&run(
        dir.path(),
        &["identities", "--orphaned", "--format", "json"],
    ));
    let mut got: Vec<&str> = orphaned.iter().map(|i| i["id"].as_str().unwrap()).collect();
    got.sort_unstable();
    assert!(
        expected.len() > 50,
        "the estate should have orphans: {}",
        expected.len()
    );
    assert_eq!(got, expected);
    let departed_finding = orphaned
        .iter()
        .flat_map(|i| i["findings"].as_array().unwrap())
        .find(|f| f["rule"] == "owner.departed")
        .unwrap();
    assert!(
        departed_finding["message"]
            .as_str()
            .unwrap()
            .contains("has left the directory")
    );
    // A claim gives an owner to an orphan without one (audited), and it is no longer orphaned.
    let orphan = orphaned
        .iter()
        .find(|i| i["owner"].is_null() && i["class"] == "identity")
        .unwrap();
    let id = orphan["id"].as_str().unwrap();
    let out = run(dir.path(), &["claim", id, "--owner", "alice@acme.example"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let now_orphaned = json_items(&run(
        dir.path(),
        &["identities", "--orphaned", "--format", "json"],
    ));
    assert_eq!(now_orphaned.len(), orphaned.len() - 1);
    let all = json_items(&run(dir.path(), &["identities", "--format", "json"]));
    let claimed = all.iter().find(|i| i["id"] == id).unwrap();
    assert_eq!(claimed["owner"], "alice@acme.example");
    assert!(
        claimed["owner_source"]
            .as_str()
            .unwrap()
            .starts_with("claim:cli:")
    );
    // `--owner` finds it by its claimed owner too.
    let alices = json_items(&run(
        dir.path(),
        &[
            "identities",
            "--owner",
            "alice@acme.example",
            "--format",
            "json",
        ],
    ));
    assert!(alices.iter().any(|i| i["id"] == id));
    assert!(alices.iter().all(|i| i["owner"] == "alice@acme.example"));
    let out = run(dir.path(), &["audit", "verify"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("intact"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // A checkpoint kept outside the database: deleting the newest event leaves a chain that
    // verifies on its own, but not against the checkpoint.
    let out = run(dir.path(), &["audit", "checkpoint"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.path().join("checkpoint.json"), &out.stdout).unwrap();
    let against = |dir: &Path| run(dir, &["audit", "verify", "--checkpoint", "checkpoint.json"]);
    assert_eq!(against(dir.path()).status.code(), Some(0));
    let store = Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    ))
    .await
    .unwrap();
    // The database refuses it; someone with the owner's rights drops the guards first.
    assert!(
        sea_orm::ConnectionTrait::execute_unprepared(
            store.connection(),
            "DELETE FROM audit_events WHERE id = (SELECT MAX(id) FROM audit_events)",
        )
        .await
        .is_err()
    );
    roster_store::testing::drop_audit_guards(&store)
        .await
        .unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        store.connection(),
        "DELETE FROM audit_events WHERE id = (SELECT MAX(id) FROM audit_events)",
    )
    .await
    .unwrap();
    assert_eq!(run(dir.path(), &["audit", "verify"]).status.code(), Some(0));
    let out = against(dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("shortened"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // An empty import is refused rather than marking everyone departed.
    std::fs::write(dir.path().join("empty.csv"), "id\n").unwrap();
    let out = run(
        dir.path(),
        &["people", "import", "empty.csv", "--source", "hr"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing"));

    // An import that would mark most of a source departed is held back, changing nothing,
    // until it is confirmed; a few leavers are not a mass.
    let people = |n: usize| {
        let mut csv = String::from("id\n");
        for i in 0..n {
            csv.push_str(&format!("person{i}@acme.example\n"));
        }
        csv
    };
    let import = |file: &str, extra: &[&str]| {
        let mut args = vec!["people", "import", file, "--source", "staff"];
        args.extend_from_slice(extra);
        run(dir.path(), &args)
    };
    std::fs::write(dir.path().join("all.csv"), people(40)).unwrap();
    std::fs::write(dir.path().join("few.csv"), people(3)).unwrap();
    std::fs::write(dir.path().join("most.csv"), people(36)).unwrap();
    assert!(import("all.csv", &[]).status.success());
    let out = import("few.csv", &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("37 of the 40 active people of `staff`"),
        "{stderr}"
    );
    let out = import("most.csv", &[]);
    assert!(
        out.status.success(),
        "4 of 40 leave: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("4 departed"));
    // A larger share, set on the command line, lets it through too.
    let out = import("few.csv", &["--max-departure-percent", "95"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("33 departed"));
    assert!(import("most.csv", &[]).status.success());
    let out = import("few.csv", &["--allow-mass-departure"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("33 departed"));
}

/// `roster doctor` finds a stored tier that disagrees with a fresh evaluation, names it, and
/// repairs it; right after a clean sync it finds nothing.
#[tokio::test]
async fn doctor_finds_and_repairs_a_wrong_stored_tier() {
    let dir = tempfile::tempdir().unwrap();
    for db in database_urls(dir.path()).await {
        write_config(dir.path(), &db, 300, "");
        assert_eq!(run(dir.path(), &["sync"]).status.code(), Some(0));
        let out = run(dir.path(), &["doctor"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && text.contains(" 0 wrong"),
            "{db}: {text}"
        );

        let store = Store::connect(&db).await.unwrap();
        let high = json_items(&run(
            dir.path(),
            &["identities", "--tier", "high", "--format", "json"],
        ));
        let id = high[0]["id"].as_str().unwrap().to_owned();
        let numeric = id.parse::<roster_core::RecordId>().unwrap().0;
        sea_orm::ConnectionTrait::execute_unprepared(
            store.connection(),
            &format!("UPDATE records SET tier = 'low', finding_rules = '' WHERE id = {numeric}"),
        )
        .await
        .unwrap();
        let out = run(dir.path(), &["doctor"]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{db}: {text}");
        assert!(
            text.contains(" 1 wrong") && text.contains("stored low []"),
            "{db}: {text}"
        );
        let out = run(dir.path(), &["doctor", "--repair"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let out = run(dir.path(), &["doctor"]);
        assert!(out.status.success(), "{db}");
        let again = json_items(&run(
            dir.path(),
            &["identities", "--tier", "high", "--format", "json"],
        ));
        assert_eq!(
            again.len(),
            high.len(),
            "{db}: the repaired record is high again"
        );
        let out = run(dir.path(), &["audit", "export"]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("doctor.repair"));
        std::fs::remove_file(dir.path().join("roster.toml")).unwrap();
    }
}

/// A campaign's scope is parsed strictly: an unknown key or a bad flag is refused, never
/// ignored into "everything", and a scope that matches nothing launches nothing; the clean
/// twin launches.
#[tokio::test]
async fn a_campaign_scope_that_is_wrong_or_matches_nothing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    );
    write_config(dir.path(), &db, 200, "");
    assert_eq!(run(dir.path(), &["sync"]).status.code(), Some(0));
    let create = |scope: &str| {
        run(
            dir.path(),
            &[
                "campaign",
                "create",
                "--name",
                "q",
                "--scope",
                scope,
                "--fallback-reviewer",
                "iam@acme.example",
            ],
        )
    };
    for (scope, want) in [
        ("teir=high", "unknown field `teir`"),
        ("stale=maybe", "stale=maybe: expected 1 or 0"),
        (
            "owner=nobody@nowhere.example",
            "matches no identity or credential",
        ),
    ] {
        let out = create(scope);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{scope}: {stderr}");
        assert!(stderr.contains(want), "{scope}: {stderr}");
    }
    let listed = run(dir.path(), &["campaign", "list", "--format", "json"]);
    let campaigns: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(campaigns.is_empty(), "nothing launched: {campaigns:?}");
    let out = create("tier=high");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The read-only commands never make a database up: in an empty directory `identities` and
/// `check` name the missing file and create nothing; a CI gate on a database that never
/// completed a sync (or whose last one is too old) exits 2 instead of passing on no data;
/// `--as-of` takes a date and names the formats it takes.
#[test]
fn reads_refuse_a_missing_or_never_synced_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    );
    write_config(dir.path(), &db, 300, "");
    let out = run(dir.path(), &["identities"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no database at"));
    let out = run(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("roster.db").exists(), "nothing created");

    assert!(run(dir.path(), &["migrate"]).status.success());
    let out = run(dir.path(), &["check"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a gate on no data does not pass"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("never been synced"));

    assert_eq!(run(dir.path(), &["sync"]).status.code(), Some(0));
    let out = run(dir.path(), &["check", "--fail-on", "critical"]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "a real verdict now"
    );
    let out = run(dir.path(), &["check", "--max-sync-age-hours", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-sync-age-hours"));
    let out = run(
        dir.path(),
        &[
            "check",
            "--fail-on",
            "critical",
            "--max-sync-age-hours",
            "24",
        ],
    );
    assert!(matches!(out.status.code(), Some(0 | 1)), "the clean twin");

    let later = run(
        dir.path(),
        &[
            "identities",
            "--stale",
            "--as-of",
            "2028-01-01",
            "--format",
            "json",
        ],
    );
    assert!(
        later.status.success(),
        "{}",
        String::from_utf8_lossy(&later.stderr)
    );
    let out = run(dir.path(), &["identities", "--as-of", "next tuesday"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("RFC 3339"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A backup taken while a sync writes is one consistent snapshot: its audit chain verifies and
/// its records are whole; restored in place of another database, it reads back the same, and
/// the restore is audited. A backup never overwrites a file.
#[tokio::test]
async fn a_backup_under_a_running_sync_restores_whole() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    );
    write_config(dir.path(), &db, 2000, "");
    assert_eq!(run(dir.path(), &["sync"]).status.code(), Some(0));
    // A bigger sync runs while the backup is taken.
    write_config(dir.path(), &db, 40_000, "page_size = 500\n");
    let mut sync = roster()
        .current_dir(dir.path())
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    let out = run(dir.path(), &["backup", "--to", "copy.db"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("(chain intact)"), "{text}");
    sync.wait().unwrap();
    let backed_up: u64 = text.split_whitespace().nth(2).unwrap().parse().unwrap();
    let again = run(dir.path(), &["backup", "--to", "copy.db"]);
    assert_eq!(again.status.code(), Some(1), "never overwrites");

    // Restore into another directory's (existing) database: refused without --force.
    let other = tempfile::tempdir().unwrap();
    let other_db = format!(
        "sqlite://{}?mode=rwc",
        other.path().join("roster.db").display()
    );
    write_config(other.path(), &other_db, 10, "");
    assert_eq!(run(other.path(), &["sync"]).status.code(), Some(0));
    let copy = dir.path().join("copy.db").display().to_string();
    let out = run(other.path(), &["restore", &copy]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    let out = run(other.path(), &["restore", &copy, "--force"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored = json_items(&run(other.path(), &["identities", "--format", "json"]));
    assert_eq!(
        restored.len() as u64,
        backed_up,
        "the records the backup reported"
    );
    let out = run(other.path(), &["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let trail =
        String::from_utf8_lossy(&run(other.path(), &["audit", "export"]).stdout).to_string();
    assert!(trail.contains("store.restored"));
}

/// With a chain key the trail's links are HMACs, and checkpoints are signed with an Ed25519
/// key: a verify without the key is refused, an edited or unsigned checkpoint is refused, and
/// a literal key in the file is refused before anything is written.
#[tokio::test]
async fn a_keyed_trail_and_signed_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    );
    std::fs::write(
        dir.path().join("chain.key"),
        "k3y-0f-the-audit-chain-4b1e9d0c\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("signing.key"),
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60\n",
    )
    .unwrap();
    let keyed = "[audit]\nchain_key_file = \"chain.key\"\nsigning_key_file = \"signing.key\"\n";
    write_config(dir.path(), &db, 50, keyed);
    let out = run(dir.path(), &["sync"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(dir.path(), &["audit", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("(keyed)"), "{text}");

    let out = run(dir.path(), &["audit", "checkpoint"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checkpoint: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        checkpoint["signature"]
            .as_str()
            .is_some_and(|s| s.len() == 128)
    );
    assert!(
        checkpoint["hash"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    let verify_with = |c: &serde_json::Value| {
        std::fs::write(dir.path().join("cp.json"), c.to_string()).unwrap();
        run(dir.path(), &["audit", "verify", "--checkpoint", "cp.json"])
    };
    let out = verify_with(&checkpoint);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("signature verified"),
        "{text}"
    );
    // Edited (fewer events, as if taken before a deletion) or unsigned: refused.
    let mut edited = checkpoint.clone();
    edited["events"] = serde_json::json!(checkpoint["events"].as_u64().unwrap() - 1);
    let out = verify_with(&edited);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("signature does not verify"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut unsigned = checkpoint.clone();
    unsigned.as_object_mut().unwrap().remove("signature");
    let out = verify_with(&unsigned);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not signed"));

    // Without the key, the keyed trail cannot be verified, and says what is missing.
    write_config(dir.path(), &db, 50, "");
    let out = run(dir.path(), &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("audit.chain_key_env"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A key written into the file itself is refused, naming where it must go.
    write_config(
        dir.path(),
        &db,
        50,
        "[audit]\nchain_key = \"k3y-0f-the-audit-chain-4b1e9d0c\"\n",
    );
    let out = run(dir.path(), &["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("chain_key_file") && !stderr.contains("k3y-0f"),
        "{stderr}"
    );
}

/// A server starts by redoing the stored evaluations that fell due while none ran (here every
/// record's, after a policy change), not at its first five-minute tick.
#[tokio::test]
async fn serve_redoes_due_evaluations_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    );
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "").unwrap();
    write_config(
        dir.path(),
        &db,
        300,
        "\n[server]\nbind = \"127.0.0.1:0\"\n\n[policy]\nfile = \"policy.toml\"\n",
    );
    assert_eq!(run(dir.path(), &["sync"]).status.code(), Some(0));
    let store = Store::connect(&db).await.unwrap();
    let admin_rows = || async {
        let row = sea_orm::ConnectionTrait::query_one(
            store.connection(),
            sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT COUNT(*) AS n FROM records WHERE finding_rules LIKE '%privilege.admin%'",
            ),
        )
        .await
        .unwrap()
        .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    assert!(admin_rows().await > 0, "the sample has admin records");

    std::fs::write(&policy, "[rules.\"privilege.admin\"]\nenabled = false\n").unwrap();
    let mut server = roster()
        .current_dir(dir.path())
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut left = admin_rows().await;
    while left > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = admin_rows().await;
    }
    server.kill().unwrap();
    server.wait().unwrap();
    assert_eq!(
        left, 0,
        "stored evaluations still name the switched-off rule"
    );
}

#[test]
fn prune_keeps_what_retention_says_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    );
    write_config(
        dir.path(),
        &db,
        50,
        "\n[retention]\nrecord_history_days = 0\n",
    );
    assert_eq!(run(dir.path(), &["sync"]).status.code(), Some(0));
    let out = run(dir.path(), &["prune"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("pruned 0 record history rows (all kept)")
            && text.contains("sync run reports (before "),
        "{text}"
    );
    let trail = run(dir.path(), &["audit", "export"]);
    let trail = String::from_utf8_lossy(&trail.stdout).to_string();
    assert!(trail.contains("retention.pruned"), "{trail}");

    // A negative age is refused with the key's name, before anything is written.
    write_config(
        dir.path(),
        &db,
        50,
        "\n[retention]\nrecord_history_days = -1\n",
    );
    let out = run(dir.path(), &["prune"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("record_history_days"), "{err}");
}
