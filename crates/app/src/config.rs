//! `roster.toml` plus `ROSTER_SECTION__KEY` environment overrides (figment). Secrets are given
//! only as `*_env` (a variable's name) or `*_file` (a path): a literal secret, an unknown key or
//! a bad value is refused with a message naming the key, before anything is opened or written.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use figment::value::{Dict, Value};
use serde::Deserialize;

/// Top-level sections that environment variables may set (`ROSTER_DATABASE__URL`). Other
/// `ROSTER_*` variables (the test harness's, `ROSTER_CONFIG`) are not configuration keys.
const ENV_SECTIONS: &[&str] = &["server", "database", "auth", "policy"];

/// Key names that would hold a secret value if given literally.
const SECRET_KEY_NAMES: &[&str] = &[
    "token",
    "secret",
    "password",
    "client_secret",
    "private_key",
    "api_key",
    "secret_access_key",
    "access_token",
    "webhook_secret",
    "webhook_url",
    "chain_key",
    "signing_key",
];

/// Full key paths whose value is a secret although their leaf name is innocent elsewhere (a
/// `url` is harmless on a connector, but a webhook's URL carries its token).
const SECRET_KEY_PATHS: &[&str] = &["notifications.webhook.url"];

/// Value shapes that are secrets whatever key they sit under.
const SECRET_VALUE_PREFIXES: &[&str] = &[
    "ghp_",
    "gho_",
    "ghu_",
    "ghs_",
    "ghr_",
    "github_pat_",
    "glpat-",
    "gldt-",
    "glptt-",
    "xoxb-",
    "xoxp-",
    "-----BEGIN",
];

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {detail}")]
    Read { path: String, detail: String },
    #[error("config: {0}")]
    Invalid(String),
    #[error(
        "config key `{key}` holds a literal secret; Roster never takes secrets inline. Put it in an \
         environment variable and set `{base}_env`, or in a file and set `{base}_file`"
    )]
    LiteralSecret { key: String, base: String },
    #[error("config key `{key}`: {detail}")]
    BadValue { key: String, detail: String },
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub database: DatabaseConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub connectors: Vec<ConnectorConfig>,
    #[serde(default)]
    pub policy: PolicyConfig,
    #[serde(default)]
    pub audit: AuditConfig,
    #[serde(default)]
    pub notifications: NotificationsConfig,
    /// Campaign definitions launched on a schedule by `roster serve`.
    #[serde(default)]
    pub campaigns: Vec<CampaignConfig>,
    #[serde(default)]
    pub scheduler: SchedulerConfig,
    #[serde(default)]
    pub retention: RetentionConfig,
}

/// How long history is kept. `roster serve` prunes daily (and `roster prune` on demand); the
/// audit trail is never pruned.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days of record history (each change, disappearance and return of a record) kept; 0
    /// keeps all of it. The default, 400, covers a yearly audit with a margin.
    pub record_history_days: u32,
    /// Days a sync run's per-listing report is kept (the run, its counts and its dashboard
    /// summary stay); 0 keeps every report.
    pub sync_run_detail_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            record_history_days: 400,
            sync_run_detail_days: 90,
        }
    }
}

/// When `roster serve` runs its own jobs (connector syncs and campaign launches have their
/// schedules on their own entries).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchedulerConfig {
    /// Cron with seconds for campaign reminders and escalations (default: hourly).
    pub reminders: String,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            reminders: "0 0 * * * *".into(),
        }
    }
}

/// One `[[campaigns]]` definition: a recurring access review.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignConfig {
    /// Unique; each launch is named after it and the launch date.
    pub name: String,
    /// An inventory query string, e.g. `platform=aws&tier=high` (empty: everything).
    #[serde(default)]
    pub scope: String,
    /// Cron with seconds, e.g. `0 0 9 1 1,4,7,10 *` (quarterly). Without it, launch by hand.
    pub schedule: Option<String>,
    #[serde(default = "default_due_days")]
    pub due_days: u32,
    pub fallback_reviewer: String,
    /// Team (as an owner value) → who reviews that team's identities.
    #[serde(default)]
    pub team_reviewers: std::collections::HashMap<String, String>,
    /// `escalate` (default), `revoke` or `leave_open`.
    #[serde(default)]
    pub close_out: roster_core::campaign::CloseOut,
    /// Keep decisions at or above this tier need a justification (`none` for never).
    #[serde(default = "default_keep_justification")]
    pub keep_justification_from: String,
    #[serde(default = "default_reminder_days")]
    pub reminder_days: Vec<u32>,
}

fn default_due_days() -> u32 {
    14
}

fn default_keep_justification() -> String {
    "high".into()
}

fn default_reminder_days() -> Vec<u32> {
    vec![7, 3, 1]
}

impl CampaignConfig {
    pub fn rules(&self) -> Result<roster_core::campaign::CampaignRules, ConfigError> {
        let keep_justification_from =
            roster_core::campaign::parse_keep_justification_from(&self.keep_justification_from)
                .map_err(|e| ConfigError::BadValue {
                    key: format!("campaigns.{}.keep_justification_from", self.name),
                    detail: format!("{e} (or `none`)"),
                })?;
        Ok(roster_core::campaign::CampaignRules {
            fallback_reviewer: self.fallback_reviewer.clone(),
            team_reviewers: self.team_reviewers.clone(),
            close_out: self.close_out,
            keep_justification_from,
            reminder_days: self.reminder_days.clone(),
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub bind: String,
    pub public_url: String,
    /// Reverse proxies (CIDRs) whose `X-Forwarded-For` is believed: the client is the last
    /// address that is not one of them. Empty (the default): the TCP peer is the client.
    pub trusted_proxies: Vec<String>,
    /// A session ends after this many minutes without a request (default 30; 5 to 480).
    pub session_idle_minutes: u32,
    /// A second listener (`address:port`) that serves only `/metrics`, without a token: for
    /// a scraper that reaches this address and nobody else does. Without it, `/metrics` on
    /// `bind` needs an API token.
    pub metrics_bind: Option<String>,
    /// On SIGTERM, how long requests and scheduled jobs in flight get to finish (default 25;
    /// 1 to 600). Keep it below the orchestrator's own grace (Kubernetes: 30 s by default).
    pub shutdown_grace_seconds: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            public_url: "http://localhost:8080".into(),
            trusted_proxies: Vec::new(),
            session_idle_minutes: 30,
            metrics_bind: None,
            shutdown_grace_seconds: 25,
        }
    }
}

impl ServerConfig {
    /// [`Self::metrics_bind`] parsed (checked when the configuration loads): an address and
    /// port other than `bind`.
    pub fn metrics_address(&self) -> Result<Option<std::net::SocketAddr>, ConfigError> {
        let Some(text) = &self.metrics_bind else {
            return Ok(None);
        };
        let bad = |detail: String| ConfigError::BadValue {
            key: "server.metrics_bind".into(),
            detail,
        };
        let addr: std::net::SocketAddr = text.trim().parse().map_err(|_| {
            bad(format!(
                "`{text}` is not an address:port (e.g. 0.0.0.0:9464)"
            ))
        })?;
        if self.bind.parse::<std::net::SocketAddr>().ok() == Some(addr) {
            return Err(bad(format!(
                "`{text}` is `server.bind`; the metrics listener needs an address of its own"
            )));
        }
        Ok(Some(addr))
    }

    /// [`Self::trusted_proxies`] parsed (checked when the configuration loads).
    pub fn trusted_networks(&self) -> Result<Vec<ipnet::IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, cidr)| {
                let cidr = cidr.trim();
                cidr.parse::<ipnet::IpNet>()
                    .or_else(|_| cidr.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|e| ConfigError::BadValue {
                        key: format!("server.trusted_proxies[{i}]"),
                        detail: format!("`{cidr}` is not an address or CIDR: {e}"),
                    })
            })
            .collect()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    pub url: String,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: "sqlite://roster.db?mode=rwc".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub oidc: Option<OidcConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret_env: Option<String>,
    pub client_secret_file: Option<PathBuf>,
    #[serde(default = "default_role_claim")]
    pub role_claim: String,
    #[serde(default)]
    pub admin_groups: Vec<String>,
    #[serde(default)]
    pub auditor_groups: Vec<String>,
    /// Take the `email` claim as who signed in even when `email_verified` is not true: only for
    /// a provider that sends no `email_verified` and lets nobody set their own address.
    #[serde(default)]
    pub trust_unverified_email: bool,
    /// A session signed in through the provider ends after this many minutes (default 60, 5 to
    /// 480), so the next request signs in again and takes the role the provider gives now: a
    /// role removed there lasts at most this long here.
    #[serde(default = "default_role_refresh_minutes")]
    pub role_refresh_minutes: u32,
}

fn default_role_refresh_minutes() -> u32 {
    60
}

fn default_role_claim() -> String {
    "groups".into()
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub file: Option<PathBuf>,
}

/// `[audit]`: where the audit trail is copied to (a SIEM's HTTP collector).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The receiver's URL; it may embed a token, so it is given only by variable or file.
    pub webhook_url_env: Option<String>,
    pub webhook_url_file: Option<PathBuf>,
    /// Key of the `X-Roster-Signature: sha256=<hex>` HMAC-SHA256 over each body.
    pub webhook_secret_env: Option<String>,
    pub webhook_secret_file: Option<PathBuf>,
    /// Key of the audit chain's HMAC (at least 16 bytes; 32 random ones recommended): with it
    /// the trail cannot be rewritten and re-chained by someone who can only write the table.
    pub chain_key_env: Option<String>,
    pub chain_key_file: Option<PathBuf>,
    /// An Ed25519 private key (its 32-byte seed, hex) that signs audit checkpoints.
    pub signing_key_env: Option<String>,
    pub signing_key_file: Option<PathBuf>,
    /// The public half (hex) checkpoints are verified with, where the signing key is not at
    /// hand (an auditor's machine). Public: it may be written here.
    pub checkpoint_public_key: Option<String>,
    /// Where `roster serve` writes a signed checkpoint of the trail's head every hour
    /// (`checkpoint-<event id>.json`), for copying off the database's host.
    pub checkpoint_dir: Option<PathBuf>,
}

impl AuditConfig {
    /// The checkpoint signing key; `None` when not configured.
    pub fn signing_key(&self) -> Result<Option<ed25519_dalek::SigningKey>, ConfigError> {
        let Some(text) = read_secret(
            "audit.signing_key",
            self.signing_key_env.as_deref(),
            self.signing_key_file.as_deref(),
        )?
        else {
            return Ok(None);
        };
        let seed = decode_key32(&text).ok_or_else(|| ConfigError::BadValue {
            key: "audit.signing_key".into(),
            detail: "not 32 bytes in hex (make one with `openssl rand -hex 32`)".into(),
        })?;
        Ok(Some(ed25519_dalek::SigningKey::from_bytes(&seed)))
    }

    /// The key checkpoints are verified with: `checkpoint_public_key`, else the signing key's
    /// public half; `None` when neither is configured.
    pub fn checkpoint_verifying_key(
        &self,
    ) -> Result<Option<ed25519_dalek::VerifyingKey>, ConfigError> {
        let bad = |detail: &str| ConfigError::BadValue {
            key: "audit.checkpoint_public_key".into(),
            detail: detail.into(),
        };
        if let Some(text) = &self.checkpoint_public_key {
            let bytes = decode_key32(text).ok_or_else(|| bad("not 32 bytes in hex"))?;
            return ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                .map(Some)
                .map_err(|_| bad("not an Ed25519 public key"));
        }
        Ok(self.signing_key()?.map(|k| k.verifying_key()))
    }

    /// The audit chain's key, read from its variable or file; `None` when not configured.
    pub fn chain_key(&self) -> Result<Option<roster_store::audit::AuditKey>, ConfigError> {
        let Some(key) = read_secret(
            "audit.chain_key",
            self.chain_key_env.as_deref(),
            self.chain_key_file.as_deref(),
        )?
        else {
            return Ok(None);
        };
        roster_store::audit::AuditKey::new(key.as_bytes())
            .map(Some)
            .ok_or_else(|| ConfigError::BadValue {
                key: "audit.chain_key".into(),
                detail: format!(
                    "the key is shorter than {} bytes",
                    roster_store::audit::AuditKey::MIN_LEN
                ),
            })
    }
}

/// `[notifications]`: the channels reminders and escalations go out on.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NotificationsConfig {
    pub email: Option<EmailConfig>,
    pub webhook: Option<NotifyWebhookConfig>,
}

/// `[notifications.email]`: an SMTP relay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default)]
    pub tls: SmtpTlsMode,
    /// The sender, `Roster <roster@example.com>` or an address.
    pub from: String,
    pub username: Option<String>,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
}

fn default_smtp_port() -> u16 {
    587
}

#[derive(Debug, Clone, Copy, Deserialize, Default, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTlsMode {
    None,
    #[default]
    Starttls,
    Tls,
}

/// `[notifications.webhook]`: a Slack-compatible incoming webhook (its URL holds a token).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NotifyWebhookConfig {
    pub url_env: Option<String>,
    pub url_file: Option<PathBuf>,
}

/// Reads a secret named by `<key>_env` or `<key>_file` (one of them, not both), trimmed;
/// `None` when neither is set. Messages name the key and the variable or path, never the value.
pub fn read_secret(
    key: &str,
    env: Option<&str>,
    file: Option<&Path>,
) -> Result<Option<String>, ConfigError> {
    let value = match (env, file) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::BadValue {
                key: format!("{key}_env"),
                detail: format!("set one of `{key}_env` and `{key}_file`, not both"),
            });
        }
        (Some(var), None) => std::env::var(var).map_err(|_| ConfigError::BadValue {
            key: format!("{key}_env"),
            detail: format!("environment variable `{var}` is not set"),
        })?,
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| ConfigError::BadValue {
            key: format!("{key}_file"),
            detail: format!("cannot read {}: {e}", path.display()),
        })?,
        (None, None) => return Ok(None),
    };
    let value = value.trim().to_owned();
    if value.is_empty() {
        return Err(ConfigError::BadValue {
            key: format!("{key}_{}", if env.is_some() { "env" } else { "file" }),
            detail: "the secret is empty".into(),
        });
    }
    Ok(Some(value))
}

impl NotificationsConfig {
    /// The notifier for the configured channels, secrets read; `None` when no channel is
    /// configured.
    pub fn notifier(&self) -> Result<Option<roster_notify::Notifier>, ConfigError> {
        let email = match &self.email {
            None => None,
            Some(e) => {
                let mut s = roster_notify::EmailSettings::new(
                    &e.host,
                    e.port,
                    match e.tls {
                        SmtpTlsMode::None => roster_notify::SmtpTls::None,
                        SmtpTlsMode::Starttls => roster_notify::SmtpTls::StartTls,
                        SmtpTlsMode::Tls => roster_notify::SmtpTls::Tls,
                    },
                    &e.from,
                );
                s.username = e.username.clone();
                s.password = read_secret(
                    "notifications.email.password",
                    e.password_env.as_deref(),
                    e.password_file.as_deref(),
                )?;
                Some(s)
            }
        };
        let webhook = match &self.webhook {
            None => None,
            Some(w) => {
                let url = read_secret(
                    "notifications.webhook.url",
                    w.url_env.as_deref(),
                    w.url_file.as_deref(),
                )?
                .ok_or_else(|| ConfigError::BadValue {
                    key: "notifications.webhook".into(),
                    detail: "set `url_env` or `url_file`".into(),
                })?;
                Some(roster_notify::WebhookSettings::new(&url))
            }
        };
        if email.is_none() && webhook.is_none() {
            return Ok(None);
        }
        roster_notify::Notifier::new(email, webhook)
            .map(Some)
            .map_err(|e| ConfigError::BadValue {
                key: "notifications".into(),
                detail: e.to_string(),
            })
    }
}

/// One `[[connectors]]` entry. The kind-specific keys stay as a table here and are checked by
/// that kind's own config type (see `registry`), which refuses unknown keys.
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectorConfig {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub schedule: Option<String>,
    #[serde(flatten)]
    pub settings: Dict,
}

impl Config {
    /// Loads `path` (if given, it must exist; else `./roster.toml` if present, else defaults),
    /// then environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Some(p) = path
            && !p.exists()
        {
            return Err(ConfigError::Read {
                path: p.display().to_string(),
                detail: "no such file".into(),
            });
        }
        if let Some(p) = Self::file_in_use(path) {
            figment = figment.merge(Toml::file_exact(p));
        }
        // figment hands the filter the key as written (`DATABASE.URL`) and lowercases later.
        figment = figment.merge(Env::prefixed("ROSTER_").split("__").filter(|k| {
            let key = k.as_str().to_ascii_lowercase();
            ENV_SECTIONS
                .iter()
                .any(|s| key.starts_with(&format!("{s}.")))
        }));
        Self::from_figment(figment)
    }

    /// The file [`Config::load`] reads for `path`: `path` itself, else `./roster.toml` if
    /// present, else none (built-in defaults).
    pub fn file_in_use(path: Option<&Path>) -> Option<PathBuf> {
        match path {
            Some(p) => Some(p.to_owned()),
            None => Path::new("roster.toml")
                .exists()
                .then(|| PathBuf::from("roster.toml")),
        }
    }

    /// Parses configuration text (tests, and `load`'s core).
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::from_figment(Figment::new().merge(Toml::string(text)))
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let root: Dict = figment.extract().map_err(figment_error)?;
        for (k, v) in &root {
            refuse_literal_secrets(k, v)?;
        }
        let config: Config = figment.extract().map_err(figment_error)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.server.trusted_networks()?;
        let mut names = std::collections::HashSet::new();
        for (i, c) in self.connectors.iter().enumerate() {
            if c.name.trim().is_empty() {
                return Err(ConfigError::BadValue {
                    key: format!("connectors[{i}].name"),
                    detail: "must not be empty".into(),
                });
            }
            if !names.insert(c.name.as_str()) {
                return Err(ConfigError::BadValue {
                    key: format!("connectors[{i}].name"),
                    detail: format!("`{}` is used by two connectors", c.name),
                });
            }
        }
        let mut campaigns = std::collections::HashSet::new();
        for (i, c) in self.campaigns.iter().enumerate() {
            let key = |k: &str| format!("campaigns[{i}].{k}");
            if c.name.trim().is_empty() || !campaigns.insert(c.name.as_str()) {
                return Err(ConfigError::BadValue {
                    key: key("name"),
                    detail: "must be non-empty and unique".into(),
                });
            }
            if c.fallback_reviewer.trim().is_empty() {
                return Err(ConfigError::BadValue {
                    key: key("fallback_reviewer"),
                    detail: "must not be empty".into(),
                });
            }
            if !(1..=366).contains(&c.due_days) {
                return Err(ConfigError::BadValue {
                    key: key("due_days"),
                    detail: "must be 1 to 366".into(),
                });
            }
            c.rules()?;
        }
        if !(self.database.url.starts_with("sqlite:") || self.database.url.starts_with("postgres"))
        {
            return Err(ConfigError::BadValue {
                key: "database.url".into(),
                detail: "must start with sqlite: or postgres://".into(),
            });
        }
        if let Some(e) = &self.notifications.email {
            if e.host.trim().is_empty() {
                return Err(ConfigError::BadValue {
                    key: "notifications.email.host".into(),
                    detail: "must not be empty".into(),
                });
            }
            if e.username.is_some() != (e.password_env.is_some() || e.password_file.is_some()) {
                return Err(ConfigError::BadValue {
                    key: "notifications.email.username".into(),
                    detail: "a username needs `password_env` or `password_file`, and a password \
                             a username"
                        .into(),
                });
            }
        }
        // Schedules and URLs are checked here, before anything is opened or written: a bad
        // cron used to pass `sync` and fail `serve` only after its migrations and audit events.
        for (i, c) in self.connectors.iter().enumerate() {
            if let Some(s) = &c.schedule {
                check_cron(&format!("connectors[{i}].schedule"), s)?;
            }
        }
        for (i, c) in self.campaigns.iter().enumerate() {
            if let Some(s) = &c.schedule {
                check_cron(&format!("campaigns[{i}].schedule"), s)?;
            }
            crate::campaigns::parse_scope(&c.scope).map_err(|e| ConfigError::BadValue {
                key: format!("campaigns[{i}].scope"),
                detail: e.to_string(),
            })?;
        }
        check_cron("scheduler.reminders", &self.scheduler.reminders)?;
        if self.audit.checkpoint_public_key.is_some() {
            self.audit.checkpoint_verifying_key()?;
        }
        check_public_url(&self.server.public_url)?;
        if let Some(o) = &self.auth.oidc
            && !(5..=480).contains(&o.role_refresh_minutes)
        {
            return Err(ConfigError::BadValue {
                key: "auth.oidc.role_refresh_minutes".into(),
                detail: "must be 5 to 480".into(),
            });
        }
        if !(5..=480).contains(&self.server.session_idle_minutes) {
            return Err(ConfigError::BadValue {
                key: "server.session_idle_minutes".into(),
                detail: "must be 5 to 480".into(),
            });
        }
        if !(1..=600).contains(&self.server.shutdown_grace_seconds) {
            return Err(ConfigError::BadValue {
                key: "server.shutdown_grace_seconds".into(),
                detail: "must be 1 to 600".into(),
            });
        }
        check_database_url(&self.database.url)?;
        if self.server.bind.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::BadValue {
                key: "server.bind".into(),
                detail: format!("`{}` is not an address:port", self.server.bind),
            });
        }
        self.server.metrics_address()?;
        Ok(())
    }
}

/// 32 bytes written as 64 hex digits.
fn decode_key32(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text.trim()).ok()?;
    bytes.try_into().ok()
}

/// A cron expression with seconds, as the scheduler reads it.
fn check_cron(key: &str, schedule: &str) -> Result<(), ConfigError> {
    tokio_cron_scheduler::Job::new(schedule, |_, _| {})
        .map(|_| ())
        .map_err(|e| ConfigError::BadValue {
            key: key.to_owned(),
            detail: format!(
                "`{schedule}` is not a cron schedule with seconds (e.g. `0 0 6 * * *`): {e}"
            ),
        })
}

/// The address people reach the server at: an http(s) URL with a host, which sign-in links,
/// OIDC redirects and notifications are built from.
fn check_public_url(url: &str) -> Result<(), ConfigError> {
    let bad = |detail: String| ConfigError::BadValue {
        key: "server.public_url".into(),
        detail,
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(format!("`{url}` is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(str::is_empty) {
        return Err(bad(format!(
            "`{url}` must be an http:// or https:// URL with a host"
        )));
    }
    Ok(())
}

/// `sqlite://FILE[?…]`, `sqlite::memory:`, or `postgres://…@HOST/DB`.
fn check_database_url(url: &str) -> Result<(), ConfigError> {
    let bad = |detail: &str| ConfigError::BadValue {
        key: "database.url".into(),
        detail: format!("`{}`: {detail}", roster_store::redact_url(url)),
    };
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or_default();
        if path.is_empty() {
            return Err(bad(
                "names no database file (e.g. sqlite://roster.db?mode=rwc, or sqlite::memory:)",
            ));
        }
        return Ok(());
    }
    let parsed = url::Url::parse(url).map_err(|e| bad(&format!("not a URL: {e}")))?;
    // A Unix socket is named by `?host=/run/postgresql` instead.
    if parsed.host_str().is_none_or(str::is_empty)
        && !parsed.query_pairs().any(|(k, _)| k == "host")
    {
        return Err(bad(
            "names no host (e.g. postgres://roster@db.internal/roster)",
        ));
    }
    Ok(())
}

/// figment's messages name the key path; keep them, minus its "default." profile prefix.
fn figment_error(e: figment::Error) -> ConfigError {
    let mut parts = Vec::new();
    for err in e {
        let path = err.path.join(".");
        let mut kind = err.kind.to_string();
        if let figment::error::Kind::UnknownField(field, _) = &err.kind {
            // figment's path may already end with the field (`server.bnd`), or stop at its
            // table (`server`): name it once either way.
            let key = if path.is_empty() {
                field.clone()
            } else if path == *field || path.ends_with(&format!(".{field}")) {
                path.clone()
            } else {
                format!("{path}.{field}")
            };
            kind = format!("unknown key `{key}`");
        } else if !path.is_empty() {
            kind = format!("key `{path}`: {kind}");
        }
        parts.push(kind);
    }
    ConfigError::Invalid(parts.join("; "))
}

fn refuse_literal_secrets(key: &str, value: &Value) -> Result<(), ConfigError> {
    match value {
        Value::Dict(_, dict) => {
            for (k, v) in dict {
                refuse_literal_secrets(&format!("{key}.{k}"), v)?;
            }
        }
        Value::Array(_, items) => {
            for (i, v) in items.iter().enumerate() {
                refuse_literal_secrets(&format!("{key}[{i}]"), v)?;
            }
        }
        Value::String(_, s) => {
            let leaf = key
                .rsplit(['.', ']'])
                .next()
                .unwrap_or(key)
                .to_ascii_lowercase();
            let named_secret = SECRET_KEY_NAMES.contains(&leaf.as_str())
                || SECRET_KEY_PATHS.contains(&key.to_ascii_lowercase().as_str());
            let looks_secret = SECRET_VALUE_PREFIXES.iter().any(|p| s.starts_with(p))
                || (s.len() == 20 && (s.starts_with("AKIA") || s.starts_with("ASIA")));
            if named_secret || looks_secret {
                return Err(ConfigError::LiteralSecret {
                    key: key.to_owned(),
                    base: leaf,
                });
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_sqlite() {
        let c = Config::from_toml_str("").unwrap();
        assert_eq!(c.database.url, "sqlite://roster.db?mode=rwc");
        assert_eq!(c.server.bind, "127.0.0.1:8080");
    }

    #[test]
    fn literal_secrets_are_refused_naming_the_key_not_the_value() {
        let err = Config::from_toml_str(
            "[[connectors]]\nname = \"gh\"\nkind = \"github\"\ntoken = \"ghp_abcdef123456\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("connectors[0].token") && err.contains("token_env"),
            "{err}"
        );
        assert!(!err.contains("ghp_abcdef"), "{err}");
        // A secret-shaped value under an innocent name is refused too.
        let err = Config::from_toml_str(
            "[[connectors]]\nname = \"x\"\nkind = \"github\"\norg = \"glpat-zzzz\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("connectors[0].org"), "{err}");
        assert!(
            Config::from_toml_str(
                "[[connectors]]\nname = \"gh\"\nkind = \"github\"\ntoken_env = \"GH\"\n"
            )
            .is_ok()
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let err = Config::from_toml_str("[server]\nbnd = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.bnd"), "{err}");
        let err = Config::from_toml_str("[database]\nurl = \"mysql://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("database.url"), "{err}");
        let err = Config::from_toml_str("[server]\nbind = 8080\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("server.bind"), "{err}");
        let err = Config::from_toml_str("colour = 1\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("colour"), "{err}");
        for bad in ["9464", "localhost:9464", "127.0.0.1:8080"] {
            let err = Config::from_toml_str(&format!("[server]\nmetrics_bind = \"{bad}\"\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("server.metrics_bind"), "{bad}: {err}");
        }
        let c = Config::from_toml_str("[server]\nmetrics_bind = \"0.0.0.0:9464\"\n").unwrap();
        assert_eq!(
            c.server.metrics_address().unwrap(),
            Some("0.0.0.0:9464".parse().unwrap())
        );
    }

    #[test]
    fn notification_channels_and_the_audit_webhook_take_secrets_only_by_reference() {
        let c = Config::from_toml_str(
            "[notifications.email]\nhost = \"smtp.example\"\nport = 465\ntls = \"tls\"\n\
             from = \"Roster <roster@acme.example>\"\nusername = \"roster\"\n\
             password_env = \"SMTP_PASSWORD\"\n\
             [notifications.webhook]\nurl_file = \"/etc/roster/slack-url\"\n\
             [audit]\nwebhook_url_env = \"SIEM_URL\"\nwebhook_secret_file = \"/etc/roster/siem-key\"\n",
        )
        .unwrap();
        let email = c.notifications.email.unwrap();
        assert_eq!((email.port, email.tls), (465, SmtpTlsMode::Tls));
        assert_eq!(c.audit.webhook_url_env.as_deref(), Some("SIEM_URL"));
        for (text, key) in [
            (
                "[notifications.webhook]\nurl = \"https://hooks.slack.com/services/T/B/x\"\n",
                "notifications.webhook.url",
            ),
            (
                "[audit]\nwebhook_url = \"https://siem.example/?token=x\"\n",
                "audit.webhook_url",
            ),
            (
                "[audit]\nwebhook_secret = \"s3cret\"\n",
                "audit.webhook_secret",
            ),
            (
                "[notifications.email]\nhost = \"h\"\nfrom = \"a@b.example\"\npassword = \"p\"\n",
                "notifications.email.password",
            ),
        ] {
            let err = Config::from_toml_str(text).unwrap_err();
            assert!(
                matches!(err, ConfigError::LiteralSecret { .. }),
                "{text}: {err}"
            );
            assert!(err.to_string().contains(key), "{err}");
        }
        let err = Config::from_toml_str(
            "[notifications.email]\nhost = \"h\"\nfrom = \"a@b.example\"\nsender = \"x\"\n",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("notifications.email.sender"),
            "{err}"
        );
        let err = Config::from_toml_str(
            "[notifications.email]\nhost = \"h\"\nfrom = \"a@b.example\"\ntls = \"ssl\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("notifications.email.tls"), "{err}");
        let err = Config::from_toml_str(
            "[notifications.email]\nhost = \"h\"\nfrom = \"a@b.example\"\nusername = \"u\"\n",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("notifications.email.username"),
            "{err}"
        );
    }

    #[test]
    fn secrets_are_read_from_a_file_or_variable_and_never_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("url");
        std::fs::write(&path, "https://hooks.example/canary-token\n").unwrap();
        assert_eq!(
            read_secret("audit.webhook_url", None, Some(&path))
                .unwrap()
                .as_deref(),
            Some("https://hooks.example/canary-token")
        );
        assert_eq!(read_secret("audit.webhook_url", None, None).unwrap(), None);
        let err = read_secret("audit.webhook_url", Some("ROSTER_TEST_UNSET_VAR_X"), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("audit.webhook_url_env") && err.contains("ROSTER_TEST_UNSET_VAR_X"),
            "{err}"
        );
        assert!(
            read_secret("k", Some("A"), Some(&path)).is_err(),
            "not both"
        );
        std::fs::write(&path, "\n").unwrap();
        assert!(read_secret("k", None, Some(&path)).is_err(), "empty");
    }
}
