//! Notifications for people (campaign reminders and escalations): email over SMTP and a
//! Slack-compatible incoming webhook. A [`Notifier`] is built once from resolved settings
//! (secrets already read by the caller), is cheap to clone, and reports each channel's outcome:
//! a delivery failure is a value, never a panic, and no message names a password or the webhook
//! URL (which may embed a token).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// How long one delivery may take before it counts as failed.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// One message to people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Email addresses (the webhook channel posts to its one channel and ignores them).
    pub to: Vec<String>,
    pub subject: String,
    pub text: String,
    /// Where to act, e.g. the reviewer's inbox; appended to the text.
    pub link: Option<String>,
}

impl Notification {
    /// The plain-text body: the text, then the link on its own line.
    pub fn body(&self) -> String {
        match &self.link {
            Some(link) => format!("{}\n\n{link}\n", self.text.trim_end()),
            None => format!("{}\n", self.text.trim_end()),
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same host or a test server.
    None,
    /// Upgrade with STARTTLS (usually port 587); refused if the server does not offer it.
    StartTls,
    /// TLS from the first byte (usually port 465).
    Tls,
}

/// Email settings with the password already read from its `*_env` / `*_file`.
#[derive(Clone)]
pub struct EmailSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    /// The sender, `Name <addr>` or `addr`.
    pub from: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
}

impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("from", &self.from)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "(redacted)"))
            .finish()
    }
}

impl EmailSettings {
    pub fn new(host: &str, port: u16, tls: SmtpTls, from: &str) -> Self {
        Self {
            host: host.to_owned(),
            port,
            tls,
            from: from.to_owned(),
            username: None,
            password: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Webhook settings with the URL already read from its `*_env` / `*_file`.
#[derive(Clone)]
pub struct WebhookSettings {
    pub url: String,
    pub timeout: Duration,
}

impl WebhookSettings {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &"(redacted)")
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(
        "no notification channel is configured ([notifications.email] or [notifications.webhook])"
    )]
    NoChannel,
    #[error("email: invalid settings: {0}")]
    Settings(String),
    #[error("email: `{0}` is not an email address")]
    Address(String),
    #[error("email: the notification has no recipient")]
    NoRecipient,
    #[error("email: cannot build the message: {0}")]
    Message(String),
    #[error("email: delivery through {host}:{port} failed: {detail}")]
    Smtp {
        host: String,
        port: u16,
        detail: String,
    },
    #[error("webhook: invalid URL (its text is not shown: it may hold a token)")]
    WebhookUrl,
    #[error("webhook: the receiver could not be reached: {0}")]
    WebhookUnreachable(String),
    #[error("webhook: the receiver answered HTTP {0}")]
    WebhookStatus(u16),
}

/// What happened on each configured channel; `None` for a channel that is not configured.
#[derive(Debug)]
pub struct SendReport {
    pub email: Option<Result<(), NotifyError>>,
    pub webhook: Option<Result<(), NotifyError>>,
}

impl SendReport {
    /// True when every configured channel delivered.
    pub fn all_delivered(&self) -> bool {
        [&self.email, &self.webhook]
            .into_iter()
            .flatten()
            .all(Result::is_ok)
    }

    /// The failures, by channel name.
    pub fn failures(&self) -> Vec<(&'static str, &NotifyError)> {
        [("email", &self.email), ("webhook", &self.webhook)]
            .into_iter()
            .filter_map(|(name, r)| match r {
                Some(Err(e)) => Some((name, e)),
                _ => None,
            })
            .collect()
    }
}

#[derive(Clone)]
struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    host: String,
    port: u16,
}

#[derive(Clone)]
struct WebhookChannel {
    http: reqwest::Client,
    url: reqwest::Url,
}

/// Sends [`Notification`]s on the configured channels. Clones share the HTTP client.
#[derive(Clone)]
pub struct Notifier {
    email: Option<EmailChannel>,
    webhook: Option<WebhookChannel>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field(
                "email",
                &self
                    .email
                    .as_ref()
                    .map(|e| format!("{}:{}", e.host, e.port)),
            )
            .field("webhook", &self.webhook.is_some())
            .finish()
    }
}

impl Notifier {
    /// A notifier on the given channels; at least one is required.
    pub fn new(
        email: Option<EmailSettings>,
        webhook: Option<WebhookSettings>,
    ) -> Result<Self, NotifyError> {
        if email.is_none() && webhook.is_none() {
            return Err(NotifyError::NoChannel);
        }
        Ok(Self {
            email: email.map(email_channel).transpose()?,
            webhook: webhook.map(webhook_channel).transpose()?,
        })
    }

    pub fn has_email(&self) -> bool {
        self.email.is_some()
    }

    pub fn has_webhook(&self) -> bool {
        self.webhook.is_some()
    }

    /// Delivers `n` on every configured channel, concurrently.
    pub async fn send(&self, n: &Notification) -> SendReport {
        let email = async {
            match &self.email {
                Some(ch) => Some(send_email(ch, n).await),
                None => None,
            }
        };
        let webhook = async {
            match &self.webhook {
                Some(ch) => Some(send_webhook(ch, n).await),
                None => None,
            }
        };
        let (email, webhook) = futures::join!(email, webhook);
        for (channel, e) in [("email", &email), ("webhook", &webhook)] {
            if let Some(Err(e)) = e {
                tracing::warn!(channel, error = %e, "notification not delivered");
            }
        }
        SendReport { email, webhook }
    }
}

fn email_channel(s: EmailSettings) -> Result<EmailChannel, NotifyError> {
    let from: Mailbox = s
        .from
        .parse()
        .map_err(|_| NotifyError::Address(s.from.clone()))?;
    let builder = match s.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
        SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)
            .map_err(|e| NotifyError::Settings(e.to_string()))?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)
            .map_err(|e| NotifyError::Settings(e.to_string()))?,
    };
    let mut builder = builder.port(s.port).timeout(Some(s.timeout));
    match (s.username, s.password) {
        (Some(user), Some(password)) => {
            builder = builder.credentials(Credentials::new(user, password))
        }
        (None, None) => {}
        _ => {
            return Err(NotifyError::Settings(
                "username and password go together".into(),
            ));
        }
    }
    Ok(EmailChannel {
        transport: builder.build(),
        from,
        host: s.host,
        port: s.port,
    })
}

fn webhook_channel(s: WebhookSettings) -> Result<WebhookChannel, NotifyError> {
    let url = reqwest::Url::parse(s.url.trim()).map_err(|_| NotifyError::WebhookUrl)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(NotifyError::WebhookUrl);
    }
    let http = reqwest::Client::builder()
        // A redirect could carry the message (and the URL's token) elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .timeout(s.timeout)
        .build()
        .map_err(|e| NotifyError::WebhookUnreachable(e.without_url().to_string()))?;
    Ok(WebhookChannel { http, url })
}

async fn send_email(ch: &EmailChannel, n: &Notification) -> Result<(), NotifyError> {
    if n.to.is_empty() {
        return Err(NotifyError::NoRecipient);
    }
    let mut builder = Message::builder()
        .from(ch.from.clone())
        .subject(n.subject.clone());
    for to in &n.to {
        let mailbox: Mailbox = to
            .trim()
            .parse()
            .map_err(|_| NotifyError::Address(to.clone()))?;
        builder = builder.to(mailbox);
    }
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(n.body())
        .map_err(|e| NotifyError::Message(e.to_string()))?;
    ch.transport
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| NotifyError::Smtp {
            host: ch.host.clone(),
            port: ch.port,
            detail: error_chain(&e),
        })
}

async fn send_webhook(ch: &WebhookChannel, n: &Notification) -> Result<(), NotifyError> {
    let text = format!("{}\n{}", n.subject, n.body());
    let resp = ch
        .http
        .post(ch.url.clone())
        .json(&serde_json::json!({ "text": text.trim_end() }))
        .send()
        .await
        // reqwest's message names the URL, which may hold the webhook's token.
        .map_err(|e| NotifyError::WebhookUnreachable(error_chain(&e.without_url())))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(NotifyError::WebhookStatus(resp.status().as_u16()))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn note(to: &[&str]) -> Notification {
        Notification {
            to: to.iter().map(|s| (*s).to_owned()).collect(),
            subject: "Review due".into(),
            text: "Three identities await your review.".into(),
            link: Some("https://roster.example/reviews".into()),
        }
    }

    #[test]
    fn the_body_ends_with_the_link() {
        assert_eq!(
            note(&[]).body(),
            "Three identities await your review.\n\nhttps://roster.example/reviews\n"
        );
    }

    #[test]
    fn a_notifier_needs_a_channel_and_valid_settings() {
        assert!(matches!(
            Notifier::new(None, None),
            Err(NotifyError::NoChannel)
        ));
        let bad_from = EmailSettings::new("127.0.0.1", 25, SmtpTls::None, "not an address");
        assert!(matches!(
            Notifier::new(Some(bad_from), None),
            Err(NotifyError::Address(_))
        ));
        let err = Notifier::new(
            None,
            Some(WebhookSettings::new("ftp://hooks.example/T0KEN-canary")),
        )
        .unwrap_err();
        assert!(!err.to_string().contains("T0KEN-canary"), "{err}");
        let mut half = EmailSettings::new("127.0.0.1", 25, SmtpTls::None, "roster@x.example");
        half.username = Some("u".into());
        assert!(matches!(
            Notifier::new(Some(half), None),
            Err(NotifyError::Settings(_))
        ));
    }

    #[test]
    fn debug_output_hides_the_password_and_url() {
        let mut s = EmailSettings::new("smtp.example", 587, SmtpTls::StartTls, "r@x.example");
        s.username = Some("roster".into());
        s.password = Some("canary-smtp-password".into());
        assert!(!format!("{s:?}").contains("canary-smtp-password"));
        let w = WebhookSettings::new("https://hooks.example/services/canary-path");
        assert!(!format!("{w:?}").contains("canary-path"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_reported_failure() {
        // Bind then drop: nothing listens on this port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let n = Notifier::new(
            Some(EmailSettings::new(
                "127.0.0.1",
                port,
                SmtpTls::None,
                "roster@x.example",
            )),
            None,
        )
        .unwrap();
        let report = n.send(&note(&["a@x.example"])).await;
        assert!(!report.all_delivered());
        assert!(matches!(report.email, Some(Err(NotifyError::Smtp { .. }))));
        assert!(report.webhook.is_none());
        let report = n.send(&note(&["not an address"])).await;
        assert!(matches!(report.email, Some(Err(NotifyError::Address(_)))));
        let report = n.send(&note(&[])).await;
        assert!(matches!(report.email, Some(Err(NotifyError::NoRecipient))));
    }
}
