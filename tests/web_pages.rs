#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The web app's pages as each role sees them, signed in through a real OpenID provider (see
//! `support`): the full route × role matrix, output escaping, CSRF on the page forms, owners'
//! narrower view, and the dashboard's plots. Skips when `ROSTER_OIDC_PROVIDER` is unset.

mod support;

use sea_orm::{ConnectionTrait, Database};
use support::*;

const XSS_NAME: &str = "<script>alert(1)</script>";
const OWNER: &str = "owner@acme.example";

/// Ids (as Roster prints them) of three identities: one renamed to a script tag, one owned by
/// the `owner` user, one owned by someone else. Set straight in the database, as a connector
/// could have delivered them.
async fn prepare(url: String) {
    let db = Database::connect(&url).await.unwrap();
    let ids: Vec<i64> = db
        .query_all(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM records WHERE class = 'identity' ORDER BY id LIMIT 3",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<i64>("", "id").unwrap())
        .collect();
    for (sql, id) in [
        (format!("UPDATE records SET name = '{XSS_NAME}', owner = NULL WHERE id = ?"), ids[0]),
        (format!("UPDATE records SET owner = '{OWNER}', owner_source = 'platform' WHERE id = ?"), ids[1]),
        ("UPDATE records SET owner = 'someone@acme.example', owner_source = 'platform' WHERE id = ?".to_owned(), ids[2]),
    ] {
        db.execute(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [id.into()],
        ))
        .await
        .unwrap();
    }
}

fn rid(id: i64) -> String {
    format!("{id:016x}")
}

/// The routes `web/src/http/mod.rs` declares, as `METHOD path` (rustfmt may break a
/// `.route(` call over several lines).
fn declared_routes() -> Vec<String> {
    let src =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/mod.rs")).unwrap();
    let compact: String = src.split_whitespace().collect::<Vec<_>>().join("");
    compact
        .split(".route(\"")
        .skip(1)
        .filter_map(|rest| {
            let (path, tail) = rest.split_once('"')?;
            let call = tail.split(".route(").next().unwrap_or(tail);
            let method = if call.contains("web::post()") {
                "POST"
            } else {
                "GET"
            };
            Some(format!("{method} {path}"))
        })
        .collect()
}

#[tokio::test]
async fn every_route_checks_the_role_escapes_output_and_needs_csrf() {
    let Some(site) = start_site(2, prepare).await else {
        return;
    };
    let base = site.base.clone();
    let db = Database::connect(&site.database_url()).await.unwrap();
    let ids: Vec<i64> = db
        .query_all(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM records WHERE class = 'identity' ORDER BY id LIMIT 3",
        ))
        .await
        .unwrap()
        .iter()
        .map(|r| r.try_get::<i64>("", "id").unwrap())
        .collect();
    let (xss, mine, theirs) = (rid(ids[0]), rid(ids[1]), rid(ids[2]));

    let mut anon = Browser::new();
    let (mut admin, admin_csrf) = Browser::signed_in(&base, "admin").await;
    let (mut auditor, auditor_csrf) = Browser::signed_in(&base, "auditor").await;
    let (mut owner, owner_csrf) = Browser::signed_in(&base, "owner").await;

    // A campaign over everything: the owner reviews what they own, the fallback the rest.
    assert_eq!(
        admin
            .post(
                &format!("{base}/campaigns"),
                Some(&admin_csrf),
                Some("name=Matrix&scope=&due_days=14&fallback_reviewer=iam%40acme.example&close_out=escalate&keep_justification_from=high"),
            )
            .await,
        303
    );
    let (_, _, body) = admin.fetch(&base, "/api/v1/campaigns").await;
    let campaigns: serde_json::Value = serde_json::from_str(&body).unwrap();
    let campaign = campaigns[0]["id"].as_i64().unwrap();
    let (_, _, body) = admin
        .fetch(&base, &format!("/api/v1/campaigns/{campaign}"))
        .await;
    let evidence: serde_json::Value = serde_json::from_str(&body).unwrap();
    let item_of = |record: &str| {
        evidence["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["record"] == record)
            .unwrap_or_else(|| panic!("no item for {record} in {evidence}"))["item"]
            .as_i64()
            .unwrap()
    };
    let (my_item, their_item) = (item_of(&mine), item_of(&theirs));
    assert_eq!(
        evidence["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["item"] == my_item)
            .unwrap()["reviewer"],
        OWNER
    );

    // GET routes: expected status for anonymous, admin, auditor, owner.
    let gets: Vec<(&str, String, [u16; 4])> = vec![
        ("/healthz", "/healthz".into(), [200, 200, 200, 200]),
        ("/readyz", "/readyz".into(), [200, 200, 200, 200]),
        // With a session too (an API token is the scraper's way: tests/web_auth.rs).
        ("/metrics", "/metrics".into(), [401, 200, 200, 403]),
        (
            "/static/roster.css",
            "/static/roster.css".into(),
            [200, 200, 200, 200],
        ),
        (
            "/static/reviews.js",
            "/static/reviews.js".into(),
            [200, 200, 200, 200],
        ),
        ("/", "/".into(), [303, 303, 303, 303]),
        ("/dashboard", "/dashboard".into(), [401, 200, 200, 303]),
        ("/inventory", "/inventory".into(), [401, 200, 200, 200]),
        (
            "/inventory/export.{format}",
            "/inventory/export.csv".into(),
            [401, 200, 200, 200],
        ),
        (
            "/inventory/export.{format}",
            "/inventory/export.json".into(),
            [401, 200, 200, 200],
        ),
        ("/my", "/my".into(), [401, 200, 200, 200]),
        (
            "/identities/{id}",
            format!("/identities/{theirs}"),
            [401, 200, 200, 403],
        ),
        (
            "/identities/{id}",
            format!("/identities/{mine}"),
            [401, 200, 200, 200],
        ),
        (
            "/identities/{id}",
            format!("/identities/{xss}"),
            [401, 200, 200, 200],
        ),
        (
            "/identities/{id}",
            "/identities/00000000000fffff".into(),
            [401, 404, 404, 404],
        ),
        ("/sync-runs", "/sync-runs".into(), [401, 200, 200, 403]),
        (
            "/audit",
            "/audit?action=campaign.".into(),
            [401, 200, 200, 403],
        ),
        (
            "/audit/export.csv",
            "/audit/export.csv?action=campaign.".into(),
            [401, 200, 200, 403],
        ),
        (
            "/api/v1/session",
            "/api/v1/session".into(),
            [401, 200, 200, 200],
        ),
        (
            "/api/v1/identities",
            "/api/v1/identities".into(),
            [401, 200, 200, 200],
        ),
        (
            "/api/v1/identities/{id}",
            format!("/api/v1/identities/{theirs}"),
            [401, 200, 200, 403],
        ),
        (
            "/api/v1/identities/{id}",
            format!("/api/v1/identities/{mine}"),
            [401, 200, 200, 200],
        ),
        (
            "/api/v1/identities/{id}",
            "/api/v1/identities/00000000000fffff".into(),
            [401, 404, 404, 404],
        ),
        ("/tokens", "/tokens".into(), [401, 200, 403, 403]),
        (
            "/api/v1/audit-events",
            "/api/v1/audit-events?after=0&limit=5".into(),
            [401, 200, 200, 403],
        ),
        ("/campaigns", "/campaigns".into(), [401, 200, 200, 403]),
        ("/exceptions", "/exceptions".into(), [401, 200, 200, 403]),
        (
            "/exceptions",
            "/exceptions?state=proposed".into(),
            [401, 200, 200, 403],
        ),
        (
            "/campaigns/{id}",
            format!("/campaigns/{campaign}"),
            [401, 200, 200, 403],
        ),
        (
            "/campaigns/{id}/{export}",
            format!("/campaigns/{campaign}/evidence.csv"),
            [401, 200, 200, 403],
        ),
        (
            "/campaigns/{id}/{export}",
            format!("/campaigns/{campaign}/evidence.html"),
            [401, 200, 200, 403],
        ),
        ("/reviews", "/reviews".into(), [401, 200, 403, 200]),
        (
            "/reviews/{item}",
            format!("/reviews/{my_item}"),
            [401, 200, 200, 200],
        ),
        (
            "/reviews/{item}",
            format!("/reviews/{their_item}"),
            [401, 200, 200, 403],
        ),
        (
            "/api/v1/campaigns",
            "/api/v1/campaigns".into(),
            [401, 200, 200, 403],
        ),
        (
            "/api/v1/campaigns/{id}",
            format!("/api/v1/campaigns/{campaign}"),
            [401, 200, 200, 403],
        ),
        (
            "/api/v1/reviews",
            "/api/v1/reviews".into(),
            [401, 200, 403, 200],
        ),
    ];
    let mut covered: Vec<String> = gets.iter().map(|(r, _, _)| format!("GET {r}")).collect();
    for (_, path, expected) in &gets {
        for (who, b, want) in [
            ("anonymous", &mut anon, expected[0]),
            ("admin", &mut admin, expected[1]),
            ("auditor", &mut auditor, expected[2]),
            ("owner", &mut owner, expected[3]),
        ] {
            let (status, headers, _) = b.fetch(&base, path).await;
            assert_eq!(status.as_u16(), want, "GET {path} as {who}");
            let csp = headers["content-security-policy"].to_str().unwrap();
            assert!(
                csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
                "{csp}"
            );
        }
    }

    // The audit log: a family filter keeps only its actions and the count says how many; the
    // CSV export is the same view; a bad time is refused, saying why.
    let (_, _, page) = auditor.fetch(&base, "/audit?action=campaign.").await;
    assert!(page.contains("campaign.launched"), "{page}");
    assert!(!page.contains(">sign_in<"), "only campaign actions");
    let (_, _, page) = auditor.fetch(&base, "/audit?actor=nobody%40nowhere").await;
    assert!(page.contains("0 event(s) match"), "{page}");
    let (_, _, csv) = auditor
        .fetch(&base, "/audit/export.csv?action=campaign.launched")
        .await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,at,actor,action,target,detail,hash");
    assert!(
        lines.len() >= 2 && lines[1..].iter().all(|l| l.contains(",campaign.launched,")),
        "{csv}"
    );
    let (status, _, body) = auditor.fetch(&base, "/audit?since=last+week").await;
    assert_eq!(status.as_u16(), 400, "{body}");

    // A current finding of each record to ask an exception for (not an ownership one, which a
    // claim below may settle).
    let mut rule_of = std::collections::HashMap::new();
    for id in [&xss, &mine, &theirs] {
        let (_, _, body) = admin
            .fetch(&base, &format!("/api/v1/identities/{id}"))
            .await;
        let one: serde_json::Value = serde_json::from_str(&body).unwrap();
        let rule = one["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap().to_owned())
            .find(|r| !r.starts_with("owner."))
            .unwrap_or_else(|| panic!("a finding to ask about on {id}: {one}"));
        rule_of.insert(id.clone(), rule);
    }
    let in_30 = (chrono::Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%d");
    let ask = |id: &str| format!("rule={}&reason=matrix&expires={in_30}", rule_of[id]);
    let (ask_theirs, ask_mine, ask_xss) = (ask(&theirs), ask(&mine), ask(&xss));

    // POST routes, each with its session's CSRF token; then without it.
    let bulk = format!("item={my_item}&decision=keep&justification=bulk");
    let posts: Vec<(&str, String, &str, [u16; 4])> = vec![
        (
            "/identities/{id}/claim",
            format!("/identities/{xss}/claim"),
            "owner=owner%40acme.example&note=form",
            [403, 303, 403, 303],
        ),
        (
            "/api/v1/identities/{id}/claim",
            format!("/api/v1/identities/{xss}/claim"),
            "owner=owner%40acme.example&note=api",
            [403, 200, 403, 200],
        ),
        // A dry run only (the synthetic connector offers `revoke`); admins only.
        (
            "/identities/{id}/remediate",
            format!("/identities/{mine}/remediate"),
            "action=revoke",
            [403, 303, 403, 403],
        ),
        // Exception requests: the record's owner or an admin. Request #1 is the admin's on
        // someone else's record; on the owner's own, the admin asked first, so the owner's
        // second request for the same finding is a conflict (409).
        (
            "/identities/{id}/exception-requests",
            format!("/identities/{theirs}/exception-requests"),
            ask_theirs.as_str(),
            [403, 303, 403, 403],
        ),
        (
            "/identities/{id}/exception-requests",
            format!("/identities/{mine}/exception-requests"),
            ask_mine.as_str(),
            [403, 303, 403, 409],
        ),
        // Claimed for the owner above: theirs now, so they may ask (after the admin: 409).
        (
            "/api/v1/identities/{id}/exception-requests",
            format!("/api/v1/identities/{xss}/exception-requests"),
            ask_xss.as_str(),
            [403, 201, 403, 409],
        ),
        (
            "/exceptions/{id}/decide",
            "/exceptions/1/decide".into(),
            "decision=approve",
            [403, 303, 403, 403],
        ),
        (
            "/tokens",
            "/tokens".into(),
            "name=matrix&role=auditor&days=30",
            [403, 200, 403, 403],
        ),
        (
            "/tokens/{id}/revoke",
            "/tokens/1/revoke".into(),
            "",
            [403, 303, 403, 403],
        ),
        (
            "/campaigns",
            "/campaigns".into(),
            "name=Second&due_days=7&fallback_reviewer=iam%40acme.example",
            [403, 303, 403, 403],
        ),
        // The admin decides the owner's item first: the owner then cannot replace an admin's
        // decision (422, the form with the reason).
        (
            "/reviews/{item}/decide",
            format!("/reviews/{my_item}/decide"),
            "decision=keep&justification=matrix",
            [403, 303, 403, 422],
        ),
        (
            "/reviews/{item}/decide",
            format!("/reviews/{their_item}/decide"),
            "decision=keep&justification=matrix",
            [403, 303, 403, 403],
        ),
        // Again the admin's decision stands: the owner's bulk decision over it is refused.
        (
            "/reviews/decide",
            "/reviews/decide".into(),
            &bulk,
            [403, 303, 403, 400],
        ),
        (
            // The owner's own decisions, before an admin's, are exercised in tests/campaigns.rs
            // and the browser suite; here the admin's stands.
            "/api/v1/reviews/{item}/decision",
            format!("/api/v1/reviews/{my_item}/decision"),
            "decision=revoke&justification=matrix",
            [403, 200, 403, 400],
        ),
        // An admin may accept the suggestion on anyone's item (200, or 400 when no rule
        // suggests a decision for it: checked below); an owner not on someone else's.
        (
            "/api/v1/reviews/{item}/accept-suggestion",
            format!("/api/v1/reviews/{their_item}/accept-suggestion"),
            "",
            [403, 200, 403, 403],
        ),
        (
            "/campaigns/{id}/sign-off",
            format!("/campaigns/{campaign}/sign-off"),
            "",
            [403, 303, 403, 403],
        ),
        (
            "/campaigns/{id}/remediate",
            format!("/campaigns/{campaign}/remediate"),
            "execute=0",
            [403, 303, 403, 403],
        ),
        // Signed off above: an admin's reminder now is refused as too late (409).
        (
            "/campaigns/{id}/remind",
            format!("/campaigns/{campaign}/remind"),
            "reviewer=nobody-waits",
            [403, 409, 403, 403],
        ),
        ("/logout", "/logout".into(), "", [403, 303, 303, 303]),
        (
            "/logout/everywhere",
            "/logout/everywhere".into(),
            "",
            [403, 303, 303, 303],
        ),
    ];
    covered.extend(posts.iter().map(|(r, _, _, _)| format!("POST {r}")));
    for (_, path, form, expected) in &posts {
        let url = format!("{base}{path}");
        // Closing with items pending confirms their number, as read now.
        let confirmed;
        let form = if path.ends_with("/sign-off") {
            let (_, _, body) = admin.fetch(&base, "/api/v1/campaigns").await;
            let all: serde_json::Value = serde_json::from_str(&body).unwrap();
            let pending = all
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == campaign)
                .unwrap()["counts"]["pending"]
                .as_u64()
                .unwrap();
            confirmed = format!("confirm_unreviewed={pending}");
            &confirmed.as_str()
        } else {
            form
        };
        // No token: refused whoever asks.
        for (who, b) in [
            ("admin", &mut admin),
            ("auditor", &mut auditor),
            ("owner", &mut owner),
        ] {
            assert_eq!(
                b.post(&url, None, Some(form)).await,
                403,
                "POST {path} as {who} without CSRF"
            );
        }
        if path.starts_with("/logout") {
            continue; // signing out is checked last, below (and everywhere in tests/web_auth.rs)
        }
        assert_eq!(
            anon.post(&url, Some(&"0".repeat(64)), Some(form))
                .await
                .as_u16(),
            expected[0]
        );
        for (who, b, csrf, want) in [
            ("admin", &mut admin, &admin_csrf, expected[1]),
            ("auditor", &mut auditor, &auditor_csrf, expected[2]),
            ("owner", &mut owner, &owner_csrf, expected[3]),
        ] {
            let got = b.post(&url, Some(csrf), Some(form)).await.as_u16();
            if path.ends_with("/accept-suggestion") && want == 200 {
                assert!(got == 200 || got == 400, "POST {path} as {who}: {got}");
                continue;
            }
            assert_eq!(got, want, "POST {path} as {who}");
        }
    }
    for route in ["GET /login", "GET /login/bootstrap", "GET /auth/callback"] {
        covered.push(route.into()); // the sign-in routes, walked by tests/web_auth.rs
    }
    for route in declared_routes() {
        assert!(
            covered.contains(&route),
            "route {route} is missing from the matrix"
        );
    }

    // The API: one record with its findings; `limit` honoured (1 to 1000), refused in JSON
    // outside that; a claim takes a JSON body as well as a form.
    let (_, _, one) = admin
        .fetch(&base, &format!("/api/v1/identities/{mine}"))
        .await;
    let one: serde_json::Value = serde_json::from_str(&one).unwrap();
    assert_eq!(one["id"], mine.as_str());
    assert!(
        one["findings"].is_array() && one["tier"].is_string(),
        "{one}"
    );
    let (_, _, two) = admin.fetch(&base, "/api/v1/identities?limit=2").await;
    let two: serde_json::Value = serde_json::from_str(&two).unwrap();
    assert_eq!(two["items"].as_array().unwrap().len(), 2, "{two}");
    assert!(two["next"].is_string());
    let (status, headers, bad) = admin.fetch(&base, "/api/v1/identities?limit=0").await;
    assert_eq!(status, 400);
    let content_type = headers["content-type"].to_str().unwrap();
    assert!(
        content_type.contains("json") && bad.contains("limit=0"),
        "{content_type} {bad}"
    );
    // A query field nobody knows is refused the same way, not with actix's plain text; on a
    // page, with the error page.
    let (status, headers, bad) = admin.fetch(&base, "/api/v1/identities?teir=high").await;
    assert_eq!(status, 400);
    let bad: serde_json::Value = serde_json::from_str(&bad).expect("a JSON error body");
    assert_eq!(bad["error"], "invalid", "{bad}");
    assert!(bad["message"].as_str().unwrap().contains("teir"), "{bad}");
    assert!(headers["content-type"].to_str().unwrap().contains("json"));
    let (status, _, page) = admin.fetch(&base, "/inventory?teir=high&q=deploy").await;
    assert_eq!(status, 400);
    assert!(page.contains("<html") && page.contains("teir"), "{page}");
    // What was typed comes back as a form to correct and send again, the same way.
    assert!(
        page.contains(r#"method="get" action="/inventory""#)
            && page.contains(r#"name="teir" value="high""#)
            && page.contains(r#"name="q" value="deploy""#),
        "{page}"
    );

    let (_, _, orphans) = admin
        .fetch(&base, "/api/v1/identities?orphaned=1&limit=5")
        .await;
    let orphans: serde_json::Value = serde_json::from_str(&orphans).unwrap();
    let unowned = orphans["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["owner"].is_null())
        .expect("an identity nobody owns")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let claimed = admin
        .http
        .post(format!("{base}/api/v1/identities/{unowned}/claim"))
        .header("cookie", admin.cookie_header())
        .header("X-CSRF-Token", &admin_csrf)
        .json(&serde_json::json!({"owner": "team-json", "note": "a JSON body"}))
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status(), 200);
    let claimed: serde_json::Value = claimed.json().await.unwrap();
    assert_eq!(claimed["owner"], "team-json");

    // An owner sees what they own and what nobody owns, never someone else's.
    let (_, _, body) = owner.fetch(&base, "/api/v1/identities").await;
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
    let items = listed["items"].as_array().unwrap();
    assert!(items.iter().any(|i| i["id"] == mine.as_str()), "their own");
    assert!(
        items
            .iter()
            .all(|i| i["owner"].is_null() || i["owner"] == OWNER),
        "{listed}"
    );
    let (_, _, mine_page) = owner.fetch(&base, "/my").await;
    assert!(mine_page.contains(&format!("/identities/{mine}")));
    assert!(!mine_page.contains(&format!("/identities/{theirs}")));

    // Escaping: a record named with a script tag, and an owner named with one, render as text.
    let script_owner = "%3Cscript%3Ealert(2)%3C%2Fscript%3E";
    assert_eq!(
        admin
            .post(
                &format!("{base}/api/v1/identities/{xss}/claim"),
                Some(&admin_csrf),
                Some(&format!("owner={script_owner}"))
            )
            .await,
        200
    );
    for path in [
        format!("/identities/{xss}"),
        "/inventory?q=%3Cscript".to_owned(),
        "/inventory?owner=%3Cscript%3Ealert(2)%3C%2Fscript%3E".to_owned(),
    ] {
        let (status, _, html) = admin.fetch(&base, &path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            !html.contains("<script>alert("),
            "{path} carries a live script tag"
        );
        assert!(
            html.contains("&#60;script&#62;alert("),
            "{path} shows the name as text"
        );
    }
    let (_, _, html) = admin.fetch(&base, &format!("/identities/{xss}")).await;
    assert!(
        html.contains("&#60;script&#62;alert(2)&#60;/script&#62;"),
        "the claimed owner, as text"
    );
    assert!(!html.contains("<script"), "no script element at all");

    // The dashboard: counts that click through, and plots drawn server-side.
    let (_, _, dash) = admin.fetch(&base, "/dashboard").await;
    assert!(dash.contains("<svg role=\"group\" aria-label=\"Tier by platform\""));
    assert!(
        dash.contains("<polyline"),
        "a trend line once two runs have summaries"
    );
    assert!(dash.contains("href=\"/inventory?stale=1\""));

    // The inventory: riskiest first, where the page sits in the whole, and a way back.
    let link = |html: &str, rel: &str| -> Option<String> {
        let at = html.find(&format!("rel=\"{rel}\" href=\""))?;
        let rest = &html[at..];
        let href = rest.split("href=\"").nth(1)?.split('"').next()?;
        Some(href.replace("&#38;", "&").replace("&amp;", "&"))
    };
    let (_, _, first) = admin.fetch(&base, "/inventory?limit=10").await;
    let total: u64 = first
        .split("1–10 of ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .map(|n| n.replace(',', "").parse().unwrap())
        .expect("1–10 of N records");
    let (_, _, all) = admin.fetch(&base, "/inventory/export.json").await;
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert_eq!(
        all.as_array().unwrap().len() as u64,
        total,
        "the total is the view's length"
    );
    assert!(
        link(&first, "prev").is_none(),
        "no previous page on the first"
    );
    let next = link(&first, "next").expect("a next page");
    assert!(
        next.contains("sort=risk"),
        "riskiest first by default: {next}"
    );
    let (_, _, second) = admin.fetch(&base, &next).await;
    assert!(second.contains("11–20 of "), "{next}");
    let back = link(&second, "prev").expect("a previous page");
    let (_, _, again) = admin.fetch(&base, &back).await;
    assert!(again.contains("1–10 of "), "{back}");
    // One record as a view, and as a review: "review this identity now".
    let one = rid(ids[1]);
    let (_, _, page) = admin.fetch(&base, &format!("/inventory?id={one}")).await;
    assert!(page.contains("1–1 of 1 record"), "one record");
    let (_, _, page) = admin.fetch(&base, &format!("/identities/{one}")).await;
    assert!(
        page.contains(&format!("href=\"/campaigns?scope=id%3D{one}#new\"")),
        "an admin can review this identity now"
    );
    let rows = |html: &str| html.matches("<td class=\"c-name\">").count();
    assert_eq!(
        rows(&again),
        rows(&first),
        "the previous page is the first again"
    );
    let (_, _, csv) = admin
        .fetch(&base, "/inventory/export.csv?platform=github")
        .await;
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("id,platform,"), "{}", rows[0]);
    assert!(
        rows.len() > 1
            && rows[1..]
                .iter()
                .all(|r| r.split(',').nth(1) == Some("github")),
        "{csv}"
    );

    // API tokens: shown once, act with their role without a cookie (so without CSRF), refused
    // once revoked, and inventoried as platform `roster` by the next sync.
    let (status, page) = admin
        .post_form(
            &format!("{base}/tokens"),
            &admin_csrf,
            "name=release-gate&role=auditor&days=90",
        )
        .await;
    assert_eq!(status, 200);
    // A refused form keeps what was typed, to send again (a browser's form carries its CSRF
    // field back, unseen); typed markup stays text.
    let (status, refused) = admin
        .post_form(
            &format!("{base}/tokens"),
            &admin_csrf,
            "name=gate%3Cb%3E&role=auditor&days=9999",
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused.contains(r#"method="post" action="/tokens""#)
            && refused.contains(r#"name="days" value="9999""#)
            && refused.contains(r#"name="name" value="gate&"#)
            && !refused.contains("gate<b>"),
        "{refused}"
    );
    let secret = page
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the new token, shown once")
        .to_owned();
    assert!(
        secret.starts_with("roster_") && secret.len() > 60,
        "{secret}"
    );
    let (_, _, again) = admin.fetch(&base, "/tokens").await;
    assert!(!again.contains(&secret), "shown only once");
    let http = reqwest::Client::new();
    let bearer = |path: &str, token: &str| {
        http.get(format!("{base}{path}"))
            .header("Authorization", format!("Bearer {token}"))
            .send()
    };
    assert_eq!(
        bearer("/api/v1/identities", &secret)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        bearer("/api/v1/identities", "roster_nope")
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        bearer("/inventory", &secret).await.unwrap().status(),
        401,
        "pages need a session"
    );
    let refused = http
        .post(format!("{base}/api/v1/identities/{mine}/claim"))
        .header("Authorization", format!("Bearer {secret}"))
        .form(&[("note", "by token")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403, "an auditor token changes nothing");
    sync(&site.dir.path().join("roster.toml"));
    let (_, _, listed) = admin
        .fetch(&base, "/api/v1/identities?platform=roster")
        .await;
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let tokens: Vec<&serde_json::Value> = listed["items"].as_array().unwrap().iter().collect();
    let gate = tokens
        .iter()
        .find(|t| t["name"] == "release-gate")
        .expect("the token is inventoried");
    assert_eq!(gate["kind"], "api_token");
    assert_eq!(gate["owner"], "admin@acme.example");
    assert_eq!(gate["usage"], "used");
    assert!(!listed.to_string().contains(&secret), "never the secret");
    assert!(
        tokens.iter().all(|t| t["name"] != "matrix"),
        "the revoked token is gone: {listed}"
    );
    let id = page
        .split("/tokens/")
        .filter_map(|r| r.split('/').next()?.parse::<i64>().ok())
        .max()
        .unwrap();
    assert_eq!(
        admin
            .post(
                &format!("{base}/tokens/{id}/revoke"),
                Some(&admin_csrf),
                None
            )
            .await,
        303
    );
    assert_eq!(
        bearer("/api/v1/identities", &secret)
            .await
            .unwrap()
            .status(),
        401,
        "revoked"
    );
    let db_text = std::fs::read(site.dir.path().join("roster.db")).unwrap();
    assert!(
        !String::from_utf8_lossy(&db_text).contains(&secret),
        "the database holds no secret"
    );

    // Finally, signing out with the token ends the session.
    assert_eq!(
        admin
            .post(&format!("{base}/logout"), Some(&admin_csrf), None)
            .await,
        303
    );
    assert_eq!(admin.fetch(&base, "/inventory").await.0, 401);
    drop(site);
}

/// A credential and its identity, as a connector could deliver them: the identity owned by
/// someone else, the credential by nobody.
async fn prepare_credential(url: String) {
    let db = Database::connect(&url).await.unwrap();
    let mut first = Vec::new();
    for class in ["identity", "credential"] {
        let row = db
            .query_one(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT id FROM records WHERE class = '{class}' ORDER BY id LIMIT 1"),
            ))
            .await
            .unwrap()
            .unwrap();
        first.push(row.try_get::<i64>("", "id").unwrap());
    }
    let (parent, credential) = (first[0], first[1]);
    for (sql, values) in [
        (
            "UPDATE records SET owner = 'someone@acme.example', owner_source = 'platform' WHERE id = ?",
            vec![parent.into()],
        ),
        (
            "UPDATE records SET owner = NULL, owner_source = NULL, parent_id = ? WHERE id = ?",
            vec![parent.into(), credential.into()],
        ),
    ] {
        db.execute(sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            values,
        ))
        .await
        .unwrap();
    }
}

/// Every route that takes an id answers 404 for one that does not exist (never 500), and the
/// access policy treats a credential as its identity's: an owner may not claim a key whose
/// identity someone else owns; the identity page links parent and credentials both ways.
#[tokio::test]
async fn missing_ids_are_404_and_a_credential_follows_its_identity() {
    let Some(site) = start_site(1, prepare_credential).await else {
        return;
    };
    let base = site.base.clone();
    let db = Database::connect(&site.database_url()).await.unwrap();
    let row = db
        .query_one(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT id, parent_id FROM records WHERE parent_id IS NOT NULL ORDER BY id LIMIT 1",
        ))
        .await
        .unwrap()
        .unwrap();
    let credential = rid(row.try_get::<i64>("", "id").unwrap());
    let parent = rid(row.try_get::<i64>("", "parent_id").unwrap());
    let (mut admin, admin_csrf) = Browser::signed_in(&base, "admin").await;
    let (mut owner, owner_csrf) = Browser::signed_in(&base, "owner").await;

    let missing = "00000000000fffff";
    for path in [
        format!("/identities/{missing}"),
        "/campaigns/999999".to_owned(),
        "/campaigns/999999/evidence.csv".to_owned(),
        "/campaigns/999999/evidence.json".to_owned(),
        "/campaigns/999999/evidence.html".to_owned(),
        "/campaigns/999999/tickets.csv".to_owned(),
        "/reviews/999999".to_owned(),
        "/api/v1/campaigns/999999".to_owned(),
    ] {
        let (status, _, _) = admin.fetch(&base, &path).await;
        assert_eq!(status, 404, "GET {path}");
    }
    for (path, form) in [
        (format!("/identities/{missing}/claim"), "note=x"),
        (format!("/api/v1/identities/{missing}/claim"), "note=x"),
        ("/tokens/999999/revoke".to_owned(), ""),
        ("/campaigns/999999/sign-off".to_owned(), ""),
        ("/campaigns/999999/remediate".to_owned(), "execute=0"),
        (format!("/identities/{missing}/remediate"), "action=revoke"),
        (
            format!("/identities/{missing}/exception-requests"),
            "rule=usage.stale&reason=x&expires=2099-01-01",
        ),
        (
            format!("/api/v1/identities/{missing}/exception-requests"),
            "rule=usage.stale&reason=x&expires=2099-01-01",
        ),
        ("/exceptions/999999/decide".to_owned(), "decision=approve"),
        (
            "/reviews/999999/decide".to_owned(),
            "decision=keep&justification=x",
        ),
        (
            "/reviews/decide".to_owned(),
            "item=999999&decision=keep&justification=x",
        ),
        (
            "/api/v1/reviews/999999/decision".to_owned(),
            "decision=keep&justification=x",
        ),
    ] {
        let (status, body) = admin
            .post_form(&format!("{base}{path}"), &admin_csrf, form)
            .await;
        assert_eq!(status, 404, "POST {path}: {body}");
    }
    // The API says what went wrong as JSON; a page says it as a page.
    let (status, body) = admin
        .post_form(
            &format!("{base}/api/v1/identities/{missing}/claim"),
            &admin_csrf,
            "",
        )
        .await;
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (status.as_u16(), error["error"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let (_, headers, page) = admin.fetch(&base, "/campaigns/999999").await;
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.contains("campaign 999999"), "{page}");

    // The credential has no owner of its own, but its identity is someone else's.
    let (status, body) = owner
        .post_form(
            &format!("{base}/api/v1/identities/{credential}/claim"),
            &owner_csrf,
            "note=mine",
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (_, _, page) = owner
        .fetch(&base, &format!("/identities/{credential}"))
        .await;
    assert!(
        !page.contains("action=\"/identities/"),
        "no claim form is offered"
    );
    assert!(
        !page.contains(&format!("/identities/{parent}")),
        "nor the identity it may not see"
    );
    let (status, _, _) = owner.fetch(&base, &format!("/identities/{parent}")).await;
    assert_eq!(status, 403, "the identity is someone else's");
    let (status, body) = admin
        .post_form(
            &format!("{base}/api/v1/identities/{credential}/claim"),
            &admin_csrf,
            "owner=owner%40acme.example",
        )
        .await;
    assert_eq!(status, 200, "an admin may: {body}");
    // Parent and credentials link each other.
    let (_, _, page) = admin.fetch(&base, &format!("/identities/{parent}")).await;
    assert!(
        page.contains(&format!("/identities/{credential}")),
        "the parent lists it"
    );
    let (_, _, page) = admin
        .fetch(&base, &format!("/identities/{credential}"))
        .await;
    assert!(
        page.contains(&format!("/identities/{parent}")),
        "it names its parent"
    );
}

/// What askama escapes, back to text.
fn unescape(html: &str) -> String {
    html.replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#38;", "&")
}

/// POST a form and return the status and the `Location` it redirects to.
async fn post_for_location(b: &mut Browser, url: &str, csrf: &str, form: &str) -> (u16, String) {
    let resp = b.post_form_response(url, csrf, form).await;
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    assert!(!location.is_empty(), "POST {url}: {status} {body}");
    (status, location)
}

/// The identity page's two actions, end to end: the owner asks for an exception for one of
/// their record's findings (what they typed shown as text), the admin sees it waiting on the
/// identity page and on /exceptions, approves it, and gets the `[[exceptions]]` block, which
/// the real policy loader reads as covering exactly that record. And an admin's remediation
/// dry run from the page, which shows the plan and changes nothing.
#[tokio::test]
async fn an_owner_asks_for_an_exception_and_an_admin_approves_and_dry_runs_remediation() {
    let Some(site) = start_site(1, prepare).await else {
        return;
    };
    let base = site.base.clone();
    let db = Database::connect(&site.database_url()).await.unwrap();
    let row = db
        .query_one(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT id FROM records WHERE owner = '{OWNER}' ORDER BY id LIMIT 1"),
        ))
        .await
        .unwrap()
        .unwrap();
    let mine = rid(row.try_get::<i64>("", "id").unwrap());
    let (mut admin, admin_csrf) = Browser::signed_in(&base, "admin").await;
    let (mut owner, owner_csrf) = Browser::signed_in(&base, "owner").await;

    let (_, _, body) = owner
        .fetch(&base, &format!("/api/v1/identities/{mine}"))
        .await;
    let record: serde_json::Value = serde_json::from_str(&body).unwrap();
    let rule = record["findings"][0]["rule"].as_str().unwrap().to_owned();

    // The owner's page offers the request form, not remediation.
    let (_, _, page) = owner.fetch(&base, &format!("/identities/{mine}")).await;
    assert!(page.contains("id=\"request-exception\""), "{page}");
    assert!(page.contains(&format!("<option value=\"{rule}\">")));
    assert!(!page.contains("Dry run:") && !page.contains("id=\"remediation\""));
    assert!(
        !page.contains("href=\"/exceptions\""),
        "no link to the list for an owner"
    );

    let today = chrono::Utc::now().date_naive();
    let expires = today + chrono::Duration::days(45);
    let reason = "<b>yearly</b> batch \"job\"\n[[exceptions]]\nrule = '*'";
    let form = |reason: &str, expires: &str| {
        let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        format!(
            "rule={}&reason={}&expires={}",
            enc(&rule),
            enc(reason),
            enc(expires)
        )
    };
    // Refused with the reason in words: no reason, an expiry past the year.
    let url = format!("{base}/identities/{mine}/exception-requests");
    let (status, body) = owner
        .post_form(&url, &owner_csrf, &form("", &expires.to_string()))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("say why"), "{body}");
    let too_far = today + chrono::Duration::days(400);
    let (status, body) = owner
        .post_form(&url, &owner_csrf, &form("x", &too_far.to_string()))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("at most 365 days"), "{body}");
    let (status, location) = post_for_location(
        &mut owner,
        &url,
        &owner_csrf,
        &form(reason, &expires.to_string()),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (
            303,
            format!("/identities/{mine}?requested=1#exceptions").as_str()
        )
    );
    let (_, _, page) = owner.fetch(&base, &location).await;
    assert!(page.contains("Exception request recorded"), "{page}");
    assert!(
        page.contains("&#60;b&#62;yearly&#60;/b&#62;"),
        "the reason, as text"
    );
    assert!(!page.contains("<b>yearly"));
    assert!(page.contains(">proposed<"), "{page}");
    assert_eq!(owner.fetch(&base, "/exceptions").await.0, 403);

    // The admin sees it waiting, on the identity page and on the list.
    let (_, _, page) = admin.fetch(&base, &format!("/identities/{mine}")).await;
    assert!(
        page.contains("1 exception request awaits a decision"),
        "{page}"
    );
    let (_, _, list) = admin.fetch(&base, "/exceptions?state=proposed").await;
    assert!(
        list.contains("href=\"/exceptions\""),
        "the nav links the list"
    );
    let id: i64 = list
        .split("id=\"request-")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a request row: {list}"));
    assert!(list.contains("&#60;b&#62;yearly"), "{list}");
    assert!(list.contains("value=\"approve\""), "{list}");

    let (status, location) = post_for_location(
        &mut admin,
        &format!("{base}/exceptions/{id}/decide"),
        &admin_csrf,
        "decision=approve",
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (
            303,
            format!("/exceptions?decided={id}#request-{id}").as_str()
        )
    );
    let (_, _, list) = admin.fetch(&base, &location).await;
    assert!(
        list.contains("approved — add it to the policy file"),
        "{list}"
    );
    let block = list
        .split("<pre class=\"policy\">")
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .map(unescape)
        .unwrap_or_else(|| panic!("the policy block: {list}"));
    assert!(block.contains("[[exceptions]]"), "{block}");
    // A second decision is refused.
    let (status, _) = admin
        .post_form(
            &format!("{base}/exceptions/{id}/decide"),
            &admin_csrf,
            "decision=reject&note=no",
        )
        .await;
    assert_eq!(status, 409);

    // The block, in a policy file, loads with the real loader and names exactly the record.
    let path = site.dir.path().join("policy-with-exception.toml");
    std::fs::write(&path, format!("stale_days = 90\n\n{block}")).unwrap();
    let loaded = roster_app::policy::load_with_hash(Some(&path)).unwrap();
    let e = &loaded.policy.exceptions;
    assert_eq!(e.len(), 1, "{block}");
    assert_eq!(e[0].rule, rule);
    assert_eq!(e[0].reason, reason);
    assert_eq!(e[0].owner, OWNER);
    assert_eq!(e[0].expires.0, expires);
    assert_eq!(e[0].external_id.as_deref(), record["external_id"].as_str());
    assert_eq!(e[0].scope.as_deref(), record["scope"].as_str());
    assert_eq!(
        e[0].platform.map(|p| p.as_str()),
        record["platform"].as_str()
    );

    // The admin's dry run from the page: the plan, in words; nothing changes.
    let (_, _, page) = admin.fetch(&base, &format!("/identities/{mine}")).await;
    assert!(page.contains("Dry run: revoke"), "{page}");
    assert!(
        page.contains("Remediation is off for connector sample"),
        "{page}"
    );
    let url = format!("{base}/identities/{mine}/remediate");
    let (status, _) = owner.post_form(&url, &owner_csrf, "action=revoke").await;
    assert_eq!(status, 403, "owners do not remediate");
    let (status, body) = admin.post_form(&url, &admin_csrf, "action=delete").await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("not offered"), "{body}");
    let (status, location) =
        post_for_location(&mut admin, &url, &admin_csrf, "action=revoke").await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with(&format!("/identities/{mine}?plan=")),
        "{location}"
    );
    let (_, _, page) = admin.fetch(&base, &location).await;
    assert!(page.contains("Dry run of <code>revoke</code>"), "{page}");
    assert!(page.contains("SAMPLE DATA"), "{page}");
    let external_id = record["external_id"].as_str().unwrap();
    assert!(
        page.contains(&format!("(sample) revoke {}", external_id)),
        "the call a real run would make: {page}"
    );
    assert!(page.contains("Nothing was changed"));
    let (_, _, events) = admin
        .fetch(&base, "/api/v1/audit-events?after=0&limit=1000")
        .await;
    let events: serde_json::Value = serde_json::from_str(&events).unwrap();
    let actions: Vec<&str> = events
        .as_array()
        .or_else(|| events["events"].as_array())
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "exception.request",
        "exception.approve",
        "remediation.revoke",
    ] {
        assert!(actions.contains(&action), "{action} audited: {actions:?}");
    }
}
