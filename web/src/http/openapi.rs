//! The `/api/v1` routes and their OpenAPI 3.1 document. The routes are registered through
//! `utoipa-actix-web`, which builds the document's paths from the same `service(…)` calls that
//! serve them: a route cannot be served and missing from the document, or documented and not
//! served. Schemas come from the handlers' own request and answer types.

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, SecurityRequirement};
use utoipa::{IntoResponses, Modify};
use utoipa_actix_web::scope::Scope;

use super::error::ErrorBody;
use super::{api, audit_events, campaigns};

/// Every `/api/v1` route. (Pages, health and sign-in are outside it.)
pub fn api_scope() -> Scope<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    utoipa_actix_web::scope("/api/v1")
        .service(api::session)
        .service(api::identities)
        .service(api::identity)
        .service(api::claim)
        .service(api::request_exception)
        .service(campaigns::api_campaigns)
        .service(campaigns::api_campaign)
        .service(campaigns::api_reviews)
        .service(campaigns::api_decide)
        .service(campaigns::api_accept_suggestion)
        .service(audit_events::audit_events)
        .route("/openapi.json", web::get().to(serve_document))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Roster API",
        description = "The inventory of non-human identities, access-review campaigns and the \
                       audit trail, as JSON. Every route answers with the caller's role; errors \
                       are `{\"error\", \"message\"}`. See docs/api.md.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    modifiers(&Authentication),
    components(schemas(ErrorBody)),
    tags(
        (name = "session", description = "Who is calling"),
        (name = "identities", description = "The inventory: identities and credentials, evaluated now"),
        (name = "campaigns", description = "Access-review campaigns and their evidence"),
        (name = "reviews", description = "The caller's review inbox and decisions"),
        (name = "audit", description = "The hash-chained audit trail"),
    ),
)]
struct Base;

/// An API token (`Authorization: Bearer roster_…`, made on `/tokens`), or a browser session's
/// cookie with its CSRF token on state-changing requests.
struct Authentication;

impl Modify for Authentication {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token made by an admin on /tokens, acting with the token's role.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::session::COOKIE,
                "A browser session (`__Host-roster_session` behind https); POST, PUT, PATCH and \
                 DELETE also need its CSRF token as the `X-CSRF-Token` header (GET /api/v1/session).",
            ))),
        );
        doc.security = Some(vec![
            SecurityRequirement::new("api_token", Vec::<String>::new()),
            SecurityRequirement::new("session", Vec::<String>::new()),
        ]);
    }
}

// The refusals below are read only as types, by the document: handlers answer `WebError`,
// whose `ErrorBody` they describe.

/// No session or token, or an unknown, expired or revoked token.
#[derive(IntoResponses)]
#[response(status = 401)]
#[allow(dead_code)]
pub struct Unauthenticated(ErrorBody);

/// The refusals every route can answer.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum Refused {
    /// A parameter or body that does not parse or breaks a rule: the message names it.
    #[response(status = 400)]
    Invalid(ErrorBody),
    /// No session or token, or an unknown, expired or revoked token.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// The caller's role may not do this.
    #[response(status = 403)]
    Forbidden(ErrorBody),
}

/// The refusals of a route about one object.
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum RefusedOrMissing {
    /// A parameter or body that does not parse or breaks a rule: the message names it.
    #[response(status = 400)]
    Invalid(ErrorBody),
    /// No session or token, or an unknown, expired or revoked token.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// The caller's role may not do this.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// No such object, or one the caller may not see.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// The object's state does not allow it now (a closed campaign, a request already waiting).
    #[response(status = 409)]
    Conflict(ErrorBody),
}

/// The OpenAPI document of [`api_scope`], built once from its registrations.
pub fn document() -> OpenApi {
    use utoipa::OpenApi as _;
    use utoipa_actix_web::AppExt;
    let (_, doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(Base::openapi())
        .service(api_scope())
        .split_for_parts();
    doc
}

/// The document as served, built at first use.
static DOCUMENT: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| document().to_json().unwrap_or_default());

/// GET /api/v1/openapi.json. Public, like the routes' shapes in the source: it holds no data.
async fn serve_document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .body(DOCUMENT.as_str())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use std::fmt::Write as _;

    /// The copies in `docs/` (the document, and the reference rendered from it) are the
    /// document as the server builds it (`ROSTER_BLESS=1` rewrites them).
    #[test]
    fn the_documents_in_docs_are_current() -> anyhow::Result<()> {
        let doc = super::document();
        let json = doc.to_pretty_json()? + "\n";
        let reference = reference(&serde_json::from_str(&json)?);
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
        for (name, text) in [("openapi.json", &json), ("api-reference.md", &reference)] {
            let path = docs.join(name);
            if std::env::var_os("ROSTER_BLESS").is_some() {
                std::fs::write(&path, text)?;
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                &committed == text,
                "docs/{name} is not what the server serves: run \
                 `ROSTER_BLESS=1 cargo test -p roster the_documents_in_docs_are_current`"
            );
        }
        Ok(())
    }

    /// Every operation answers its refusals with the error body, and every one needs a
    /// token or a session.
    #[test]
    fn every_operation_documents_its_refusals_and_its_authentication() -> anyhow::Result<()> {
        let doc: Value = serde_json::from_str(&super::document().to_json()?)?;
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["components"]["securitySchemes"]["api_token"]["scheme"] == "bearer");
        let mut operations = 0;
        for (path, methods) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in methods.as_object().into_iter().flatten() {
                operations += 1;
                let refusal = &op["responses"]["401"]["content"]["application/json"]["schema"];
                assert_eq!(
                    refusal["$ref"], "#/components/schemas/ErrorBody",
                    "{method} {path}"
                );
                assert!(
                    op["security"].is_null(),
                    "{method} {path}: the global security"
                );
            }
        }
        assert!(operations >= 11);
        Ok(())
    }

    /// A schema in one line: a reference as a link, enums by their values, `null` spelled out.
    fn type_of(s: &Value) -> String {
        if let Some(r) = s["$ref"].as_str() {
            let name = r.rsplit('/').next().unwrap_or(r);
            return format!("[{name}](#{})", name.to_lowercase());
        }
        if let Some(any) = s["oneOf"].as_array().or(s["anyOf"].as_array()) {
            return any.iter().map(type_of).collect::<Vec<_>>().join(" \\| ");
        }
        if let Some(values) = s["enum"].as_array() {
            return values
                .iter()
                .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", ");
        }
        let one = |t: &str| match t {
            "array" => format!("array of {}", type_of(&s["items"])),
            t => match s["format"].as_str() {
                Some(f) => format!("{t} ({f})"),
                None => t.to_owned(),
            },
        };
        match &s["type"] {
            Value::String(t) => one(t),
            Value::Array(ts) => ts
                .iter()
                .filter_map(Value::as_str)
                .map(one)
                .collect::<Vec<_>>()
                .join(" \\| "),
            _ => "any JSON".to_owned(),
        }
    }

    /// Text for a table cell.
    fn cell(s: &Value) -> String {
        s.as_str()
            .unwrap_or_default()
            .replace('\n', " ")
            .replace('|', "\\|")
    }

    /// The reference in Markdown: every operation by tag, then every schema.
    fn reference(doc: &Value) -> String {
        let mut out = String::from(
            "# API reference\n\n\
             Generated from [`openapi.json`](openapi.json) (served at `GET /api/v1/openapi.json`) by \
             `ROSTER_BLESS=1 cargo test -p roster the_documents_in_docs_are_current`; a test \
             fails when either differs from what the server builds. How to authenticate and \
             page: [api.md](api.md).\n",
        );
        for tag in doc["tags"].as_array().into_iter().flatten() {
            let name = tag["name"].as_str().unwrap_or_default();
            let _ = write!(out, "\n## {name}\n\n{}\n", cell(&tag["description"]));
            for (path, methods) in doc["paths"].as_object().into_iter().flatten() {
                for (method, op) in methods.as_object().into_iter().flatten() {
                    if !op["tags"]
                        .as_array()
                        .is_some_and(|t| t.iter().any(|t| t == name))
                    {
                        continue;
                    }
                    let _ = write!(
                        out,
                        "\n### `{} {path}`\n\n{}\n",
                        method.to_uppercase(),
                        op["summary"].as_str().unwrap_or_default()
                    );
                    let params = op["parameters"].as_array().into_iter().flatten();
                    let mut first = true;
                    for p in params {
                        if first {
                            out.push_str(
                                "\n| parameter | in | type | description |\n|---|---|---|---|\n",
                            );
                            first = false;
                        }
                        let _ = writeln!(
                            out,
                            "| `{}`{} | {} | {} | {} |",
                            cell(&p["name"]),
                            if p["required"] == true {
                                " (required)"
                            } else {
                                ""
                            },
                            cell(&p["in"]),
                            type_of(&p["schema"]),
                            cell(&p["description"])
                        );
                    }
                    if let Some(body) = op["requestBody"]["content"].as_object() {
                        let kinds: Vec<String> = body
                            .iter()
                            .map(|(ct, c)| format!("`{ct}` {}", type_of(&c["schema"])))
                            .collect();
                        let _ = write!(out, "\nBody: {}.\n", kinds.join(", or "));
                    }
                    out.push_str("\n| status | meaning | body |\n|---|---|---|\n");
                    for (status, r) in op["responses"].as_object().into_iter().flatten() {
                        let body = r["content"]["application/json"]["schema"].clone();
                        let _ = writeln!(
                            out,
                            "| {status} | {} | {} |",
                            cell(&r["description"]),
                            if body.is_null() {
                                String::new()
                            } else {
                                type_of(&body)
                            }
                        );
                    }
                }
            }
        }
        out.push_str("\n## Schemas\n");
        for (name, s) in doc["components"]["schemas"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let _ = write!(out, "\n### {name}\n\n");
            if let Some(d) = s["description"].as_str() {
                let _ = write!(out, "{}\n\n", d.replace('\n', " "));
            }
            let Some(props) = s["properties"].as_object() else {
                let _ = writeln!(out, "{}", type_of(s));
                continue;
            };
            let required = |f: &str| {
                s["required"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|x| x == f))
            };
            out.push_str("| field | type | description |\n|---|---|---|\n");
            for (field, p) in props {
                let _ = writeln!(
                    out,
                    "| `{field}`{} | {} | {} |",
                    if required(field) { "" } else { " (optional)" },
                    type_of(p),
                    cell(&p["description"])
                );
            }
        }
        out
    }
}
