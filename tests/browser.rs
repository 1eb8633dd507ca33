#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The browser suite: tests/browser/suite.mjs drives Debian's Chromium with playwright-core
//! against `roster serve`, signing in through the real OpenID provider (see `support`). It checks
//! each role's pages, CSP and axe-core accessibility, and saves screenshots of the main pages to
//! `tests/browser/screenshots/`. Skips when tests/browser/setup.sh has not run
//! (`ROSTER_BROWSER_SUITE` unset); `tests/run` runs it.

mod support;

use std::process::Command;

use support::*;

#[tokio::test]
async fn admin_owner_and_auditor_in_a_real_browser() {
    let (Ok(suite), Ok(chromium)) = (
        std::env::var("ROSTER_BROWSER_SUITE"),
        std::env::var("ROSTER_CHROMIUM"),
    ) else {
        eprintln!("skipped: ROSTER_BROWSER_SUITE not set (eval \"$(tests/browser/setup.sh)\")");
        return;
    };
    // Two syncs, so the dashboard has a trend.
    let Some(site) = start_site(2, |_| async {}).await else {
        return;
    };
    let shots = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/browser/screenshots");
    let out = Command::new("node")
        .arg(&suite)
        .env("ROSTER_BASE", &site.base)
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
    ] {
        let meta = std::fs::metadata(format!("{shots}/{png}.png")).unwrap();
        assert!(meta.len() > 1000, "{png}.png");
    }
}
