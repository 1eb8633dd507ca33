//! Test support: Prism serving GitHub's OpenAPI NHI subset on a free loopback port. Used by
//! this crate's Prism test and the CLI test; needs `ROSTER_PRISM` (the prism binary) and
//! `ROSTER_GITHUB_SPEC` (the extracted spec), which `eval "$(tests/github/setup.sh)"` sets.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Prism; killed (and its log removed) on drop.
pub struct Prism {
    child: Child,
    /// `http://127.0.0.1:{port}`, the connector's `api_url`.
    pub url: String,
    log: PathBuf,
}

impl Drop for Prism {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

impl Prism {
    /// Starts Prism and waits (up to 60 s) until it answers. `None` when `ROSTER_PRISM` or
    /// `ROSTER_GITHUB_SPEC` is unset (the caller skips), or when Prism does not come up.
    pub fn start() -> Option<Prism> {
        let bin = std::env::var("ROSTER_PRISM").ok()?;
        let spec = std::env::var("ROSTER_GITHUB_SPEC").ok()?;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .ok()?;
        let log =
            std::env::temp_dir().join(format!("roster-prism-{}-{port}.log", std::process::id()));
        let out = std::fs::File::create(&log).ok()?;
        let err = out.try_clone().ok()?;
        let child = Command::new(bin)
            .args(["mock", "-h", "127.0.0.1", "-p", &port.to_string(), &spec])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .ok()?;
        let prism = Prism {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if answers(port) {
                return Some(prism);
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        None
    }

    /// Everything Prism logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The lines where Prism reported a request that breaks GitHub's schema (it also answers
    /// those with an `sl-violations` header, and with 422 when the violation is an error).
    pub fn violations(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("Violation") || l.contains("did not pass the validation"))
            .map(str::to_owned)
            .collect()
    }
}

/// Whether Prism answers an HTTP request on `port` (any status line will do).
fn answers(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!(
        "GET /orgs/acme/hooks HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: {}\r\nConnection: close\r\n\r\n",
        crate::ACCEPT_VALUE
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}
