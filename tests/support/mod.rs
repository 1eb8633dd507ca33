//! The web tests' harness: a real OpenID provider (npm `oidc-provider`, pinned, installed by
//! tests/oidc/setup.sh, which prints `ROSTER_OIDC_PROVIDER`) on a free loopback port,
//! `roster serve` with `[auth.oidc]`, and a minimal browser (cookie jar, redirects followed by
//! hand) that runs the whole code flow with PKCE. Shared by the tests that `mod support;` it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use reqwest::{StatusCode, Url};

pub const SECRET: &str = "canary-oidc-client-secret-5f1e2d";
pub const SECRET_VAR: &str = "ROSTER_TEST_OIDC_CLIENT_SECRET";

pub struct Killed(pub Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn provider_script() -> Option<String> {
    match std::env::var("ROSTER_OIDC_PROVIDER") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            eprintln!("skipped: ROSTER_OIDC_PROVIDER not set (eval \"$(tests/oidc/setup.sh)\")");
            None
        }
    }
}

/// Starts the provider; returns it once it prints `ready`.
pub fn start_provider(script: &str, port: u16, redirect_uri: &str) -> Killed {
    let mut child = Command::new("node")
        .arg(script)
        .env("OIDC_PORT", port.to_string())
        .env("OIDC_CLIENT_ID", "roster")
        .env("OIDC_CLIENT_SECRET", SECRET)
        .env("OIDC_REDIRECT_URI", redirect_uri)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let line = lines
            .next()
            .expect("the provider exited before it was ready")
            .unwrap();
        if line.starts_with("ready ") {
            break;
        }
    }
    // Keep reading: the provider logs to stdout, and a closed pipe would kill it (EPIPE).
    std::thread::spawn(move || for _ in lines.by_ref() {});
    Killed(child)
}

pub fn write_config(dir: &Path, rp_port: u16, issuer: &str) -> std::path::PathBuf {
    write_config_with(dir, rp_port, issuer, "")
}

/// The site's configuration with `extra` (more connectors, a policy) appended.
pub fn write_config_with(
    dir: &Path,
    rp_port: u16,
    issuer: &str,
    extra: &str,
) -> std::path::PathBuf {
    let path = dir.join("roster.toml");
    std::fs::write(
        &path,
        format!(
            "[server]\nbind = \"127.0.0.1:{rp_port}\"\npublic_url = \"http://127.0.0.1:{rp_port}\"\n\
             [database]\nurl = \"sqlite://{}?mode=rwc\"\n\
             [auth.oidc]\nissuer = \"{issuer}\"\nclient_id = \"roster\"\n\
             client_secret_env = \"{SECRET_VAR}\"\n\
             admin_groups = [\"iam-team\"]\nauditor_groups = [\"audit\"]\n\
             [[connectors]]\nname = \"sample\"\nkind = \"synthetic\"\ncount = 40\n{extra}",
            dir.join("roster.db").display()
        ),
    )
    .unwrap();
    path
}

/// Collects a child's stderr in the background (a full pipe would block it).
fn capture_stderr(child: &mut Child) -> Arc<Mutex<String>> {
    let log = Arc::new(Mutex::new(String::new()));
    let mut stderr = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    log
}

/// `roster serve` with debug logs captured; returns once it prints where to sign in.
pub fn start_roster(config: &Path) -> (Killed, Arc<Mutex<String>>) {
    start_roster_with(config, &[])
}

/// `roster serve` with more environment (e.g. a connector's credentials).
pub fn start_roster_with(config: &Path, envs: &[(&str, &str)]) -> (Killed, Arc<Mutex<String>>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_roster"))
        .envs(envs.iter().copied())
        .args(["serve", "--config"])
        .arg(config)
        .env_remove("ROSTER_CONFIG")
        .env("ROSTER_LOG", "debug")
        .env(SECRET_VAR, SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = capture_stderr(&mut child);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        let Some(line) = lines.next() else {
            panic!("roster serve exited early: {}", log.lock().unwrap());
        };
        let line = line.unwrap();
        assert!(
            !line.contains("/login/bootstrap"),
            "no bootstrap link with a provider"
        );
        if line.contains("Sign in at ") {
            break;
        }
    }
    (Killed(child), log)
}

/// A browser, as far as the flow needs one: one cookie jar for 127.0.0.1 (cookies ignore ports),
/// redirects followed by hand.
#[derive(Clone)]
pub struct Browser {
    pub http: reqwest::Client,
    pub jar: HashMap<String, String>,
}

impl Browser {
    pub fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: HashMap::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn keep_cookies(&mut self, resp: &reqwest::Response) {
        for h in resp.headers().get_all("set-cookie") {
            let h = h.to_str().unwrap();
            let (pair, attrs) = h.split_once(';').unwrap_or((h, ""));
            let (name, value) = pair.split_once('=').unwrap();
            let attrs = attrs.to_ascii_lowercase();
            if value.is_empty() || attrs.contains("max-age=0") || attrs.contains("1970") {
                self.jar.remove(name.trim());
            } else {
                self.jar.insert(name.trim().to_owned(), value.to_owned());
            }
        }
    }

    pub async fn get(&mut self, url: &Url) -> reqwest::Response {
        let resp = self
            .http
            .get(url.clone())
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&resp);
        resp
    }

    pub async fn post(
        &mut self,
        url: &str,
        csrf_header: Option<&str>,
        form: Option<&str>,
    ) -> StatusCode {
        let mut req = self.http.post(url).header("cookie", self.cookie_header());
        if let Some(t) = csrf_header {
            req = req.header("X-CSRF-Token", t);
        }
        if let Some(body) = form {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.to_owned());
        }
        let resp = req.send().await.unwrap();
        self.keep_cookies(&resp);
        resp.status()
    }

    /// Follows redirects from `url`, signing in as `user` at the provider's interaction, and
    /// stops before a URL whose path is `stop_at` (returning it) or at the first non-redirect.
    pub async fn follow(
        &mut self,
        url: &str,
        user: &str,
        stop_at: Option<&str>,
    ) -> (Url, Option<reqwest::Response>) {
        let mut url = Url::parse(url).unwrap();
        for _ in 0..20 {
            if url.path().starts_with("/interaction/") && url.query().is_none() {
                url.set_query(Some(&format!("user={user}")));
            }
            if stop_at == Some(url.path()) {
                return (url, None);
            }
            let resp = self.get(&url).await;
            if !resp.status().is_redirection() {
                return (url, Some(resp));
            }
            let location = resp.headers()["location"].to_str().unwrap().to_owned();
            url = url.join(&location).unwrap();
        }
        panic!("too many redirects");
    }

    /// The whole code flow; returns the callback's response.
    pub async fn sign_in(&mut self, base: &str, user: &str) -> (Url, reqwest::Response) {
        let (url, resp) = self.follow(&format!("{base}/login"), user, None).await;
        (url, resp.unwrap())
    }

    pub async fn session(&mut self, base: &str) -> (StatusCode, serde_json::Value) {
        let resp = self
            .get(&Url::parse(&format!("{base}/api/v1/session")).unwrap())
            .await;
        let status = resp.status();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }
}

/// `roster sync` with the test's configuration; panics with its stderr if it fails.
pub fn sync(config: &Path) {
    sync_with(config, &[]);
}

pub fn sync_with(config: &Path, envs: &[(&str, &str)]) {
    let out = Command::new(env!("CARGO_BIN_EXE_roster"))
        .envs(envs.iter().copied())
        .args(["sync", "--config"])
        .arg(config)
        .env(SECRET_VAR, SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A provider and a `roster serve` on free ports, with the synthetic estate synced `syncs`
/// times and `prepare` run on the database before the server starts.
pub struct Site {
    pub base: String,
    pub dir: tempfile::TempDir,
    pub log: Arc<Mutex<String>>,
    _provider: Killed,
    _roster: Killed,
}

impl Site {
    pub fn database_url(&self) -> String {
        format!(
            "sqlite://{}?mode=rwc",
            self.dir.path().join("roster.db").display()
        )
    }
}

pub async fn start_site<F, Fut>(syncs: usize, prepare: F) -> Option<Site>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    start_site_with(syncs, "", &[], prepare).await
}

/// [`start_site`] with more configuration and environment.
pub async fn start_site_with<F, Fut>(
    syncs: usize,
    extra_config: &str,
    envs: &[(&str, &str)],
    prepare: F,
) -> Option<Site>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let script = provider_script()?;
    let (op_port, rp_port) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{op_port}");
    let base = format!("http://127.0.0.1:{rp_port}");
    let provider = start_provider(&script, op_port, &format!("{base}/auth/callback"));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(dir.path(), rp_port, &issuer, extra_config);
    for _ in 0..syncs {
        sync_with(&config, envs);
    }
    prepare(format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("roster.db").display()
    ))
    .await;
    let (roster, log) = start_roster_with(&config, envs);
    Some(Site {
        base,
        dir,
        log,
        _provider: provider,
        _roster: roster,
    })
}

impl Browser {
    /// Signed in as `user` through the provider; returns the session's CSRF token.
    pub async fn signed_in(base: &str, user: &str) -> (Browser, String) {
        let mut b = Browser::new();
        b.sign_in(base, user).await;
        let (status, me) = b.session(base).await;
        assert_eq!(status, 200, "{user} signed in");
        let csrf = me["csrf_token"].as_str().unwrap().to_owned();
        (b, csrf)
    }

    /// POST a form with the session's cookie and CSRF token: the status, or `None` when the
    /// server could not be reached or answered nothing (it may have been killed).
    pub async fn try_post(&mut self, url: &str, csrf: &str, form: &str) -> Option<u16> {
        let resp = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .header("X-CSRF-Token", csrf)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .await
            .ok()?;
        Some(resp.status().as_u16())
    }

    /// POST a form with the session's cookie and CSRF token: status and body.
    pub async fn post_form(&mut self, url: &str, csrf: &str, form: &str) -> (StatusCode, String) {
        let resp = self.post_form_response(url, csrf, form).await;
        let status = resp.status();
        (status, resp.text().await.unwrap_or_default())
    }

    /// POST a form with the session's cookie and CSRF token: the response, cookies kept.
    pub async fn post_form_response(
        &mut self,
        url: &str,
        csrf: &str,
        form: &str,
    ) -> reqwest::Response {
        let resp = self
            .http
            .post(url)
            .header("cookie", self.cookie_header())
            .header("X-CSRF-Token", csrf)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&resp);
        resp
    }

    /// GET `path` under `base`: status and body.
    pub async fn fetch(
        &mut self,
        base: &str,
        path: &str,
    ) -> (StatusCode, reqwest::header::HeaderMap, String) {
        let resp = self
            .get(&Url::parse(&format!("{base}{path}")).unwrap())
            .await;
        let status = resp.status();
        let headers = resp.headers().clone();
        (status, headers, resp.text().await.unwrap_or_default())
    }
}

/// An SMTP server for the notification tests: PyPI `aiosmtpd` (pinned, installed by
/// tests/smtp/setup.sh, which prints `ROSTER_AIOSMTPD_PYTHON`) with its Mailbox handler, on a
/// free loopback port, writing every message it accepts into a Maildir.
pub struct SmtpServer {
    pub port: u16,
    pub maildir: tempfile::TempDir,
    _server: Killed,
}

/// One message as the SMTP server stored it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub headers: Vec<(String, String)>,
    /// The body, quoted-printable decoded.
    pub body: String,
}

impl Mail {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn parse(text: &str) -> Mail {
        let text = text.replace("\r\n", "\n");
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some((_, v)) = headers.last_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
            } else if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let mut mail = Mail {
            headers,
            body: body.to_owned(),
        };
        match mail
            .header("Content-Transfer-Encoding")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("7bit") | Some("8bit") => {}
            Some("quoted-printable") => mail.body = decode_quoted_printable(&mail.body),
            Some(other) => panic!("unexpected transfer encoding {other}"),
        }
        mail
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Starts the SMTP server; `None` (the test skips) when `ROSTER_AIOSMTPD_PYTHON` is unset.
pub fn start_smtp() -> Option<SmtpServer> {
    let python = match std::env::var("ROSTER_AIOSMTPD_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            eprintln!("skipped: ROSTER_AIOSMTPD_PYTHON not set (eval \"$(tests/smtp/setup.sh)\")");
            return None;
        }
    };
    let port = free_port();
    let maildir = tempfile::tempdir().unwrap();
    let child = Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        // A path that does not exist yet: Python's Maildir creates its cur/new/tmp only then.
        .arg(maildir.path().join("mail"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aiosmtpd");
    let server = Killed(child);
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(SmtpServer {
                port,
                maildir,
                _server: server,
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("aiosmtpd did not listen on 127.0.0.1:{port}");
}

impl SmtpServer {
    /// Every message delivered so far, oldest first.
    pub fn messages(&self) -> Vec<Mail> {
        let Ok(dir) = std::fs::read_dir(self.maildir.path().join("mail/new")) else {
            return Vec::new();
        };
        let mut files: Vec<_> = dir.filter_map(Result::ok).map(|e| e.path()).collect();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .map(|p| Mail::parse(&std::fs::read_to_string(p).unwrap()))
            .collect()
    }

    /// `[notifications.email]` for this server (plain SMTP on loopback).
    pub fn config_section(&self) -> String {
        format!(
            "[notifications.email]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             from = \"Roster <roster@acme.example>\"\n",
            self.port
        )
    }
}

/// `roster serve` without an identity provider: returns once it prints the one-time link (or,
/// when someone signed in before and it prints none, one from `roster admin sign-in-link`).
pub fn start_roster_bootstrap(
    config: &Path,
    envs: &[(&str, &str)],
) -> (Killed, String, Arc<Mutex<String>>) {
    start_roster_linked(config, envs, None)
}

/// [`start_roster_bootstrap`] for a database someone has signed in to: the server must print
/// no admin link (a plain restart never hands out admin); the link returned is the CLI's.
pub fn restart_roster_signed_in(
    config: &Path,
    envs: &[(&str, &str)],
) -> (Killed, String, Arc<Mutex<String>>) {
    start_roster_linked(config, envs, Some(false))
}

fn start_roster_linked(
    config: &Path,
    envs: &[(&str, &str)],
    server_prints_link: Option<bool>,
) -> (Killed, String, Arc<Mutex<String>>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
    cmd.args(["serve", "--config"])
        .arg(config)
        .env_remove("ROSTER_CONFIG")
        .env("ROSTER_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let log = capture_stderr(&mut child);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let link = loop {
        let Some(line) = lines.next() else {
            panic!("roster serve exited early: {}", log.lock().unwrap());
        };
        let line = line.unwrap();
        if let Some(i) = line.find("http://")
            && line.contains("/login/bootstrap?token=")
        {
            assert_ne!(
                server_prints_link,
                Some(false),
                "a restart printed an admin link"
            );
            break line[i..].trim().to_owned();
        }
        // Someone signed in before: the server prints no link; an admin asks the CLI.
        if line.contains("roster admin sign-in-link") {
            assert_ne!(
                server_prints_link,
                Some(true),
                "no admin link at the first start"
            );
            break admin_sign_in_link(config, envs);
        }
    };
    std::thread::spawn(move || for _ in lines.by_ref() {});
    (Killed(child), link, log)
}

/// `roster admin sign-in-link`: a one-time admin link from the CLI.
pub fn admin_sign_in_link(config: &Path, envs: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roster"));
    cmd.args(["admin", "sign-in-link", "--config"])
        .arg(config)
        .env_remove("ROSTER_CONFIG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.contains("/login/bootstrap?token="))
        .unwrap_or_else(|| panic!("no link in: {text}"));
    line[line.find("http://").unwrap()..].trim().to_owned()
}

/// [`start_roster_bootstrap`], then a browser signed in as the bootstrap admin through the
/// one-time link: the server, its base URL, the browser and its session's CSRF token.
pub async fn serve_with_bootstrap(
    config: &Path,
    envs: &[(&str, &str)],
) -> (Killed, String, Browser, String) {
    let (server, link, _log) = start_roster_bootstrap(config, envs);
    let url = Url::parse(&link).unwrap();
    let base = format!("{}://{}", url.scheme(), url.authority());
    let mut b = Browser::new();
    let resp = b.get(&url).await;
    assert!(
        resp.status().is_redirection(),
        "bootstrap sign-in: {}",
        resp.status()
    );
    let (status, me) = b.session(&base).await;
    assert_eq!(status, 200);
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    (server, base, b, csrf)
}

/// A finished command's stdout and stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A successful command's stdout as JSON (its output in the message otherwise).
pub fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}
