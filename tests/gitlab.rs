#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `roster sync`, `identities`, `remediate` and `audit verify` against the GitLab connector's
//! wiremock fixtures (issue 6's "done means"): every kind with owner, usage and privilege, the
//! GitLab rules as findings, a group GitLab refuses (403) reported and not swept, a revoke and a
//! trigger deletion issued exactly as documented, and no CI/CD variable value or trigger token
//! anywhere in the output, the logs or the database.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use roster_connector_gitlab::testing::{PLANTED_SECRETS, mount};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN_ENV: &str = "ROSTER_TEST_GITLAB_TOKEN";
const TOKEN: &str = "glpat-rosterCanaryE2E0123456789";

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .current_dir(dir)
        .env_remove("ROSTER_CONFIG")
        .env("ROSTER_LOG", "debug")
        .env(TOKEN_ENV, TOKEN)
        .args(args)
        .output()
        .unwrap()
}

fn write_config(dir: &Path, url: &str, extra: &str) {
    std::fs::write(
        dir.join("roster.toml"),
        format!(
            r#"[database]
url = "sqlite://{db}?mode=rwc"

[[connectors]]
name = "acme-gitlab"
kind = "gitlab"
url = "{url}"
groups = ["acme", "platform"]
instance = true
token_env = "{TOKEN_ENV}"
{extra}
"#,
            db = dir.join("roster.db").display()
        ),
    )
    .unwrap();
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn of<'a>(items: &'a [Value], resource_type: &str, scope: &str) -> Vec<&'a Value> {
    items
        .iter()
        .filter(|i| i["resource_type"] == resource_type && i["scope"] == scope)
        .collect()
}

fn rules(item: &Value) -> Vec<&str> {
    item["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect()
}

fn find<'a>(items: &[&'a Value], external_id: &str) -> &'a Value {
    items
        .iter()
        .find(|i| i["external_id"] == external_id)
        .unwrap_or_else(|| panic!("no {external_id} in {items:?}"))
}

/// The second group, `platform`: one group access token, nothing else.
async fn mount_platform(server: &MockServer, refuse: bool) {
    let template = if refuse {
        ResponseTemplate::new(403).set_body_json(json!({"message": "403 Forbidden"}))
    } else {
        ResponseTemplate::new(200).set_body_json(json!([]))
    };
    Mock::given(method("GET"))
        .and(path_regex("^/api/v4/groups/platform/"))
        .respond_with(template)
        .with_priority(3)
        .mount(server)
        .await;
    if !refuse {
        Mock::given(method("GET"))
            .and(path("/api/v4/groups/platform/access_tokens"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                {"id": 400, "name": "platform-ci", "user_id": 150, "scopes": ["read_api"],
                 "access_level": 30, "active": true, "revoked": false,
                 "created_at": "2026-10-01T00:00:00Z", "expires_at": "2027-01-01"}
            ])))
            .with_priority(1)
            .mount(server)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_identities_and_remediation_against_gitlab_fixtures() {
    let server = MockServer::start().await;
    mount(&server).await;
    mount_platform(&server, false).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut transcript = String::new();
    write_config(d, &server.uri(), "");

    let out = run(d, &["sync"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // bob, who owns a trigger, has left.
    std::fs::write(
        d.join("hr.csv"),
        "id,email,name,active\nalice,alice@acme.example,alice,true\nbob,bob@acme.example,bob,false\n",
    )
    .unwrap();
    let out = run(
        d,
        &[
            "people", "import", "hr.csv", "--format", "csv", "--source", "hr",
        ],
    );
    transcript += &text(&out);
    assert!(out.status.success(), "{}", text(&out));

    let out = run(
        d,
        &["identities", "--platform", "gitlab", "--format", "json"],
    );
    transcript += &text(&out);
    assert!(out.status.success(), "{}", text(&out));
    let items: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(items.iter().all(|i| i["platform"] == "gitlab"));

    // Every resource type of both scope kinds, and so every kind the issue names.
    let types: BTreeSet<&str> = items
        .iter()
        .map(|i| i["resource_type"].as_str().unwrap())
        .collect();
    let expected: BTreeSet<&str> = roster_connector_gitlab::group_resource_types()
        .into_iter()
        .chain(roster_connector_gitlab::instance_resource_types())
        .collect();
    assert_eq!(types, expected);
    let kinds: BTreeSet<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    for kind in [
        "project_token",
        "group_token",
        "personal_access_token",
        "service_account",
        "deploy_token",
        "deploy_key",
        "trigger_token",
        "runner",
        "ci_secret",
    ] {
        assert!(kinds.contains(kind), "no {kind} in {kinds:?}");
    }
    // Owner, usage and privilege on every element (owner may be null where GitLab names none).
    for i in &items {
        for field in ["owner", "usage", "privilege", "tier", "findings"] {
            assert!(i.get(field).is_some(), "{field} missing in {i}");
        }
    }

    let project_tokens = of(&items, "gitlab.project_access_token", "acme");
    let deploy = find(&project_tokens, "7/42");
    assert_eq!(deploy["privilege"], "write");
    assert_eq!(deploy["usage"], "never_used");
    assert!(
        rules(deploy).contains(&"gitlab.bot_token.high_role"),
        "{deploy}"
    );
    let reader = find(&project_tokens, "7/43");
    assert_eq!(reader["usage"], "used");
    assert!(
        rules(reader).contains(&"gitlab.token.api_scope"),
        "{reader}"
    );
    assert!(
        rules(reader).contains(&"gitlab.token.lifetime_over_max"),
        "{reader}"
    );
    let owner_token = of(&items, "gitlab.group_access_token", "acme")[0];
    assert_eq!(owner_token["privilege"], "admin");
    assert!(
        rules(owner_token).contains(&"lifetime.no_expiry"),
        "{owner_token}"
    );
    assert_eq!(
        owner_token["tier"], "critical",
        "admin + Owner-role bot token"
    );

    let pat = of(&items, "gitlab.personal_access_token", "(instance)")[0];
    assert_eq!(pat["privilege"], "admin");
    assert_eq!(pat["usage"], "never_used");
    assert!(pat["parent_id"].is_string(), "{pat}");
    let account = of(&items, "gitlab.service_account", "acme")[0];
    assert!(rules(account).contains(&"owner.missing"), "{account}");

    let key = find(&of(&items, "gitlab.deploy_key", "acme"), "7/13");
    assert_eq!(key["privilege"], "write");
    assert!(rules(key).contains(&"gitlab.deploy_key.can_push"), "{key}");
    // Deploy key 13 is enabled on acme/web and acme/platform/api: each names the other.
    let reuse = |item: &Value| {
        item["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == "credential.reused_across_scopes")
            .cloned()
    };
    let f = reuse(key).unwrap_or_else(|| panic!("no reuse finding: {key}"));
    assert_eq!(f["owasp"], "NHI9");
    assert_eq!(f["severity"], "high");
    assert_eq!(
        f["message"],
        "public key SHA256:Jrs3…fIgU of `acme/web: argo-cd` is also used by gitlab deploy key \
         `acme/platform/api: argo-cd` (2 places)"
    );
    let other = find(&of(&items, "gitlab.deploy_key", "acme"), "8/13");
    assert!(
        reuse(other).unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("`acme/web: argo-cd`"),
        "{other}"
    );
    assert_eq!(
        other["credential_fingerprint"],
        "ssh-sha256:Jrs3LD1Ji30xNLtTVf9NDCj7kkBgPBb2pjvTZ3HfIgU"
    );
    // Key 14 is on one project only; the instance listing's copy of key 13 is not a place.
    let mirror = find(&of(&items, "gitlab.deploy_key", "acme"), "8/14");
    assert!(reuse(mirror).is_none(), "{mirror}");
    let instance_key = find(
        &of(&items, "gitlab.instance_deploy_key", "(instance)"),
        "13",
    );
    assert!(reuse(instance_key).is_none(), "{instance_key}");
    assert!(
        rules(instance_key).contains(&"gitlab.deploy_key.can_push"),
        "{instance_key}"
    );

    let triggers = of(&items, "gitlab.pipeline_trigger", "acme");
    let nightly = find(&triggers, "7/10");
    assert_eq!(nightly["owner"], "bob");
    assert_eq!(nightly["owner_source"], "gitlab:trigger_owner");
    assert_eq!(nightly["usage"], "used");
    assert!(
        rules(nightly).contains(&"gitlab.trigger.owner_inactive"),
        "{nightly}"
    );
    assert!(rules(nightly).contains(&"owner.departed"), "{nightly}");
    assert_eq!(find(&triggers, "7/11")["owner"], "alice");

    let runner = of(&items, "gitlab.group_runner", "acme")[0];
    assert_eq!(runner["usage"], "used");
    assert!(runner["expires_at"].is_string(), "{runner}");
    let shared = find(&of(&items, "gitlab.runner", "(instance)"), "1");
    assert_eq!(shared["status"], "disabled");

    let vars = of(&items, "gitlab.project_variable", "acme");
    let db = vars
        .iter()
        .find(|v| v["name"] == "acme/web: DB_PASSWORD")
        .unwrap();
    assert!(
        rules(db).contains(&"gitlab.variable.secret_unmasked"),
        "{db}"
    );
    assert!(
        rules(db).contains(&"gitlab.variable.secret_unprotected"),
        "{db}"
    );
    assert_eq!(of(&items, "gitlab.group_deploy_token", "platform").len(), 0);
    assert_eq!(of(&items, "gitlab.group_access_token", "platform").len(), 1);

    // The second group refuses now: the sync is partial, and its records are not swept.
    server.reset().await;
    mount(&server).await;
    mount_platform(&server, true).await;
    let out = run(d, &["sync"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("platform"), "{}", text(&out));
    let out = run(
        d,
        &["identities", "--platform", "gitlab", "--format", "json"],
    );
    let after: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let kept = of(&after, "gitlab.group_access_token", "platform");
    assert_eq!(kept.len(), 1, "not seen is not gone");
    assert_eq!(kept[0]["status"], "active");

    // Remediation: a dry run, then a real run, of a revoke and a trigger deletion.
    let token_id = deploy["id"].as_str().unwrap();
    let trigger_id = nightly["id"].as_str().unwrap();
    let out = run(d, &["remediate", token_id, "--action", "revoke"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("would call DELETE /projects/7/access_tokens/42"),
        "{}",
        text(&out)
    );
    let out = run(
        d,
        &["remediate", token_id, "--action", "revoke", "--execute"],
    );
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("remediation is off"), "{}", text(&out));
    let deletes = |requests: Vec<wiremock::Request>| -> Vec<String> {
        requests
            .iter()
            .filter(|r| r.method.as_str() == "DELETE")
            .map(|r| r.url.path().to_string())
            .collect()
    };
    assert!(deletes(server.received_requests().await.unwrap()).is_empty());

    write_config(
        d,
        &server.uri(),
        "[connectors.remediation]\nenabled = true\n",
    );
    let out = run(
        d,
        &[
            "remediate",
            token_id,
            "--action",
            "revoke",
            "--execute",
            "--reason",
            "unused bot token",
        ],
    );
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("called DELETE /projects/7/access_tokens/42"),
        "{}",
        text(&out)
    );
    let out = run(
        d,
        &["remediate", trigger_id, "--action", "delete", "--execute"],
    );
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("called DELETE /projects/7/triggers/10"),
        "{}",
        text(&out)
    );
    assert_eq!(
        deletes(server.received_requests().await.unwrap()),
        [
            "/api/v4/projects/7/access_tokens/42",
            "/api/v4/projects/7/triggers/10"
        ],
        "exactly the documented requests"
    );

    let out = run(d, &["audit", "verify"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Neither the token nor any planted secret reached the output, the logs or the database.
    let db = std::fs::read(d.join("roster.db")).unwrap();
    let wal = std::fs::read(d.join("roster.db-wal")).unwrap_or_default();
    for needle in PLANTED_SECRETS.iter().chain(std::iter::once(&TOKEN)) {
        assert!(
            !transcript.contains(needle),
            "{needle} in the CLI output or logs"
        );
        for bytes in [&db, &wal] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} in the database"
            );
        }
    }
    // The planted values were really served (so their absence means something).
    let served = server.received_requests().await.unwrap();
    assert!(
        served
            .iter()
            .any(|r| r.url.path() == "/api/v4/projects/7/variables"),
        "variables were never read"
    );
}
