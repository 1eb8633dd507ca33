#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `roster sync`, `identities`, `remediate` and `audit verify` against Prism serving GitHub's
//! OpenAPI description (DESIGN.md's GitHub "done means"): every kind with the fields of GitHub's
//! examples, a deploy-key deletion and a webhook deactivation issued as documented (Prism checks
//! each request against GitHub's schema), and the token nowhere in the output or the database.
//! Skips when `ROSTER_PRISM` / `ROSTER_GITHUB_SPEC` are unset: `eval "$(tests/github/setup.sh)"`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use roster_connector_github::testing::Prism;

const TOKEN_ENV: &str = "ROSTER_TEST_GITHUB_TOKEN";

fn run(dir: &Path, token: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .current_dir(dir)
        .env_remove("ROSTER_CONFIG")
        .env("ROSTER_LOG", "debug")
        .env(TOKEN_ENV, token)
        .args(args)
        .output()
        .unwrap()
}

fn write_config(dir: &Path, api_url: &str, remediation: &str) {
    std::fs::write(
        dir.join("roster.toml"),
        format!(
            r#"[database]
url = "sqlite://{db}?mode=rwc"

[[connectors]]
name = "octo-github"
kind = "github"
api_url = "{api_url}"
org = "octocat"
token_env = "{TOKEN_ENV}"
{remediation}
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

fn of_type<'a>(items: &'a [serde_json::Value], resource_type: &str) -> Vec<&'a serde_json::Value> {
    items
        .iter()
        .filter(|i| i["resource_type"] == resource_type)
        .collect()
}

fn rules(item: &serde_json::Value) -> Vec<&str> {
    item["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect()
}

fn strings(v: &serde_json::Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn sync_identities_and_remediation_against_githubs_openapi() {
    if std::env::var_os("ROSTER_PRISM").is_none()
        || std::env::var_os("ROSTER_GITHUB_SPEC").is_none()
    {
        println!("skipped: ROSTER_PRISM not set (eval \"$(tests/github/setup.sh)\" sets it)");
        return;
    }
    let prism = Prism::start().expect("prism answers within 60 s");
    let token = format!("ghp_rosterCanary{:016x}", rand::random::<u64>());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut transcript = String::new();
    write_config(d, &prism.url, "");

    let out = run(d, &token, &["sync"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let out = run(
        d,
        &token,
        &["identities", "--platform", "github", "--format", "json"],
    );
    transcript += &text(&out);
    assert!(out.status.success(), "{}", text(&out));
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();

    // Every resource type, and so every kind, the connector lists.
    let resource_types: BTreeSet<&str> = items
        .iter()
        .map(|i| i["resource_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        resource_types,
        roster_connector_github::resource_types()
            .into_iter()
            .collect(),
        "every resource type yields records from GitHub's examples"
    );
    let kinds: BTreeSet<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    for kind in [
        "app_installation",
        "personal_access_token",
        "deploy_key",
        "ci_secret",
        "runner",
        "webhook",
        "role",
    ] {
        assert!(kinds.contains(kind), "no {kind} in {kinds:?}");
    }
    assert!(items.iter().all(|i| i["platform"] == "github"
        && i["connector"] == "octo-github"
        && i["scope"] == "octocat"));

    // Fields of GitHub's examples.
    let app = of_type(&items, "github.app_installation")[0];
    assert_eq!(app["external_id"], "25381");
    assert_eq!(app["privilege"], "write");
    assert!(
        strings(&app["privilege_detail"]).contains(&"deployments:write"),
        "{app}"
    );
    let pat = of_type(&items, "github.fine_grained_pat")[0];
    assert_eq!(pat["name"], "Some Token");
    assert_eq!(pat["owner"], "octocat");
    assert_eq!(pat["usage"], "never_used");
    assert!(pat["expires_at"].is_string(), "{pat}");
    let auths = of_type(&items, "github.credential_authorization");
    assert!(auths.iter().any(|a| a["owner"] == "hubot"), "{auths:?}");
    let classic = auths.iter().find(|a| a["external_id"] == "161195").unwrap();
    assert_eq!(classic["privilege"], "write");
    assert_eq!(strings(&classic["privilege_detail"]), ["user", "repo"]);
    assert!(
        rules(classic).contains(&"lifetime.expired_present"),
        "{classic}"
    );
    let ssh = auths
        .iter()
        .find(|a| a["name"].as_str().unwrap().starts_with("SSH key"))
        .unwrap();
    assert!(rules(ssh).contains(&"lifetime.no_expiry"), "{ssh}");
    // GitHub's example deploy key is read-only: no write finding.
    let key = of_type(&items, "github.deploy_key")[0];
    assert_eq!(key["external_id"], "octocat/Hello-World/1");
    assert!(
        key["name"].as_str().unwrap().ends_with("octocat@octomac"),
        "{key}"
    );
    assert_eq!(key["owner"], "octocat");
    assert_eq!(key["owner_source"], "github:added_by");
    assert_eq!(key["usage"], "used");
    assert_eq!(key["privilege"], "read");
    assert!(!rules(key).contains(&"github.deploy_key.write"), "{key}");
    let org_secrets = of_type(&items, "github.org_actions_secret");
    assert!(
        org_secrets.iter().any(|s| s["external_id"] == "GH_TOKEN"),
        "{org_secrets:?}"
    );
    assert!(
        of_type(&items, "github.repo_actions_secret")
            .iter()
            .all(|s| s["created_at"].is_string())
    );
    let runners = of_type(&items, "github.org_runner");
    assert!(
        runners.iter().any(|r| r["name"] == "linux_runner"),
        "{runners:?}"
    );
    // Hello-World is public: a self-hosted runner on it runs fork pull requests.
    let repo_runner = of_type(&items, "github.repo_runner")[0];
    assert!(
        rules(repo_runner).contains(&"github.runner.public_repo"),
        "{repo_runner}"
    );
    let groups = of_type(&items, "github.runner_group");
    assert_eq!(groups.len(), 3, "{groups:?}");
    let default_group = groups.iter().find(|g| g["external_id"] == "1").unwrap();
    assert!(
        rules(default_group).contains(&"github.runner_group.public_repos"),
        "{default_group}"
    );
    assert!(
        strings(&default_group["privilege_detail"]).contains(&"runner:linux_runner"),
        "{default_group}"
    );
    // GitHub's example runner names no group; the groups' runner listings place it.
    let linux_runner = runners
        .iter()
        .find(|r| r["name"] == "linux_runner")
        .unwrap();
    assert_eq!(
        linux_runner["parent_id"], default_group["id"],
        "{linux_runner}"
    );
    let hook = of_type(&items, "github.webhook")[0];
    assert!(
        strings(&hook["privilege_detail"]).contains(&"event:push"),
        "{hook}"
    );
    assert!(rules(hook).contains(&"github.webhook.no_secret"), "{hook}");
    assert!(
        !rules(hook).contains(&"github.webhook.insecure_ssl"),
        "{hook}"
    );
    let oidc = of_type(&items, "github.oidc_sub_template");
    assert_eq!(oidc.len(), 1);

    let key_id = key["id"].as_str().unwrap();
    let hook_id = hook["id"].as_str().unwrap();

    // Dry run: reads the live key, says what it would call, works with remediation off.
    let out = run(d, &token, &["remediate", key_id, "--action", "delete"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("DRY RUN: would delete deploy key `octocat@octomac`")
            && text(&out).contains("would call DELETE /repos/octocat/Hello-World/keys/1"),
        "{}",
        text(&out)
    );
    // A real run needs remediation enabled; an action the type does not offer is refused.
    let out = run(
        d,
        &token,
        &["remediate", key_id, "--action", "delete", "--execute"],
    );
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("remediation is off"), "{}", text(&out));
    let out = run(d, &token, &["remediate", key_id, "--action", "deactivate"]);
    transcript += &text(&out);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("offered: delete"), "{}", text(&out));

    write_config(d, &prism.url, "[connectors.remediation]\nenabled = true\n");
    let out = run(
        d,
        &token,
        &[
            "remediate",
            key_id,
            "--action",
            "delete",
            "--execute",
            "--reason",
            "unused deploy key",
        ],
    );
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("deleted deploy key `octocat@octomac`")
            && text(&out).contains("called DELETE /repos/octocat/Hello-World/keys/1"),
        "{}",
        text(&out)
    );
    let out = run(
        d,
        &token,
        &["remediate", hook_id, "--action", "deactivate", "--execute"],
    );
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains(r#"called PATCH /orgs/octocat/hooks/1 {"active":false}"#),
        "{}",
        text(&out)
    );

    // Prism found nothing in any request that breaks GitHub's schema.
    assert!(prism.violations().is_empty(), "{:#?}", prism.violations());
    let log = prism.log();
    assert!(
        log.contains("delete /repos/octocat/Hello-World/keys/1"),
        "{log}"
    );
    assert!(log.contains("patch /orgs/octocat/hooks/1"), "{log}");

    // The audit trail: the first sync's `config.changed` and `policy.changed` (the files'
    // hashes, first recorded), 1 sync + 4 audited remediation runs (dry, disabled, executed
    // twice; the action not offered is refused before the connector is asked), and it
    // verifies.
    let out = run(d, &token, &["audit", "verify"]);
    transcript += &text(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("intact: 7 event(s)"), "{}", text(&out));

    // The token never reaches the logs or the database.
    assert!(!transcript.contains(&token), "token in the CLI output");
    let db = std::fs::read(d.join("roster.db")).unwrap();
    let wal = std::fs::read(d.join("roster.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "token in the database"
        );
    }
}

/// A small GitHub for one org: each path has a fixed body and an ETag derived from it, and a
/// GET carrying that ETag in `If-None-Match` is answered 304, as GitHub does.
struct UnchangedGithub {
    bodies: std::collections::BTreeMap<String, serde_json::Value>,
}

impl wiremock::Respond for UnchangedGithub {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        use std::hash::{Hash, Hasher};
        let Some(body) = self.bodies.get(request.url.path()) else {
            return wiremock::ResponseTemplate::new(404);
        };
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        body.to_string().hash(&mut hasher);
        let etag = format!("W/\"{:016x}\"", hasher.finish());
        let sent = request
            .headers
            .get("if-none-match")
            .and_then(|v| v.to_str().ok());
        if sent == Some(etag.as_str()) {
            wiremock::ResponseTemplate::new(304).insert_header("etag", etag.as_str())
        } else {
            wiremock::ResponseTemplate::new(200)
                .set_body_json(body)
                .insert_header("etag", etag.as_str())
        }
    }
}

/// Two `roster sync` runs of an unchanged org: the second sends `If-None-Match` on every
/// listing GET, is answered 304 throughout (reported as quota saved), and changes nothing:
/// no record new, changed or gone. Runners are linked to their runner group.
#[tokio::test]
async fn a_resync_of_an_unchanged_org_is_answered_304_and_changes_nothing() {
    use serde_json::json;
    let server = wiremock::MockServer::start().await;
    let runner = json!({"id": 23, "name": "linux_runner", "os": "linux", "status": "online",
        "busy": false, "runner_group_id": 1,
        "labels": [{"id": 5, "name": "self-hosted", "type": "read-only"}]});
    let bodies = [
        (
            "installations",
            json!({"total_count": 0, "installations": []}),
        ),
        ("personal-access-tokens", json!([])),
        ("credential-authorizations", json!([])),
        ("repos", json!([])),
        (
            "actions/secrets",
            json!({"total_count": 1, "secrets": [{"name": "GH_TOKEN",
            "created_at": "2019-08-10T14:59:22Z", "updated_at": "2020-01-10T14:59:22Z",
            "visibility": "all"}]}),
        ),
        (
            "actions/runners",
            json!({"total_count": 1, "runners": [runner]}),
        ),
        (
            "actions/runner-groups",
            json!({"total_count": 1, "runner_groups": [{"id": 1,
            "name": "Default", "visibility": "all", "default": true,
            "runners_url": "https://api.github.com/orgs/octocat/actions/runner_groups/1/runners",
            "inherited": false, "allows_public_repositories": true,
            "restricted_to_workflows": false, "selected_workflows": []}]}),
        ),
        (
            "actions/runner-groups/1/runners",
            json!({"total_count": 1, "runners": [runner]}),
        ),
        (
            "hooks",
            json!([{"id": 1, "name": "web", "active": true, "events": ["push"],
            "config": {"url": "https://example.com/webhook", "insecure_ssl": "0"},
            "created_at": "2011-09-06T17:26:27Z"}]),
        ),
        (
            "actions/oidc/customization/sub",
            json!({"include_claim_keys": ["repo", "context"]}),
        ),
    ]
    .into_iter()
    .map(|(p, body)| (format!("/orgs/octocat/{p}"), body))
    .collect();
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(UnchangedGithub { bodies })
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_config(d, &server.uri(), "");
    let token = "ghp_rosterEtagTest";

    let out = run(d, token, &["sync", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let first: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let requests = server.received_requests().await.unwrap();
    let first_requests = requests.len();
    // Within the first run, only the repository walk, which every per-repository listing
    // repeats, can be validated already.
    let conditional: Vec<&str> = requests
        .iter()
        .filter(|r| r.headers.contains_key("if-none-match"))
        .map(|r| r.url.path())
        .collect();
    assert!(
        conditional.iter().all(|p| *p == "/orgs/octocat/repos"),
        "{conditional:?}"
    );
    assert_eq!(
        first["connectors"][0]["not_modified"],
        conditional.len(),
        "{first}"
    );
    let seen = first["counts"]["new"].as_u64().unwrap();
    assert!(seen >= 5, "{first}");

    let out = run(d, token, &["sync", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let second: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let requests = server.received_requests().await.unwrap();
    let resync = &requests[first_requests..];
    assert!(!resync.is_empty());
    for r in resync {
        assert!(
            r.headers.contains_key("if-none-match"),
            "{} sent without a validator",
            r.url
        );
    }
    assert_eq!(
        second["connectors"][0]["not_modified"],
        resync.len(),
        "{second}"
    );
    let counts = &second["counts"];
    assert_eq!(counts["unchanged"], seen, "{second}");
    for field in ["new", "changed", "gone", "failed_listings"] {
        assert_eq!(counts[field], 0, "{field}: {second}");
    }
    let out = run(d, token, &["sync"]);
    assert!(
        text(&out).contains("request(s) answered 304 Not Modified"),
        "{}",
        text(&out)
    );

    let out = run(
        d,
        token,
        &["identities", "--platform", "github", "--format", "json"],
    );
    let items: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let group = of_type(&items, "github.runner_group")[0];
    assert!(
        rules(group).contains(&"github.runner_group.public_repos"),
        "{group}"
    );
    assert!(
        strings(&group["privilege_detail"]).contains(&"runner:linux_runner"),
        "{group}"
    );
    let runner = of_type(&items, "github.org_runner")[0];
    assert_eq!(runner["parent_id"], group["id"], "{runner}");
}
