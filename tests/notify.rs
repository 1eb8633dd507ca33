#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Notification channels end to end: `roster notify test` delivers to a real SMTP server
//! (PyPI `aiosmtpd`, started by the harness in `support`) and to a local Slack-compatible
//! receiver (wiremock), and the message is read back from the mailbox. Skips when
//! `ROSTER_AIOSMTPD_PYTHON` is unset; `tests/run` sets it.

mod support;

use std::process::Command;

use support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const HOOK_VAR: &str = "ROSTER_TEST_NOTIFY_WEBHOOK_URL";
const HOOK_PATH: &str = "/services/T1/B1/canary-slack-token";

fn notify_test(config: &std::path::Path, to: &str, hook_url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_roster"))
        .args(["notify", "test", "--to", to, "--config"])
        .arg(config)
        .env_remove("ROSTER_CONFIG")
        .env(HOOK_VAR, hook_url)
        .output()
        .unwrap()
}

#[tokio::test]
async fn notify_test_delivers_by_email_and_webhook_and_reports_failures() {
    let Some(smtp) = start_smtp() else {
        return;
    };
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&receiver)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roster.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\npublic_url = \"https://roster.acme.example\"\n\
             [database]\nurl = \"sqlite://{}?mode=rwc\"\n{}\
             [notifications.webhook]\nurl_env = \"{HOOK_VAR}\"\n",
            dir.path().join("roster.db").display(),
            smtp.config_section()
        ),
    )
    .unwrap();
    let hook_url = format!("{}{HOOK_PATH}", receiver.uri());

    let out = notify_test(&config, "ops@acme.example", &hook_url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("email: sent to ops@acme.example"),
        "{stdout}"
    );
    assert!(stdout.contains("webhook: delivered"), "{stdout}");

    // The mail, read back from the server's mailbox.
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.header("Subject"), Some("Roster test notification"));
    assert!(
        mail.header("To").unwrap().contains("ops@acme.example"),
        "{mail:?}"
    );
    assert!(
        mail.header("From").unwrap().contains("roster@acme.example"),
        "{mail:?}"
    );
    assert!(
        mail.body.contains("This is a test message from Roster."),
        "{}",
        mail.body
    );
    assert!(
        mail.body.contains("https://roster.acme.example/"),
        "the link: {}",
        mail.body
    );

    // The webhook's Slack-compatible body.
    let got = receiver.received_requests().await.unwrap();
    assert_eq!(got.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("Roster test notification\n"), "{text}");
    assert!(text.contains("https://roster.acme.example/"), "{text}");

    // A receiver that refuses and a bad recipient: exit 1, each channel says why, and neither
    // the webhook's token nor anything else secret is printed.
    receiver.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&receiver)
        .await;
    let out = notify_test(&config, "not an address", &hook_url);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("email: FAILED"), "{stdout}");
    assert!(
        stdout.contains("webhook: FAILED: webhook: the receiver answered HTTP 403"),
        "{stdout}"
    );
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("canary-slack-token"), "{all}");
    assert_eq!(smtp.messages().len(), 1, "nothing more was sent");
}

#[tokio::test]
async fn an_unreachable_relay_and_a_missing_channel_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("roster.toml");
    std::fs::write(&config, "[server]\npublic_url = \"http://127.0.0.1:1\"\n").unwrap();
    let out = notify_test(&config, "ops@acme.example", "http://127.0.0.1:1/");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no notification channel is configured"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(
        &config,
        format!(
            "[notifications.email]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"roster@acme.example\"\n",
            free_port()
        ),
    )
    .unwrap();
    let out = notify_test(&config, "ops@acme.example", "");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("email: FAILED: email: delivery through 127.0.0.1:"),
        "{stdout}"
    );
}
