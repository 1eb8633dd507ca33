#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The webhook channel against a local receiver (wiremock): the Slack-compatible `{"text": …}`
//! body, and a refusal reported without the URL's token.

use roster_notify::{Notification, Notifier, NotifyError, WebhookSettings};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN_PATH: &str = "/services/T000/B000/canary-webhook-token";

fn reminder() -> Notification {
    Notification {
        to: vec!["ana@acme.example".into()],
        subject: "Access review due in 3 days".into(),
        text: "2 identities await your decision.".into(),
        link: Some("https://roster.acme.example/reviews/7".into()),
    }
}

#[tokio::test]
async fn posts_slack_text_with_subject_text_and_link() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&receiver)
        .await;
    let notifier = Notifier::new(
        None,
        Some(WebhookSettings::new(&format!(
            "{}{TOKEN_PATH}",
            receiver.uri()
        ))),
    )
    .unwrap();
    let report = notifier.clone().send(&reminder()).await;
    assert!(report.all_delivered(), "{report:?}");
    assert!(report.email.is_none());
    let got = receiver.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&got[0].body).unwrap();
    let text = body["text"].as_str().unwrap();
    assert_eq!(
        text,
        "Access review due in 3 days\n2 identities await your decision.\n\nhttps://roster.acme.example/reviews/7"
    );
    assert_eq!(body.as_object().unwrap().len(), 1, "only `text`: {body}");
}

#[tokio::test]
async fn a_refusal_is_reported_without_the_url() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&receiver)
        .await;
    let notifier = Notifier::new(
        None,
        Some(WebhookSettings::new(&format!(
            "{}{TOKEN_PATH}",
            receiver.uri()
        ))),
    )
    .unwrap();
    let report = notifier.send(&reminder()).await;
    assert!(!report.all_delivered());
    let failures = report.failures();
    assert_eq!(failures.len(), 1);
    assert!(matches!(failures[0].1, NotifyError::WebhookStatus(500)));

    // Nobody listening (a port bound, then let go; wiremock pools its servers, so dropping one
    // does not close it): unreachable, and the message does not carry the token either.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = Notifier::new(
        None,
        Some(WebhookSettings::new(&format!(
            "http://127.0.0.1:{port}{TOKEN_PATH}"
        ))),
    )
    .unwrap();
    let report = gone.send(&reminder()).await;
    let failures = report.failures();
    assert!(
        matches!(failures[0].1, NotifyError::WebhookUnreachable(_)),
        "{failures:?}"
    );
    assert!(
        !failures[0].1.to_string().contains("canary-webhook-token"),
        "{}",
        failures[0].1
    );
}
