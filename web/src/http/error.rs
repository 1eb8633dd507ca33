//! The HTTP edge's one error type: the application's [`AppError`] and the few failures only
//! the web face has (no session, a refused sign-in, the rate limit), each mapped once to a
//! status and a plain message (never internals). A browser gets the message as a page; an API
//! caller (`/api/…`) gets `{"error": kind, "message": …}`.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;
use roster_app::AppError;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("sign in first: /login, or the one-time link printed when Roster started")]
    Unauthenticated,
    #[error("sign-in refused: {0}")]
    SignInRefused(&'static str),
    #[error("too many sign-in attempts; wait a little")]
    TooManyRequests,
    #[error(transparent)]
    App(#[from] AppError),
}

impl WebError {
    pub fn bad_request(detail: impl Into<String>) -> Self {
        WebError::App(AppError::Invalid(detail.into()))
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        WebError::App(AppError::NotFound(what.into()))
    }

    pub fn internal(detail: impl ToString) -> Self {
        WebError::App(AppError::Internal(detail.to_string()))
    }

    /// The refusal's reason when the access policy refused: the denial audit records it.
    pub fn forbidden_reason(&self) -> Option<&'static str> {
        match self {
            WebError::App(AppError::Forbidden(reason)) => Some(reason),
            _ => None,
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            WebError::Unauthenticated => ErrorKind::Unauthenticated,
            WebError::SignInRefused(_) => ErrorKind::SignInRefused,
            WebError::TooManyRequests => ErrorKind::TooManyRequests,
            WebError::App(e) => match e {
                AppError::NotFound(_) => ErrorKind::NotFound,
                AppError::Invalid(_) => ErrorKind::Invalid,
                AppError::Forbidden(_) => ErrorKind::Forbidden,
                AppError::Conflict(_) => ErrorKind::Conflict,
                AppError::Unavailable(_) => ErrorKind::Unavailable,
                AppError::Internal(_) => ErrorKind::Internal,
            },
        }
    }
}

/// What went wrong, in one word: the `error` of an API error's body and the `X-Roster-Error`
/// header of every error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No session and no API token, or an unknown, expired or revoked token (401).
    Unauthenticated,
    /// A sign-in was refused (403).
    SignInRefused,
    /// The sign-in rate limit (429).
    TooManyRequests,
    /// No such object, or one the caller may not see (404).
    NotFound,
    /// The request does not parse or breaks a rule; the message says which (400).
    Invalid,
    /// The caller's role may not do this (403).
    Forbidden,
    /// The object's state does not allow it now (409).
    Conflict,
    /// A dependency (the database, a platform) did not answer (503).
    Unavailable,
    /// A bug or a broken store; the server's log has the detail (500).
    Internal,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::SignInRefused => "sign_in_refused",
            ErrorKind::TooManyRequests => "too_many_requests",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }
}

/// The body of every error under `/api/`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorKind,
    /// For a person: what was refused and why (never internals).
    pub message: String,
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        WebError::internal(e)
    }
}

impl ResponseError for WebError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebError::Unauthenticated => StatusCode::UNAUTHORIZED,
            WebError::SignInRefused(_) => StatusCode::FORBIDDEN,
            WebError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            WebError::App(e) => match e {
                AppError::NotFound(_) => StatusCode::NOT_FOUND,
                AppError::Invalid(_) => StatusCode::BAD_REQUEST,
                AppError::Forbidden(_) => StatusCode::FORBIDDEN,
                AppError::Conflict(_) => StatusCode::CONFLICT,
                AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            WebError::App(AppError::Internal(detail)) => {
                tracing::error!(%detail, "request failed")
            }
            WebError::App(AppError::Unavailable(detail)) => {
                tracing::warn!(%detail, "request failed: a dependency is unavailable")
            }
            _ => {}
        }
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .insert_header(("X-Roster-Error", self.kind().as_str()))
            .body(self.to_string())
    }
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    title: &'a str,
    message: String,
    /// What the person sent, to correct and send again (a refused form or filter).
    resend: Option<Resend>,
    /// Where "back" goes: the page the form was on, or the start page.
    back: String,
}

/// A refused request as a form: its fields as typed, sent again the same way to the same path.
struct Resend {
    method: &'static str,
    action: String,
    fields: Vec<ResendField>,
}

struct ResendField {
    name: String,
    value: String,
    /// The CSRF token goes back unseen; long text goes in a text area.
    hidden: bool,
    long: bool,
}

impl Resend {
    /// The fields of a query string or form body, when there are any to correct.
    fn of(method: &'static str, action: &str, encoded: &[u8]) -> Option<Resend> {
        let fields: Vec<ResendField> = url::form_urlencoded::parse(encoded)
            .take(50)
            .map(|(name, value)| ResendField {
                hidden: name == super::session::CSRF_FIELD,
                long: value.len() > 80 || value.contains('\n'),
                name: name.into_owned(),
                value: value.into_owned(),
            })
            .collect();
        fields.iter().any(|f| !f.hidden).then(|| Resend {
            method,
            action: action.to_owned(),
            fields,
        })
    }
}

/// A plain page with a title, a message and the way back (the error page's layout).
pub fn message_page(title: &str, message: String) -> Result<String, askama::Error> {
    ErrorPage {
        title,
        message,
        resend: None,
        back: "/".into(),
    }
    .render()
}

/// The same-site path (and query) of the page a request came from, by its `Referer`.
fn referring_path(req: &actix_web::HttpRequest) -> Option<String> {
    let referer = req.headers().get(actix_web::http::header::REFERER)?;
    let url = url::Url::parse(referer.to_str().ok()?).ok()?;
    let host = req.connection_info().host().to_owned();
    let same = url
        .host_str()
        .zip(url.port_or_known_default())
        .is_some_and(|(h, p)| host == h || host == format!("{h}:{p}"));
    same.then(|| match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    })
}

/// Any URL no route serves: a real 404, as a page or as JSON under `/api/`.
pub async fn no_route(req: actix_web::HttpRequest) -> Result<HttpResponse, WebError> {
    Err(WebError::not_found(format!("no page at {}", req.path())))
}

/// Middleware: an error's body as its caller reads it: `{"error": kind, "message": …}` for the
/// JSON API, a page for a browser. The response keeps its status, its headers and the error
/// itself (the denial audit reads it).
pub async fn error_bodies(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    use actix_web::HttpMessage;
    // A page's form body, kept to give back if the request is refused (the CSRF guard has
    // already bounded and buffered it).
    let form = if !req.path().starts_with("/api/")
        && req.method() == actix_web::http::Method::POST
        && req.content_type() == "application/x-www-form-urlencoded"
    {
        let body = req.extract::<actix_web::web::Bytes>().await?;
        req.set_payload(actix_web::dev::Payload::from(body.clone()));
        Some(body)
    } else {
        None
    };
    let mut res = next.call(req).await?.map_into_boxed_body();
    let Some(e) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<WebError>())
    else {
        return Ok(res);
    };
    let (content_type, body) = if res.request().path().starts_with("/api/") {
        let body = ErrorBody {
            error: e.kind(),
            message: e.to_string(),
        };
        match serde_json::to_string(&body) {
            Ok(body) => ("application/json", body),
            Err(_) => return Ok(res),
        }
    } else {
        let title = res.status().canonical_reason().unwrap_or("Error");
        let req = res.request();
        // Input that can be corrected: a refused filter or form, not a missing page or a
        // permission.
        let correctable = matches!(
            e,
            WebError::App(AppError::Invalid(_)) | WebError::App(AppError::Conflict(_))
        );
        let resend = match &form {
            _ if !correctable => None,
            Some(body) => Resend::of("post", req.path(), body),
            None if req.method() == actix_web::http::Method::GET => {
                Resend::of("get", req.path(), req.query_string().as_bytes())
            }
            None => None,
        };
        let back = referring_path(req).unwrap_or_else(|| "/".to_owned());
        match (ErrorPage {
            title,
            message: e.to_string(),
            resend,
            back,
        })
        .render()
        {
            Ok(page) => ("text/html; charset=utf-8", page),
            // The plain message is still there.
            Err(_) => return Ok(res),
        }
    };
    res.headers_mut().insert(
        actix_web::http::header::CONTENT_TYPE,
        actix_web::http::header::HeaderValue::from_static(content_type),
    );
    Ok(res.map_body(|_, _| BoxBody::new(body)))
}

/// Handler panics since the server started (a bug): counted, and each answered 500.
pub static PANICS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A panic in a handler becomes a 500 with the error page, instead of a dropped connection
/// that `/healthz` never notices; `/healthz` reports the count.
pub async fn catch_panics(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    use futures::FutureExt;
    // Not a clone of the request: routing needs it unshared.
    let path = req.path().to_owned();
    match std::panic::AssertUnwindSafe(next.call(req))
        .catch_unwind()
        .await
    {
        Ok(res) => res.map(ServiceResponse::map_into_boxed_body),
        Err(_) => {
            PANICS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(path, "a request handler panicked; answered 500");
            // The request went down with the handler: the error becomes the response.
            Err(WebError::App(AppError::Internal("a request handler panicked".into())).into())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, test, web};

    async fn boom() -> &'static str {
        panic!("a bug")
    }

    /// A handler that panics is answered 500 with the error page, and counted; the server
    /// goes on answering.
    #[actix_web::test]
    async fn a_panicking_handler_is_a_500_not_a_dropped_connection() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(super::catch_panics))
                .wrap(from_fn(super::error_bodies))
                .route("/boom", web::get().to(boom))
                .route("/fine", web::get().to(|| async { "fine" })),
        )
        .await;
        let before = super::PANICS.load(std::sync::atomic::Ordering::Relaxed);
        // The error is the response actix writes: a 500 on a connection that stays open.
        let err = test::try_call_service(&app, test::TestRequest::get().uri("/boom").to_request())
            .await
            .err()
            .unwrap();
        assert_eq!(err.as_response_error().status_code(), 500);
        assert_eq!(err.to_string(), "internal error");
        assert!(super::PANICS.load(std::sync::atomic::Ordering::Relaxed) > before);
        let res =
            test::call_service(&app, test::TestRequest::get().uri("/fine").to_request()).await;
        assert_eq!(res.status(), 200);
    }
}
