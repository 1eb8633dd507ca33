//! The web app: server-rendered pages for people, `/api/v1` JSON for automation, health,
//! `/metrics`. Every route but health and sign-in (OpenID Connect, or the bootstrap link while no
//! provider is configured) requires a session or an API token; every state-changing request its
//! session's CSRF token.

mod api;
mod audit_events;
mod audit_log;
mod campaigns;
mod charts;
mod dashboard;
mod error;
mod exceptions;
mod identity;
pub mod limit;
mod metrics;
pub(crate) mod oidc;
pub mod openapi;
pub mod pages;
mod session;
mod sync_runs;
mod tokens;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpResponse, HttpServer, web};
use roster_app::Roster;

pub use campaigns::campaign_report_html;

pub use limit::LoginLimiter;
pub use oidc::Oidc;

/// Strict: no inline script or style, nothing third-party.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub struct AppState {
    /// The application: every use-case behind one facade.
    pub roster: Arc<Roster>,
    /// Cookies are `Secure` when the public URL is https.
    pub secure_cookies: bool,
    /// Shown on every page when the data is the synthetic sample estate.
    pub sample_banner: bool,
    /// Sign-in with OpenID Connect, when `[auth.oidc]` is configured.
    pub oidc: Option<Oidc>,
    /// Rate limit on the sign-in routes, per client address.
    pub login_limiter: LoginLimiter,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`[server] trusted_proxies`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How many refusals of each principal are recorded ([`limit::refusal_throttle`]).
    pub refusal_throttle: limit::Limiter<String>,
    /// Inventory exports running at once ([`pages::CONCURRENT_EXPORTS`]).
    pub exports: Arc<tokio::sync::Semaphore>,
    /// Who has an export running (one each).
    pub exporting: pages::Exporting,
    /// Set once the database is migrated and the scheduled jobs run, cleared when the server
    /// begins to stop: `/readyz` answers 503 while it is unset.
    pub ready: Arc<AtomicBool>,
}

/// Where to listen.
pub enum Listen<'a> {
    /// Bind this address (its port may be 0).
    Bind(&'a str),
    /// A socket bound before the database was opened, that [`starting_server`] served.
    Socket(TcpListener),
}

/// What answers while the database is opened and migrated (which can take minutes on a large
/// one): `/healthz` 200, so a liveness probe does not restart the server mid-migration; every
/// other path, `/readyz` included, 503. Signals are the caller's.
pub fn starting_server(socket: &TcpListener) -> std::io::Result<Server> {
    let server = HttpServer::new(|| {
        App::new()
            .route(
                "/healthz",
                web::get().to(|| async {
                    HttpResponse::Ok()
                        .content_type("text/plain")
                        .body("ok (starting)")
                }),
            )
            .default_service(web::to(|| async {
                HttpResponse::ServiceUnavailable()
                    .content_type("text/plain")
                    .insert_header(("Retry-After", "5"))
                    .body("starting: opening and migrating the database")
            }))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(1)
    // A second descriptor of the same socket: connections that arrive between this server's
    // stop and the app's start wait in its backlog instead of being refused.
    .listen(socket.try_clone()?)?;
    Ok(server.run())
}

/// Binds `bind` (and `metrics_bind`, a listener for `/metrics` alone), calls `on_bound` with
/// the bound addresses (a port may have been 0), then serves until the process is stopped
/// (SIGINT / SIGTERM, handled by actix).
pub async fn serve(
    state: AppState,
    bind: &str,
    metrics_bind: Option<std::net::SocketAddr>,
    on_bound: impl FnOnce(std::net::SocketAddr, Option<std::net::SocketAddr>),
) -> std::io::Result<()> {
    let metrics = metrics_bind.map(bind_metrics).transpose()?;
    let (server, addrs, metrics_addr) = server(state, Listen::Bind(bind), None, metrics)?;
    if let Some(addr) = addrs.first() {
        on_bound(*addr, metrics_addr);
    }
    server.await
}

/// Binds `[server] metrics_bind`; an error names the key. Done before the database is opened,
/// so a busy port stops the server before it has started any work.
pub fn bind_metrics(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .map_err(|e| std::io::Error::new(e.kind(), format!("server.metrics_bind {addr}: {e}")))
}

/// The app's server, running, the addresses it listens on, and the `/metrics` listener's when
/// `metrics` is given (that one runs in a task of its own until the process ends). With
/// `grace`, signals are the caller's, who stops the server through its handle; requests in
/// flight then get `grace` to finish. Without, actix stops it on SIGINT / SIGTERM.
pub fn server(
    state: AppState,
    listen: Listen<'_>,
    grace: Option<Duration>,
    metrics: Option<TcpListener>,
) -> std::io::Result<(Server, Vec<SocketAddr>, Option<SocketAddr>)> {
    let state = web::Data::from(Arc::new(state));
    let metrics_addr = match metrics {
        Some(socket) => {
            let addr = socket.local_addr()?;
            let state = state.clone();
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(state.clone())
                    .route("/metrics", web::get().to(metrics::metrics_on_listener))
                    .default_service(web::to(metrics::only_metrics))
            })
            // A scrape every few seconds needs no more; the app's server owns the signals.
            .workers(1)
            .disable_signals()
            .listen(socket)?;
            tokio::spawn(server.run());
            Some(addr)
        }
        None => None,
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            // A query, form, JSON body or path that does not parse is refused like any bad
            // request: a page, or `{"error": "invalid", …}` under /api/, not actix's plain text.
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                error::WebError::bad_request(format!("the query string: {e}")).into()
            }))
            .app_data(web::FormConfig::default().error_handler(|e, _| {
                error::WebError::bad_request(format!("the form: {e}")).into()
            }))
            .app_data(web::JsonConfig::default().error_handler(|e, _| {
                error::WebError::bad_request(format!("the JSON body: {e}")).into()
            }))
            .app_data(web::PathConfig::default().error_handler(|e, _| {
                error::WebError::bad_request(format!("the path: {e}")).into()
            }))
            // Innermost, so that a panic's 500 still gets its error page from `error_bodies`.
            .wrap(from_fn(error::catch_panics))
            .wrap(from_fn(error::error_bodies))
            .wrap(from_fn(audit_events::record_denials))
            .wrap(from_fn(session::csrf_guard))
            .wrap(from_fn(tokens::bearer_auth))
            .wrap(from_fn(session::session_auth))
            .wrap(
                DefaultHeaders::new()
                    .add(("Content-Security-Policy", CSP))
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("X-Frame-Options", "DENY"))
                    .add(("Referrer-Policy", "no-referrer")),
            )
            // Outermost: counts every answer, refusals and error pages included.
            .wrap(from_fn(metrics::observe))
            .route("/healthz", web::get().to(healthz))
            .route("/metrics", web::get().to(metrics::metrics))
            .route("/readyz", web::get().to(readyz))
            .route("/static/roster.css", web::get().to(stylesheet))
            .route("/static/reviews.js", web::get().to(reviews_script))
            .route("/login/bootstrap", web::get().to(session::bootstrap_login))
            .route("/login", web::get().to(oidc::login))
            .route("/auth/callback", web::get().to(oidc::callback))
            .route("/logout", web::post().to(session::logout))
            .route(
                "/logout/everywhere",
                web::post().to(session::logout_everywhere),
            )
            .route("/", web::get().to(pages::root))
            .route("/dashboard", web::get().to(dashboard::dashboard))
            .route("/inventory", web::get().to(pages::inventory))
            .route("/inventory/export.{format}", web::get().to(pages::export))
            .route("/my", web::get().to(pages::my_identities))
            .route("/identities/{id}", web::get().to(identity::identity))
            .route(
                "/identities/{id}/claim",
                web::post().to(identity::claim_form),
            )
            .route(
                "/identities/{id}/remediate",
                web::post().to(identity::remediate_dry_run),
            )
            .route(
                "/identities/{id}/exception-requests",
                web::post().to(identity::request_exception_form),
            )
            .route("/exceptions", web::get().to(exceptions::exceptions))
            .route(
                "/exceptions/{id}/decide",
                web::post().to(exceptions::decide),
            )
            .route("/sync-runs", web::get().to(sync_runs::sync_runs))
            .route("/tokens", web::get().to(tokens::tokens))
            .route("/tokens", web::post().to(tokens::create))
            .route("/tokens/{id}/revoke", web::post().to(tokens::revoke))
            .route("/campaigns", web::get().to(campaigns::campaigns))
            .route("/campaigns", web::post().to(campaigns::launch))
            .route("/campaigns/{id}", web::get().to(campaigns::campaign))
            .route(
                "/campaigns/{id}/sign-off",
                web::post().to(campaigns::sign_off),
            )
            .route(
                "/campaigns/{id}/remediate",
                web::post().to(campaigns::remediate),
            )
            .route("/campaigns/{id}/remind", web::post().to(campaigns::remind))
            .route(
                "/campaigns/{id}/{export}",
                web::get().to(campaigns::evidence),
            )
            .route("/reviews", web::get().to(campaigns::reviews))
            .route("/reviews/decide", web::post().to(campaigns::decide_bulk))
            .route("/reviews/{item}", web::get().to(campaigns::review_item))
            .route("/reviews/{item}/decide", web::post().to(campaigns::decide))
            .route("/audit", web::get().to(audit_log::audit_log))
            .route("/audit/export.csv", web::get().to(audit_log::export_csv))
            .service(openapi::api_scope())
            .default_service(web::to(error::no_route))
    });
    let mut server = match grace {
        Some(g) => server.disable_signals().shutdown_timeout(g.as_secs()),
        None => server,
    };
    let mut addrs = Vec::new();
    match listen {
        Listen::Bind(addr) => {
            server = server.bind(addr)?;
            addrs = server.addrs();
        }
        Listen::Socket(socket) => {
            addrs.push(socket.local_addr()?);
            server = server.listen(socket)?;
        }
    }
    Ok((server.run(), addrs, metrics_addr))
}

/// Alive: the process answers. A handler panic (a bug, answered 500) is counted here rather
/// than failing the check, which would only restart every replica into the same bug.
async fn healthz() -> HttpResponse {
    let panics = error::PANICS.load(std::sync::atomic::Ordering::Relaxed);
    let body = match panics {
        0 => "ok".to_owned(),
        n => format!("ok ({n} request handler panics since start; see the log)"),
    };
    HttpResponse::Ok().content_type("text/plain").body(body)
}

/// How long `/readyz` waits for the database: less than a probe's usual timeout, so an
/// unreachable database reads as 503 rather than as a probe that timed out.
const READY_CHECK: Duration = Duration::from_secs(2);

/// Ready: started (migrated, scheduled jobs running), not stopping, and the database answers.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let unavailable = |why: &'static str| {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(why)
    };
    if !state.ready.load(Ordering::Acquire) {
        return unavailable("not ready: starting or stopping");
    }
    match tokio::time::timeout(READY_CHECK, state.roster.ready()).await {
        Ok(Ok(())) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            unavailable("database unavailable")
        }
        Err(_) => {
            tracing::warn!("readiness check failed: the database did not answer in time");
            unavailable("database unavailable")
        }
    }
}

/// The review inbox's keyboard and in-place decisions (first-party, under `script-src 'self'`).
async fn reviews_script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../../static/reviews.js"))
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css")
        .insert_header(("Cache-Control", "public, max-age=3600"))
        .body(include_str!("../../../static/roster.css"))
}
