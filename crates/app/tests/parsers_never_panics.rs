//! Issue 18: no property of an input can panic. The application's parsers of untrusted text —
//! the config, the policy file, scope query strings, people imports (CSV and SCIM) — either
//! give a value or refuse with a message that says what is wrong and, where the input has one,
//! names the key, line or resource.

use std::io::Write;

use proptest::prelude::*;
use roster_app::config::Config;
use roster_app::people::{DirectoryFormat, parse as parse_people};
use roster_app::scope::Scope;

/// Few enough that the whole file runs in a few seconds in CI.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// A TOML value of any type: numbers huge and negative, strings, dates, arrays, tables.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        (-10i64..70_000).prop_map(|n| n.to_string()),
        Just("99999999999999999999".to_owned()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        any::<bool>().prop_map(|b| b.to_string()),
        "[a-zA-Z0-9 ./:_*@-]{0,16}".prop_map(|s| format!("{s:?}")),
        any::<String>().prop_map(|s| format!("{s:?}")),
        Just("\"sqlite::memory:\"".to_owned()),
        Just("\"127.0.0.1:8080\"".to_owned()),
        Just("\"0 0 * * * *\"".to_owned()),
        Just("\"not a cron\"".to_owned()),
        Just("\"TOKEN_ENV_THAT_IS_NOT_SET\"".to_owned()),
        Just("\"/nonexistent/roster/file\"".to_owned()),
        Just("\"ghp_0123456789abcdef\"".to_owned()),
        Just("2027-01-31".to_owned()),
        Just("[]".to_owned()),
        Just("[1, \"a\"]".to_owned()),
        Just("[\"10.0.0.0/8\", \"::1\"]".to_owned()),
        Just("{}".to_owned()),
        Just("{ a = 1 }".to_owned()),
    ]
}

const SECTIONS: &[&str] = &[
    "server",
    "database",
    "auth",
    "auth.oidc",
    "policy",
    "audit",
    "notifications",
    "notifications.email",
    "notifications.webhook",
    "scheduler",
    "colour",
];

const SECTION_KEYS: &[&str] = &[
    "bind",
    "public_url",
    "trusted_proxies",
    "url",
    "issuer",
    "client_id",
    "client_secret_env",
    "client_secret_file",
    "role_claim",
    "admin_groups",
    "auditor_groups",
    "trust_unverified_email",
    "file",
    "webhook_url_env",
    "webhook_url_file",
    "webhook_secret_env",
    "host",
    "port",
    "tls",
    "from",
    "username",
    "password_env",
    "password_file",
    "url_env",
    "url_file",
    "reminders",
    "token",
];

const CONNECTOR_KINDS: &[&str] = &[
    "synthetic",
    "github",
    "gitlab",
    "gcp",
    "azure",
    "mainframe",
    "",
];

const CONNECTOR_KEYS: &[&str] = &[
    "schedule",
    "api_url",
    "org",
    "orgs",
    "token_env",
    "token_file",
    "app_id",
    "installation_id",
    "private_key_file",
    "page_size",
    "max_pages",
    "conditional_requests",
    "conditional_cache_mib",
    "url",
    "groups",
    "instance",
    "max_token_lifetime_days",
    "tenant_id",
    "client_id",
    "client_secret_env",
    "certificate_file",
    "graph_url",
    "max_secret_lifetime_days",
    "include_microsoft_apps",
    "projects",
    "credentials_file",
    "seed",
    "count",
    "remediation",
    "colour",
];

const CAMPAIGN_KEYS: &[&str] = &[
    "name",
    "scope",
    "schedule",
    "due_days",
    "fallback_reviewer",
    "team_reviewers",
    "close_out",
    "keep_justification_from",
    "reminder_days",
    "colour",
];

fn key_of(keys: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(keys).prop_map(str::to_owned),
        1 => "[a-z_]{1,12}",
    ]
}

fn table(header: String, keys: Vec<(String, String)>) -> String {
    let mut s = format!("{header}\n");
    for (k, v) in keys {
        s.push_str(&format!("{k} = {v}\n"));
    }
    s
}

/// A whole `roster.toml`: sections, connectors and campaigns with random keys and values.
fn config_document() -> impl Strategy<Value = String> {
    let section = (
        prop::sample::select(SECTIONS),
        prop::collection::vec((key_of(SECTION_KEYS), toml_value()), 0..4),
    )
        .prop_map(|(s, keys)| table(format!("[{s}]"), keys));
    let connector = (
        "[a-z]{0,6}",
        prop::sample::select(CONNECTOR_KINDS),
        prop::collection::vec((key_of(CONNECTOR_KEYS), toml_value()), 0..4),
    )
        .prop_map(|(name, kind, mut keys)| {
            keys.insert(0, ("kind".into(), format!("{kind:?}")));
            keys.insert(0, ("name".into(), format!("{name:?}")));
            table("[[connectors]]".into(), keys)
        });
    let campaign = prop::collection::vec((key_of(CAMPAIGN_KEYS), toml_value()), 0..5)
        .prop_map(|keys| table("[[campaigns]]".into(), keys));
    prop::collection::vec(prop_oneof![section, connector, campaign], 0..5).prop_map(|tables| {
        // A key given twice is a TOML error of its own; keep each table's keys unique so the
        // documents mostly reach the config's own checks.
        tables
            .into_iter()
            .map(|t| {
                let mut seen = std::collections::HashSet::new();
                t.lines()
                    .filter(|l| seen.insert(l.split(" = ").next().unwrap_or(l).to_owned()))
                    .map(|l| format!("{l}\n"))
                    .collect::<String>()
            })
            .collect()
    })
}

/// The config as `roster check` uses it: parsed and checked, then each connector built.
fn load_config(text: &str) -> Result<(), String> {
    let c = Config::from_toml_str(text).map_err(|e| e.to_string())?;
    for (i, connector) in c.connectors.iter().enumerate() {
        roster_app::registry::build(i, connector).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// A query-string value: plain, percent-escaped (valid or not), with `+`, huge.
fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._~-]{0,12}",
        "[ -~]{0,12}",
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..8)
            .prop_map(|b| b.iter().map(|b| format!("%{b:02X}")).collect()),
        Just("%".to_owned()),
        Just("%zz".to_owned()),
        Just("%E2%82".to_owned()),
        (0usize..400).prop_map(|n| "x".repeat(n)),
        Just("x".repeat(100_000)),
        prop::sample::select(
            &[
                "aws",
                "github",
                "gcp",
                "azure",
                "gitlab",
                "high",
                "critical",
                "risk",
                "id",
                "1",
                "0",
                "yes",
                "maybe",
                "usage.stale",
                "no.such",
                "deploy_key",
                "high.42",
                "42",
                "low.-1",
                "-1",
                "r_1",
                " aws ",
                "  ",
            ][..]
        )
        .prop_map(str::to_owned),
    ]
}

const SCOPE_KEYS: &[&str] = &[
    "platform", "scope", "kind", "tier", "owner", "q", "stale", "orphaned", "rule", "sort", "after",
];

fn query_string() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        5 => prop::sample::select(SCOPE_KEYS).prop_map(str::to_owned),
        1 => "[a-z_%0-9]{0,8}",
    ];
    (
        any::<bool>(),
        prop::collection::vec((key, query_value(), any::<bool>()), 0..6),
    )
        .prop_map(|(question, pairs)| {
            let body = pairs
                .into_iter()
                .map(|(k, v, with_eq)| if with_eq { format!("{k}={v}") } else { k })
                .collect::<Vec<_>>()
                .join("&");
            if question { format!("?{body}") } else { body }
        })
}

/// On Ok, the scope's own query string (with its cursor) reads back as the same scope.
fn check_scope(s: &str) -> Result<(), TestCaseError> {
    match Scope::from_query_string(s) {
        Err(e) => prop_assert!(!e.to_string().trim().is_empty(), "{s:?}"),
        Ok(scope) => {
            let text = match scope.after {
                Some(c) => scope.with_after(&c.encode()),
                None => scope.query_string(),
            };
            let again = Scope::from_query_string(&text);
            prop_assert!(again.is_ok(), "{s:?} -> {text:?}: {again:?}");
            prop_assert_eq!(again.ok(), Some(scope), "{:?} -> {:?}", s, text);
        }
    }
    Ok(())
}

/// A CSV cell: plain, blank, quoted with commas, newlines or NULs, huge.
fn csv_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9@.]{0,10}",
        Just(String::new()),
        Just("   ".to_owned()),
        Just("alice".to_owned()),
        Just("ALICE".to_owned()),
        Just("true".to_owned()),
        Just("no".to_owned()),
        Just("maybe".to_owned()),
        Just("team".to_owned()),
        Just("robot".to_owned()),
        Just("a\0b".to_owned()),
        Just("\"a,b\"".to_owned()),
        Just("\"line\nbreak\"".to_owned()),
        Just("\"unterminated".to_owned()),
        (0usize..2_000).prop_map(|n| "x".repeat(n)),
        "[ -~]{0,10}",
    ]
}

fn csv_document() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        4 => Just("id,email,name,active,kind".to_owned()),
        1 => Just("id,active".to_owned()),
        1 => Just("id".to_owned()),
        1 => Just("email,name".to_owned()),
        1 => Just("id,id,active".to_owned()),
        1 => "[a-z,]{0,20}",
    ];
    // Mostly rows as wide as the full header, so they reach the row checks.
    let row = prop_oneof![
        3 => prop::collection::vec(csv_cell(), 5),
        1 => prop::collection::vec(csv_cell(), 0..7),
        1 => Just(Vec::new()),
    ];
    (
        header,
        prop::collection::vec(row, 0..6),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..16)),
    )
        .prop_map(|(header, rows, junk)| {
            let mut out = format!("{header}\n");
            for row in rows {
                out.push_str(&row.join(","));
                out.push('\n');
            }
            let mut bytes = out.into_bytes();
            bytes.extend(junk.unwrap_or_default());
            bytes
        })
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = serde_json::Value> + Clone {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[ -~]{0,8}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A SCIM resource with known fields set to values of any type.
fn scim_resource() -> impl Strategy<Value = serde_json::Value> + Clone {
    use serde_json::{Value, json};
    let key = prop_oneof![
        Just(json!("alice")),
        Just(json!("ALICE")),
        Just(json!("  ")),
        Just(json!("a\u{0}b")),
        (0usize..2_000).prop_map(|n| json!("x".repeat(n))),
        json_value(),
    ];
    let schemas = prop_oneof![
        Just(json!(["urn:ietf:params:scim:schemas:core:2.0:User"])),
        Just(json!(["urn:ietf:params:scim:schemas:core:2.0:Group"])),
        json_value(),
    ];
    let active = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        Just(json!("false")),
        json_value()
    ];
    let emails = prop_oneof![
        Just(json!([{"value": "a@b", "primary": true}])),
        Just(json!([])),
        json_value()
    ];
    (
        schemas,
        prop::option::of(key.clone()),
        prop::option::of(key),
        active,
        emails,
    )
        .prop_map(|(schemas, user, display, active, emails)| {
            let mut o = serde_json::Map::new();
            o.insert("schemas".into(), schemas);
            if let Some(u) = user {
                o.insert("userName".into(), u);
            }
            if let Some(d) = display {
                o.insert("displayName".into(), d);
            }
            o.insert("active".into(), active);
            o.insert("emails".into(), emails);
            Value::Object(o)
        })
}

fn scim_document() -> impl Strategy<Value = Vec<u8>> {
    use serde_json::json;
    let resources = || prop::collection::vec(scim_resource(), 0..5);
    prop_oneof![
        resources().prop_map(|r| json!(r)),
        (resources(), prop::option::of(any::<u64>()))
            .prop_map(|(r, total)| json!({"totalResults": total, "Resources": r})),
        json_value(),
    ]
    .prop_map(|v| v.to_string().into_bytes())
}

/// People files: a refusal names the file and where in it (a line, a resource) or what the
/// whole file lacks.
fn check_people(format: DirectoryFormat, bytes: &[u8]) -> Result<(), TestCaseError> {
    let file = "people.import";
    if let Err(e) = parse_people(format, file, bytes) {
        let msg = e.to_string();
        prop_assert!(msg.starts_with(&format!("{file}: ")), "{msg}");
        let located = msg.contains("line ")
            || msg.contains("Resources[")
            || msg.contains("not a SCIM 2.0 listing");
        prop_assert!(located, "refusal does not say where: {msg}");
        prop_assert!(msg.len() > file.len() + 2, "{msg}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn config_any_text_is_parsed_or_refused(text in any::<String>()) {
        if let Err(e) = load_config(&text) {
            prop_assert!(!e.trim().is_empty());
        }
    }

    #[test]
    fn scope_any_text_is_parsed_or_refused(s in any::<String>()) {
        check_scope(&s)?;
    }

    #[test]
    fn scope_query_strings_parse_round_trip_or_are_refused(s in query_string()) {
        check_scope(&s)?;
    }

    /// One known filter with any value: a refusal names the value (or the key) it refused.
    #[test]
    fn scope_a_bad_filter_is_named(
        key in prop::sample::select(SCOPE_KEYS),
        value in "[a-z0-9.]{1,12}",
    ) {
        let s = format!("{key}={value}");
        if let Err(e) = Scope::from_query_string(&s) {
            let e = e.to_string();
            prop_assert!(e.contains(&value) || e.contains(key), "{s}: {e}");
        }
    }

    #[test]
    fn people_any_bytes_are_parsed_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check_people(DirectoryFormat::Csv, &bytes)?;
        check_people(DirectoryFormat::Scim, &bytes)?;
    }

    #[test]
    fn people_csv_rows_are_parsed_or_refused_by_line(bytes in csv_document()) {
        check_people(DirectoryFormat::Csv, &bytes)?;
    }

    /// Good rows, blank lines and quoted line breaks, then one bad row: the refusal names the
    /// bad row's line in the file.
    #[test]
    fn people_csv_refusal_names_the_actual_line(
        rows in prop::collection::vec((0usize..3, any::<bool>()), 0..8),
        crlf in any::<bool>(),
    ) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("id,name,active{nl}");
        let mut line = 2;
        for (i, (blank, quoted)) in rows.iter().enumerate() {
            for _ in 0..*blank {
                text.push_str(nl);
                line += 1;
            }
            if *quoted {
                text.push_str(&format!("u{i},\"two{nl}lines\",yes{nl}"));
                line += 2;
            } else {
                text.push_str(&format!("u{i},one,yes{nl}"));
                line += 1;
            }
        }
        text.push_str(&format!("bad,x,maybe{nl}"));
        let err = parse_people(DirectoryFormat::Csv, "f.csv", text.as_bytes())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        prop_assert!(err.contains(&format!("f.csv: line {line}: active must be")), "{text:?}: {err}");
    }

    #[test]
    fn people_scim_listings_are_parsed_or_refused_by_resource(bytes in scim_document()) {
        check_people(DirectoryFormat::Scim, &bytes)?;
    }
}

proptest! {
    // Each case builds the configured connectors: fewer cases.
    #![proptest_config(config(128))]

    /// Random sections, connectors and campaigns: parsed and built, or refused with a message.
    #[test]
    fn config_random_documents_are_parsed_or_refused(text in config_document()) {
        if let Err(e) = load_config(&text) {
            prop_assert!(!e.trim().is_empty(), "{text}");
        }
    }

    /// One unknown key in any section: refused, naming the key.
    #[test]
    fn config_an_unknown_key_is_named(
        section in prop::sample::select(&SECTIONS[..SECTIONS.len() - 1]),
        key in "zz[a-z_]{1,10}",
        value in toml_value(),
    ) {
        let text = format!("[{section}]\n{key} = {value}\n");
        let err = load_config(&text);
        prop_assert!(err.is_err(), "{text} was taken");
        let err = err.err().unwrap_or_default();
        prop_assert!(err.contains(&key), "{text}: {err}");
    }
}

proptest! {
    // Each case writes a file.
    #![proptest_config(config(64))]

    /// The policy file as the app loads it: any text is loaded or refused naming the file.
    #[test]
    fn policy_file_any_text_is_loaded_or_refused_naming_the_file(text in prop_oneof![
        any::<String>(),
        "(stale_days|grace_days|rotation_days|escalate_high_count|colour) = -?[0-9]{1,20}",
    ]) {
        let mut file = tempfile::NamedTempFile::new().map_err(|e| TestCaseError::fail(e.to_string()))?;
        file.write_all(text.as_bytes()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        if let Err(e) = roster_app::policy::load(Some(file.path())) {
            let e = e.to_string();
            prop_assert!(e.contains(&file.path().display().to_string()), "{e}");
        }
    }
}

/// Found by the CSV property: a refusal named the record's index plus two as its line, which is
/// another line once the file has a blank line or a quoted line break. It names the line now.
#[test]
fn csv_refusals_name_the_line_in_the_file() {
    for (text, want) in [
        (
            "id,active\n\n\nalice,maybe\n",
            "f.csv: line 4: active must be",
        ),
        (
            "id,active\n\"a\nb\",yes\nbob,maybe\n",
            "f.csv: line 4: active must be",
        ),
        ("id\nalice\n\nalice\n", "(line 2 and line 4)"),
        // The clean twin: no blank line, the line is the index plus two.
        (
            "id,active\nalice,yes\nbob,maybe\n",
            "f.csv: line 3: active must be",
        ),
    ] {
        let err = parse_people(DirectoryFormat::Csv, "f.csv", text.as_bytes())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(want), "{text:?}: {err}");
    }
    let rows = parse_people(DirectoryFormat::Csv, "f.csv", b"id\n\nalice\n\nbob\n").unwrap();
    assert_eq!(rows.len(), 2);
}

/// Found by the config property: an unknown key is named with its last part twice
/// (`[server] bnd = 1` → "unknown key `server.bnd.bnd`"), because figment's error path already
/// ends with the field; `figment_error` in config.rs used to append it again (`server.bnd.bnd`).
#[test]
fn config_an_unknown_key_is_named_exactly() {
    for (text, want) in [
        ("[server]\nbnd = 1\n", "unknown key `server.bnd`"),
        ("colour = 1\n", "unknown key `colour`"),
        (
            "[auth.oidc]\nissuer = \"a\"\nclient_id = \"b\"\nzz = 1\n",
            "unknown key `auth.oidc.zz`",
        ),
    ] {
        let err = Config::from_toml_str(text)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(want), "{text:?}: {err}");
    }
}
