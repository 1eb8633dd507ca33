#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Sign-in with OpenID Connect against a real provider: npm `oidc-provider` (pinned, installed
//! by tests/oidc/setup.sh, which prints `ROSTER_OIDC_PROVIDER`) on a free loopback port, and
//! `roster serve` with `[auth.oidc]`. The whole code flow with PKCE runs as a browser would, with
//! a cookie jar and redirects followed by hand. Skips when `ROSTER_OIDC_PROVIDER` is unset;
//! `tests/run` sets it.

mod support;

use std::process::Command;

use reqwest::Url;
use support::*;

#[tokio::test]
async fn sign_in_with_openid_connect_roles_logout_csrf_and_rate_limit() {
    let Some(script) = provider_script() else {
        return;
    };
    let (op_port, rp_port) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{op_port}");
    let base = format!("http://127.0.0.1:{rp_port}");
    let _provider = start_provider(&script, op_port, &format!("{base}/auth/callback"));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), rp_port, &issuer);
    let synced = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["sync", "--config"])
        .arg(&config)
        .env(SECRET_VAR, SECRET)
        .output()
        .unwrap();
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );
    let (mut roster, log) = start_roster(&config);

    // Ownership claims through the API: CSRF required; owners for themselves, admins for
    // anyone, auditors not at all.
    let mut admin = Browser::new();
    admin.sign_in(&base, "admin").await;
    let (_, me) = admin.session(&base).await;
    let admin_csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let listed: serde_json::Value = admin
        .get(&Url::parse(&format!("{base}/api/v1/identities")).unwrap())
        .await
        .json()
        .await
        .unwrap();
    let id = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let claim_url = format!("{base}/api/v1/identities/{id}/claim");
    assert_eq!(
        admin.post(&claim_url, None, Some("owner=team-x")).await,
        403,
        "no CSRF token"
    );
    assert_eq!(
        admin
            .post(&claim_url, Some(&admin_csrf), Some("owner=team-x"))
            .await,
        200
    );
    let mut auditor = Browser::new();
    auditor.sign_in(&base, "auditor").await;
    let (_, me) = auditor.session(&base).await;
    let t = me["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(
        auditor.post(&claim_url, Some(&t), Some("note=mine")).await,
        403
    );
    let mut owner = Browser::new();
    owner.sign_in(&base, "owner").await;
    let (_, me) = owner.session(&base).await;
    let t = me["csrf_token"].as_str().unwrap().to_owned();
    assert_eq!(
        owner
            .post(&claim_url, Some(&t), Some("owner=someone-else"))
            .await,
        403
    );
    assert_eq!(
        owner.post(&claim_url, Some(&t), Some("note=mine")).await,
        403,
        "team-x owns it now: an owner cannot take it over"
    );
    let unowned = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["owner"].is_null() && i["id"] != id.as_str())
        .expect("an identity without an owner")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        owner
            .post(
                &format!("{base}/api/v1/identities/{unowned}/claim"),
                Some(&t),
                Some("note=mine")
            )
            .await,
        200
    );
    let bad = format!("{base}/api/v1/identities/00000000000000ff/claim");
    assert_eq!(owner.post(&bad, Some(&t), Some("note=x")).await, 404);

    // An address the provider did not verify is not taken: mallory typed the owner's email and
    // signs in as her subject, so she owns nothing of theirs.
    let mut mallory = Browser::new();
    mallory.sign_in(&base, "mallory").await;
    let (status, me) = mallory.session(&base).await;
    assert_eq!(status, 200);
    assert_eq!(
        (me["who"].as_str(), me["role"].as_str()),
        (Some("mallory"), Some("owner")),
        "{me}"
    );

    // Each user through the full code flow, with the role from their groups.
    for (user, role) in [
        ("admin", "admin"),
        ("auditor", "auditor"),
        ("owner", "owner"),
    ] {
        let mut b = Browser::new();
        let (url, resp) = b.sign_in(&base, user).await;
        assert_eq!(url.path(), "/auth/callback", "{user}");
        assert_eq!(
            resp.status(),
            200,
            "{user}: {}\nserver log:\n{}",
            resp.text().await.unwrap(),
            log.lock().unwrap()
        );
        let set = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|h| h.to_str().unwrap().to_owned())
            .find(|c| c.starts_with("roster_session="))
            .expect("a session cookie");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        let (status, me) = b.session(&base).await;
        assert_eq!(status, 200, "{user}");
        assert_eq!(me["role"], role, "{user}: {me}");
        assert_eq!(me["who"], format!("{user}@acme.example"));
        let page = b
            .get(&Url::parse(&format!("{base}/inventory")).unwrap())
            .await;
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(
            html.contains(&format!("<span class=\"role\">{role}</span>")),
            "{html}"
        );
        let csrf = me["csrf_token"].as_str().unwrap().to_owned();
        assert!(
            html.contains(&format!("name=\"csrf\" value=\"{csrf}\"")),
            "the page's forms carry the token"
        );

        // Logout: refused without the token or with another; with it (form field or header),
        // the session is gone.
        assert_eq!(b.post(&format!("{base}/logout"), None, None).await, 403);
        assert_eq!(
            b.post(&format!("{base}/logout"), Some(&"0".repeat(64)), None)
                .await,
            403
        );
        assert_eq!(
            b.post(&format!("{base}/logout"), None, Some("csrf=nope"))
                .await,
            403
        );
        assert_eq!(b.session(&base).await.0, 200, "still signed in");
        let by_form = user == "owner";
        let status = if by_form {
            b.post(
                &format!("{base}/logout"),
                None,
                Some(&format!("csrf={csrf}")),
            )
            .await
        } else {
            b.post(&format!("{base}/logout"), Some(&csrf), None).await
        };
        assert_eq!(status, 303, "{user}");
        assert_eq!(b.session(&base).await.0, 401, "{user}: signed out");
    }

    // A callback whose state was tampered with is refused, and the sign-in it belonged to is
    // spent: the genuine callback is refused too.
    let mut b = Browser::new();
    let (callback, _) = b
        .follow(&format!("{base}/login"), "admin", Some("/auth/callback"))
        .await;
    let mut forged = callback.clone();
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "state" {
                "forged".into()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    assert_eq!(b.get(&forged).await.status(), 403);
    assert_eq!(b.get(&callback).await.status(), 403, "single use");
    assert_eq!(b.session(&base).await.0, 401);
    // A callback without the pre-login cookie (another browser) is refused.
    let mut b = Browser::new();
    let (callback, _) = b
        .follow(&format!("{base}/login"), "admin", Some("/auth/callback"))
        .await;
    assert_eq!(Browser::new().get(&callback).await.status(), 403);

    // The people seen through SSO are in the directory.
    let store = roster_store::Store::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    ))
    .await
    .unwrap();
    let people = store.directory().await.unwrap();
    for who in [
        "admin@acme.example",
        "auditor@acme.example",
        "owner@acme.example",
    ] {
        assert_eq!(
            people.status(who),
            Some(roster_core::directory::OwnerStatus::Present),
            "{who}"
        );
    }

    // Sign-in attempts are rate-limited per address.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut limited = false;
    for _ in 0..40 {
        let s = client
            .get(format!("{base}/login"))
            .send()
            .await
            .unwrap()
            .status();
        if s == 429 {
            limited = true;
            break;
        }
        assert_eq!(s, 303);
    }
    assert!(limited, "no 429 after 40 sign-in attempts");
    // Refused again: the streak is recorded once, not per request.
    for _ in 0..3 {
        let s = client.get(format!("{base}/login")).send().await.unwrap();
        assert_eq!(s.status(), 429);
    }
    let db = sea_orm::Database::connect(format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    ))
    .await
    .unwrap();
    let limited_events = sea_orm::ConnectionTrait::query_all(
        &db,
        sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT detail FROM audit_events WHERE action = 'auth.sign_in_failed'",
        ),
    )
    .await
    .unwrap()
    .iter()
    .filter(|r| {
        r.try_get::<String>("", "detail")
            .unwrap()
            .contains("\"reason\":\"rate limit\"")
    })
    .count();
    assert_eq!(limited_events, 1, "one rate-limit event per streak");

    let _ = roster.0.kill();
    let _ = roster.0.wait();
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("signed in with OpenID Connect"),
        "debug log captured: {log}"
    );
    assert!(
        !log.contains(SECRET),
        "the client secret appears in the log"
    );
}

#[tokio::test]
async fn serve_fails_naming_the_issuer_when_discovery_fails() {
    // No provider needed; kept with the others so it runs where they do.
    if provider_script().is_none() {
        return;
    }
    let dead = format!("http://127.0.0.1:{}", free_port());
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), free_port(), &dead);
    let out = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("ROSTER_CONFIG")
        .env("ROSTER_LOG", "warn")
        .env(SECRET_VAR, SECRET)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("discovery failed") && stderr.contains(&dead),
        "{stderr}"
    );
    assert!(!stderr.contains(SECRET));
}

/// Behind a reverse proxy listed in `[server] trusted_proxies`, each client has its own sign-in
/// limit (before, everyone behind the proxy shared one bucket); what a client itself puts in
/// `X-Forwarded-For` in front of the proxy's entry is not believed.
#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_sign_in_limit() {
    let Some(script) = provider_script() else {
        return;
    };
    let (op_port, rp_port) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{op_port}");
    let base = format!("http://127.0.0.1:{rp_port}");
    let _provider = start_provider(&script, op_port, &format!("{base}/auth/callback"));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), rp_port, &issuer);
    let (_roster, _log) = start_roster_with(
        &config,
        &[("ROSTER_SERVER__TRUSTED_PROXIES", "[\"127.0.0.1/32\"]")],
    );
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = |forwarded: &'static str| {
        let client = client.clone();
        let url = format!("{base}/login");
        async move {
            client
                .get(url)
                .header("X-Forwarded-For", forwarded)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let mut limited = false;
    for _ in 0..40 {
        // A spoofed first hop changes nothing: the proxy's entry is the client.
        if login("198.51.100.9, 203.0.113.1").await == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "no 429 after 40 sign-in attempts from one client");
    assert_eq!(
        login("203.0.113.1").await,
        429,
        "the same client, still limited"
    );
    assert_eq!(
        login("203.0.113.2").await,
        303,
        "another client behind the proxy"
    );
}

/// Sessions live in the database: a restart signs nobody out, and "sign out everywhere" ends
/// every session of the person in every browser (audited with how many), while a session's
/// own sign-out ends only it.
#[tokio::test]
async fn sessions_survive_a_restart_and_sign_out_everywhere_ends_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("roster.toml");
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    );
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
             [database]\nurl = \"{db}\"\n"
        ),
    )
    .unwrap();
    let (server, base, mut first, csrf) = serve_with_bootstrap(&config, &[]).await;
    drop(server);

    // Restarted twice on the same database: no admin link is printed after the first sign-in
    // (`restart_roster_signed_in` fails if one is), and the first browser is still signed in.
    let (server, _, _log) = restart_roster_signed_in(&config, &[]);
    drop(server);
    let (_server, link, _log) = restart_roster_signed_in(&config, &[]);
    // The same cookies on a fresh connection (the old one died with the old process).
    first.http = Browser::new().http;
    let (status, _) = first.session(&base).await;
    assert_eq!(status, 200, "a restart signs nobody out");
    // A second browser signs in as the same admin.
    let mut second = Browser::new();
    assert!(
        second
            .get(&Url::parse(&link).unwrap())
            .await
            .status()
            .is_redirection()
    );
    let (status, me) = second.session(&base).await;
    assert_eq!(status, 200);
    let second_csrf = me["csrf_token"].as_str().unwrap().to_owned();
    assert_ne!(second_csrf, csrf, "each session has its own CSRF token");
    // An admin ends every session of a person from the CLI: a third browser, signed in as
    // the same admin, is out at once.
    let mut third = Browser::new();
    let link3 = admin_sign_in_link(&config, &[]);
    assert!(
        third
            .get(&Url::parse(&link3).unwrap())
            .await
            .status()
            .is_redirection()
    );
    assert_eq!(third.session(&base).await.0, 200);
    let out = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["admin", "sign-out", "bootstrap", "--config"])
        .arg(&config)
        .env_remove("ROSTER_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 session(s) of bootstrap ended"));
    assert_eq!(third.session(&base).await.0, 401);
    assert_eq!(first.session(&base).await.0, 401);
    // Both sign in again for what follows.
    let mut first = Browser::new();
    assert!(
        first
            .get(&Url::parse(&admin_sign_in_link(&config, &[])).unwrap())
            .await
            .status()
            .is_redirection()
    );
    let csrf = first.session(&base).await.1["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut second = Browser::new();
    assert!(
        second
            .get(&Url::parse(&admin_sign_in_link(&config, &[])).unwrap())
            .await
            .status()
            .is_redirection()
    );
    assert_eq!(second.session(&base).await.0, 200);

    // Without its CSRF token, sign out everywhere is refused.
    assert_eq!(
        first
            .post(&format!("{base}/logout/everywhere"), None, None)
            .await,
        403
    );
    assert_eq!(
        first
            .post(&format!("{base}/logout/everywhere"), Some(&csrf), None)
            .await,
        303
    );
    assert_eq!(first.session(&base).await.0, 401);
    assert_eq!(
        second.session(&base).await.0,
        401,
        "every browser is signed out"
    );

    let store = roster_store::Store::connect(&db).await.unwrap();
    let events = store.audit_events_after(0, 1000).await.unwrap();
    let everywhere = events
        .iter()
        .find(|e| e.action == "auth.sign_out_everywhere")
        .expect("audited");
    assert!(
        everywhere.detail.contains("\"sessions\":2"),
        "{}",
        everywhere.detail
    );
}

/// A guessed API token is a failed sign-in: refused (401) and recorded while within the
/// per-client limit, then 429 with only the first refusal beyond it recorded, so a flood of
/// guesses can neither go on unchecked nor fill the audit trail.
#[tokio::test]
async fn guessed_api_tokens_are_limited_and_recorded_once_per_streak() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("roster.toml");
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    );
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
             [database]\nurl = \"{db}\"\n"
        ),
    )
    .unwrap();
    let (_server, base, _browser, _csrf) = serve_with_bootstrap(&config, &[]).await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for i in 0..30 {
        let resp = http
            .get(format!("{base}/api/v1/identities"))
            .header("Authorization", format!("Bearer rst_guess{i:04}"))
            .send()
            .await
            .unwrap();
        statuses.push(resp.status().as_u16());
    }
    // The bootstrap sign-in took one of the client's 20; the guesses get the rest (a slow
    // machine may see a token refill, one every 3 s, in between).
    let refused = statuses.iter().filter(|s| **s == 401).count();
    assert!(statuses[..19].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses[19], 429, "{statuses:?}");
    assert!(refused < 25, "{statuses:?}");
    let streaks = statuses
        .windows(2)
        .filter(|w| w[0] == 401 && w[1] == 429)
        .count();

    let store = roster_store::Store::connect(&db).await.unwrap();
    let failed: Vec<serde_json::Value> = store
        .audit_events_after(0, 1000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == "auth.sign_in_failed")
        .map(|e| serde_json::from_str(&e.detail).unwrap())
        .filter(|d: &serde_json::Value| d["method"] == "api_token")
        .collect();
    assert_eq!(
        failed.len(),
        refused + streaks,
        "each refusal, and the first of each limited streak: {statuses:?}"
    );
    assert_eq!(failed.last().unwrap()["reason"], "rate limit");
    assert!(
        failed.iter().all(|d| !d.to_string().contains("rst_guess")),
        "the guessed token is never recorded"
    );
}

/// An export streams the whole view, a page at a time: thousands of rows across several pages
/// arrive whole and in order, as CSV and as one JSON array, equal to the CLI's inventory.
#[tokio::test]
async fn an_export_streams_the_whole_view_across_pages() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("roster.toml");
    let db = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    );
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
             [database]\nurl = \"{db}\"\n\
             [[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = 30000\nseed = 3\n"
        ),
    )
    .unwrap();
    sync(&config);
    let cli = Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["identities", "--format", "json", "--config"])
        .arg(&config)
        .env_remove("ROSTER_CONFIG")
        .output()
        .unwrap();
    let expected: Vec<serde_json::Value> = serde_json::from_slice(&cli.stdout).unwrap();
    assert!(
        expected.len() > 25_000,
        "many export pages, more than socket buffers hold"
    );
    let (_server, base, mut admin, _csrf) = serve_with_bootstrap(&config, &[]).await;
    // Without an identity provider, /login explains how to sign in; an unknown URL is a real
    // 404, a page for a browser and JSON under /api/.
    let login = admin
        .get(&Url::parse(&format!("{base}/login")).unwrap())
        .await;
    assert_eq!(login.status(), 200);
    assert!(
        login
            .text()
            .await
            .unwrap()
            .contains("roster admin sign-in-link")
    );
    let (status, _, page) = admin.fetch(&base, "/no/such/page").await;
    assert_eq!(status, 404);
    assert!(page.contains("Back to the start page") && page.contains("/no/such/page"));
    let (status, headers, body) = admin.fetch(&base, "/api/v1/no-such-thing").await;
    assert_eq!(status, 404);
    assert!(
        headers["content-type"].to_str().unwrap().contains("json"),
        "{body}"
    );

    let json = admin
        .get(&Url::parse(&format!("{base}/inventory/export.json")).unwrap())
        .await;
    assert_eq!(json.status(), 200);
    let items: Vec<serde_json::Value> = json.json().await.unwrap();
    let ids = |v: &[serde_json::Value]| v.iter().map(|i| i["id"].clone()).collect::<Vec<_>>();
    assert_eq!(ids(&items), ids(&expected), "every row, in id order");

    let csv = admin
        .get(&Url::parse(&format!("{base}/inventory/export.csv?sort=risk")).unwrap())
        .await
        .text()
        .await
        .unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("id,platform,"));
    assert_eq!(rows.len(), expected.len() + 1, "one header, every row once");
    assert_eq!(
        rows.iter()
            .filter(|r| r.starts_with("id,platform,"))
            .count(),
        1,
        "the header is written once, not per page"
    );

    // One export per principal at a time: while one is held open (its body unread, so the
    // server's stream waits on the connection), a second by the same admin is refused.
    let export = format!("{base}/inventory/export.json");
    let held = admin
        .http
        .get(&export)
        .header("cookie", admin.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), 200);
    let again = admin.get(&Url::parse(&export).unwrap()).await;
    assert_eq!(again.status(), 429, "a second export of the same principal");
    assert!(again.text().await.unwrap().contains("previous export"));
    drop(held);
    // Once the client goes away the slot is free again.
    let mut freed = false;
    for _ in 0..50 {
        let resp = admin
            .get(&Url::parse(&format!("{export}?tier=critical")).unwrap())
            .await;
        if resp.status() == 200 {
            freed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        freed,
        "the slot comes back when the held export's client leaves"
    );
}

/// People are keyed on their identity-provider account (issuer + subject): once the owner has
/// signed in, another account handed the owner's address (verified: a recycled mailbox) signs
/// in as its subject, owning nothing of the owner's, and the trail records why.
#[tokio::test]
async fn a_recycled_verified_email_does_not_inherit_its_last_holder() {
    let Some(site) = start_site(1, |_| async {}).await else {
        return;
    };
    let base = site.base.clone();
    let mut owner = Browser::new();
    owner.sign_in(&base, "owner").await;
    assert_eq!(owner.session(&base).await.1["who"], "owner@acme.example");
    let mut newhire = Browser::new();
    newhire.sign_in(&base, "newhire").await;
    let (status, me) = newhire.session(&base).await;
    assert_eq!(status, 200);
    assert_eq!(me["who"], "newhire", "{me}");
    // The owner keeps being the owner.
    let mut again = Browser::new();
    again.sign_in(&base, "owner").await;
    assert_eq!(again.session(&base).await.1["who"], "owner@acme.example");
    let store = roster_store::Store::connect(&site.database_url())
        .await
        .unwrap();
    let taken = store
        .audit_events_after(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.action == "auth.email_taken")
        .expect("audited");
    assert!(
        taken.detail.contains("owner@acme.example"),
        "{}",
        taken.detail
    );
}

/// Two servers on one PostgreSQL database, as behind a load balancer: a session opened on one
/// is accepted by the other, and signing out on the second ends it on the first.
#[tokio::test]
async fn a_session_opened_on_one_replica_is_known_to_the_other() {
    let Some(pg) = roster_store::testing::fresh_postgres_database()
        .await
        .unwrap()
    else {
        eprintln!("skipped: ROSTER_TEST_POSTGRES_URL not set");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let replica = |name: &str| {
        let port = free_port();
        let config = dir.path().join(format!("{name}.toml"));
        std::fs::write(
            &config,
            format!(
                "[server]\nbind = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
                 [database]\nurl = \"{pg}\"\n"
            ),
        )
        .unwrap();
        config
    };
    let (a, b) = (replica("a"), replica("b"));
    let (_server_a, base_a, mut browser, csrf) = serve_with_bootstrap(&a, &[]).await;
    // The second replica starts after someone signed in: it prints no link.
    let (_server_b, link_b, _log) = restart_roster_signed_in(&b, &[]);
    let base_b = link_b.split("/login").next().unwrap().to_owned();
    let (status, me) = browser.session(&base_b).await;
    assert_eq!(status, 200, "the other replica knows the session");
    assert_eq!(me["csrf_token"], csrf.as_str());
    assert_eq!(
        browser
            .post(&format!("{base_b}/logout"), Some(&csrf), None)
            .await,
        303
    );
    assert_eq!(browser.session(&base_a).await.0, 401, "signed out on both");
}

/// A scrape's text: status and body.
async fn scrape(url: &str, token: Option<&str>) -> (u16, String, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, resp.text().await.unwrap())
}

/// The value of the sample whose line starts with `series` (name and labels as written).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// The sum of every sample of `name`.
fn family_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// An API token with `role`, made by the signed-in admin: its secret.
async fn api_token(admin: &mut Browser, base: &str, csrf: &str, name: &str, role: &str) -> String {
    let (status, page) = admin
        .post_form(
            &format!("{base}/tokens"),
            csrf,
            &format!("name={name}&role={role}&days=30"),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page.split("<code class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the new token, shown once")
        .to_owned()
}

/// `promtool check metrics` (Debian's `prometheus` package; `tests/run` installs it and sets
/// `ROSTER_PROMTOOL`) accepts `text`. Skipped without promtool, except under CI.
fn promtool_accepts(text: &str) {
    use std::io::Write;
    let promtool = std::env::var("ROSTER_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipped promtool check: {promtool}: {e} (apt-get install prometheus)");
            return;
        }
        Err(e) => panic!("{promtool}: {e}; tests/run installs it under CI"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `/metrics`: refused without a token on the main listener, an admin's or auditor's token
/// reads it, an owner's is forbidden; the `metrics_bind` listener needs none and serves nothing
/// else. A sync adds one to its counter, a campaign's items show as pending, requests are
/// counted by route pattern, and promtool accepts the whole text (SIEM gauges included).
#[tokio::test]
async fn metrics_need_a_token_or_their_own_listener_and_count_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (port, metrics_port) = (free_port(), free_port());
    let config = dir.path().join("roster.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1:{port}\"\npublic_url = \"http://127.0.0.1:{port}\"\n\
             metrics_bind = \"127.0.0.1:{metrics_port}\"\n\
             [database]\nurl = \"sqlite://{}?mode=rwc\"\n\
             [audit]\nwebhook_url_env = \"ROSTER_TEST_SIEM_URL\"\n\
             [[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = 60\n",
            dir.path().join("roster.db").display()
        ),
    )
    .unwrap();
    // A collector that refuses every connection: the trail waits, and the lag shows it.
    let envs = [("ROSTER_TEST_SIEM_URL", "http://127.0.0.1:1/collector")];
    sync(&config);
    let (_server, base, mut admin, csrf) = serve_with_bootstrap(&config, &envs).await;
    let main = format!("{base}/metrics");
    let open = format!("http://127.0.0.1:{metrics_port}/metrics");

    assert_eq!(scrape(&main, None).await.0, 401, "no token");
    assert_eq!(scrape(&main, Some("roster_guess")).await.0, 401);
    let auditor = api_token(&mut admin, &base, &csrf, "scraper", "auditor").await;
    let owner = api_token(&mut admin, &base, &csrf, "someone", "owner").await;
    assert_eq!(scrape(&main, Some(&owner)).await.0, 403, "an owner's token");
    let (status, content_type, text) = scrape(&main, Some(&auditor)).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert_eq!(
        admin.fetch(&base, "/metrics").await.0,
        200,
        "an admin's session"
    );

    let (status, _, open_text) = scrape(&open, None).await;
    assert_eq!(status, 200, "the metrics listener needs no token");
    assert_eq!(
        scrape(&format!("http://127.0.0.1:{metrics_port}/dashboard"), None)
            .await
            .0,
        404,
        "and serves nothing else"
    );

    let ok = "roster_sync_runs_total{connector=\"sample\",status=\"ok\"}";
    assert_eq!(sample(&open_text, ok), Some(1.0), "{open_text}");
    sync(&config);
    let (_, _, after) = scrape(&open, None).await;
    assert_eq!(sample(&after, ok), Some(2.0), "a sync adds one: {after}");
    assert!(family_sum(&after, "roster_records") >= 60.0, "{after}");
    assert_eq!(
        sample(&after, "roster_listings_not_seen{connector=\"sample\"}"),
        Some(0.0)
    );

    // A campaign over everything: its items wait, none overdue yet.
    assert_eq!(
        admin
            .post(
                &format!("{base}/campaigns"),
                Some(&csrf),
                Some("name=Metrics&scope=&due_days=14&fallback_reviewer=iam%40acme.example&close_out=escalate&keep_justification_from=high"),
            )
            .await,
        303
    );
    // The identity page by id: one series for its pattern, whatever the id.
    for id in ["0000000000000001", "0000000000000002"] {
        admin.fetch(&base, &format!("/identities/{id}")).await;
    }
    let (_, _, text) = scrape(&open, None).await;
    assert_eq!(sample(&text, "roster_campaigns_open"), Some(1.0), "{text}");
    assert!(
        family_sum(&text, "roster_campaign_items_pending") >= 60.0,
        "{text}"
    );
    assert_eq!(family_sum(&text, "roster_campaign_items_overdue"), 0.0);
    assert!(
        sample(
            &text,
            "roster_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"401\"}"
        ) >= Some(2.0),
        "{text}"
    );
    let identity_series = text
        .lines()
        .filter(|l| l.starts_with("roster_http_requests_total{") && l.contains("/identities/"))
        .collect::<Vec<_>>();
    assert!(
        !identity_series.is_empty()
            && identity_series
                .iter()
                .all(|l| l.contains("route=\"/identities/{id}\"")),
        "{identity_series:?}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("roster_http_request_duration_seconds_bucket{")),
        "{text}"
    );
    assert!(sample(&text, "roster_db_pool_max_connections") >= Some(1.0));
    assert!(
        sample(&text, "roster_siem_webhook_pending_events") >= Some(1.0),
        "the trail waits for the collector: {text}"
    );
    assert!(sample(&text, "roster_siem_webhook_lag_seconds").is_some());
    // The start-up evaluation refresh is a scheduled job's firing; it runs on its own task,
    // so wait for it to be counted rather than assume it was.
    let ran = "roster_scheduler_job_runs_total{job=\"evaluation-refresh\",outcome=\"ran\"}";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut text = text;
    while sample(&text, ran).is_none() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        text = scrape(&open, None).await.2;
    }
    assert_eq!(sample(&text, ran), Some(1.0), "{text}");
    promtool_accepts(&text);
}
