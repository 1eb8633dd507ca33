//! The people directory owners are checked against: a CSV export or a SCIM 2.0 `Users` (and
//! `Groups`) listing, parsed here and imported in one transaction with its audit event. One
//! import replaces its source's entries: whoever is missing from it has left, and the
//! identities they own become orphaned.

use chrono::{DateTime, Utc};
use roster_store::audit::NewAuditEvent;
pub use roster_store::people::{DirectoryEntry, ImportSummary};
use serde::Deserialize;

use crate::Roster;
use crate::access::Principal;
use crate::error::AppError;

/// The formats a directory export comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryFormat {
    /// Header `id,email,name,active,kind`; only `id` is required (`active` defaults to true,
    /// `kind` to person; kind may be `team`).
    Csv,
    /// A SCIM 2.0 ListResponse (or a JSON array) of User and Group resources.
    Scim,
}

impl DirectoryFormat {
    /// The source an import of this format replaces unless another is named.
    pub fn default_source(self) -> &'static str {
        match self {
            DirectoryFormat::Csv => "csv",
            DirectoryFormat::Scim => "scim",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryFileError {
    #[error("{file}: line {line}: {detail}")]
    Csv {
        file: String,
        line: u64,
        detail: String,
    },
    #[error("{file}: not a SCIM 2.0 listing: {detail}")]
    Scim { file: String, detail: String },
    #[error("{file}: `{key}` is listed twice ({first} and {second}); nothing was imported")]
    Duplicate {
        file: String,
        key: String,
        first: String,
        second: String,
    },
    #[error("{file}: the import is empty; refusing to mark everyone of `{directory}` as departed")]
    Empty { file: String, directory: String },
    #[error("{file}: {at}: the {field} {problem}; nothing was imported")]
    BadField {
        file: String,
        at: String,
        field: &'static str,
        problem: String,
    },
}

#[derive(Deserialize)]
struct CsvRow {
    id: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    active: Option<String>,
    #[serde(default)]
    kind: Option<String>,
}

/// The line a record starts on. csv's position is where its reader began, before the blank
/// lines it skips.
fn first_line_at(bytes: &[u8], position: &csv::Position) -> u64 {
    let from = usize::try_from(position.byte()).unwrap_or(usize::MAX);
    let blank = bytes
        .get(from..)
        .unwrap_or_default()
        .iter()
        .take_while(|b| matches!(b, b'\n' | b'\r'))
        .filter(|b| **b == b'\n')
        .count();
    position.line() + blank as u64
}

fn parse_csv(file: &str, bytes: &[u8]) -> Result<Vec<DirectoryEntry>, DirectoryFileError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut out = Vec::new();
    // The line each entry starts on: blank lines and quoted line breaks make it differ from
    // the record's index, and a refusal must name the line the reader sees in the file.
    let mut lines = Vec::new();
    let headers = reader
        .headers()
        .map_err(|e| DirectoryFileError::Csv {
            file: file.to_owned(),
            line: 1,
            detail: e.to_string(),
        })?
        .clone();
    let mut last_line = 1;
    for record in reader.records() {
        let position = match &record {
            Ok(r) => r.position(),
            Err(e) => e.position(),
        };
        let line = position.map_or(last_line + 1, |p| first_line_at(bytes, p));
        last_line = line;
        let err = |detail: String| DirectoryFileError::Csv {
            file: file.to_owned(),
            line,
            detail,
        };
        let row: CsvRow = record
            .and_then(|r| r.deserialize(Some(&headers)))
            .map_err(|e| err(e.to_string()))?;
        let active = match row
            .active
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("") | Some("true") | Some("yes") | Some("1") => true,
            Some("false") | Some("no") | Some("0") => false,
            Some(other) => return Err(err(format!("active must be true or false, not `{other}`"))),
        };
        let kind = match row.kind.as_deref().unwrap_or("person") {
            "" | "person" => "person",
            "team" => "team",
            other => return Err(err(format!("kind must be person or team, not `{other}`"))),
        };
        if row.id.is_empty() {
            return Err(err("empty id".into()));
        }
        out.push(DirectoryEntry {
            key: row.id,
            email: row.email.filter(|e| !e.is_empty()),
            display_name: row.name.filter(|n| !n.is_empty()),
            kind: kind.into(),
            active,
        });
        lines.push(line);
    }
    refuse_duplicates(file, &out, |i| format!("line {}", lines[i]))?;
    Ok(out)
}

fn parse_scim(file: &str, bytes: &[u8]) -> Result<Vec<DirectoryEntry>, DirectoryFileError> {
    let err = |detail: String| DirectoryFileError::Scim {
        file: file.to_owned(),
        detail,
    };
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| err(e.to_string()))?;
    let resources = match &v {
        serde_json::Value::Array(a) => a.clone(),
        serde_json::Value::Object(o) => match o.get("Resources") {
            Some(serde_json::Value::Array(a)) => {
                // One page of a larger listing would mark everyone on the other pages departed.
                if let Some(total) = o.get("totalResults").and_then(serde_json::Value::as_u64)
                    && total > a.len() as u64
                {
                    return Err(err(format!(
                        "this is one page ({} of {total} resources); import the whole listing",
                        a.len()
                    )));
                }
                a.clone()
            }
            _ => return Err(err("no `Resources` array".into())),
        },
        _ => return Err(err("expected an object or an array".into())),
    };
    let mut out = Vec::new();
    for (i, r) in resources.iter().enumerate() {
        let schemas = r["schemas"].to_string();
        let is_group = schemas.contains("core:2.0:Group");
        let key = if is_group {
            r["displayName"].as_str()
        } else {
            r["userName"].as_str()
        }
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            err(format!(
                "Resources[{i}] has no {}",
                if is_group { "displayName" } else { "userName" }
            ))
        })?;
        let active = match &r["active"] {
            // SCIM: `active` absent means active.
            serde_json::Value::Null => true,
            serde_json::Value::Bool(b) => *b,
            other => {
                return Err(err(format!(
                    "Resources[{i}].active is {other}, not true or false"
                )));
            }
        };
        let email = r["emails"]
            .as_array()
            .and_then(|emails| {
                emails
                    .iter()
                    .find(|e| e["primary"] == true)
                    .or_else(|| emails.first())
            })
            .and_then(|e| e["value"].as_str())
            .map(str::to_owned);
        out.push(DirectoryEntry {
            key: key.to_owned(),
            email,
            display_name: r["displayName"].as_str().map(str::to_owned),
            kind: if is_group { "team" } else { "person" }.into(),
            active,
        });
    }
    refuse_duplicates(file, &out, |i| format!("Resources[{i}]"))?;
    Ok(out)
}

/// The longest id, email or name taken (an email is at most 254 characters).
pub const MAX_FIELD: usize = 512;

/// The same person twice in one import: which entry holds would be a guess, so neither does.
/// Also refuses what one database would take and the other not: a NUL character (PostgreSQL
/// refuses it in text), a value longer than [`MAX_FIELD`].
fn refuse_duplicates(
    file: &str,
    entries: &[DirectoryEntry],
    at: impl Fn(usize) -> String,
) -> Result<(), DirectoryFileError> {
    let mut seen = std::collections::HashMap::new();
    for (i, e) in entries.iter().enumerate() {
        let fields = [
            ("id", Some(&e.key)),
            ("email", e.email.as_ref()),
            ("name", e.display_name.as_ref()),
        ];
        for (field, value) in fields {
            let Some(value) = value else { continue };
            let problem = if value.contains('\0') {
                Some("holds a NUL character".to_owned())
            } else if value.chars().count() > MAX_FIELD {
                Some(format!("is longer than {MAX_FIELD} characters"))
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(DirectoryFileError::BadField {
                    file: file.to_owned(),
                    at: at(i),
                    field,
                    problem,
                });
            }
        }
        if let Some(first) = seen.insert(e.key.to_lowercase(), i) {
            return Err(DirectoryFileError::Duplicate {
                file: file.to_owned(),
                key: e.key.clone(),
                first: at(first),
                second: at(i),
            });
        }
    }
    Ok(())
}

impl From<DirectoryFileError> for AppError {
    fn from(e: DirectoryFileError) -> Self {
        AppError::Invalid(e.to_string())
    }
}

/// Parses a directory export (`file` names it in errors).
pub fn parse(
    format: DirectoryFormat,
    file: &str,
    bytes: &[u8],
) -> Result<Vec<DirectoryEntry>, DirectoryFileError> {
    match format {
        DirectoryFormat::Csv => parse_csv(file, bytes),
        DirectoryFormat::Scim => parse_scim(file, bytes),
    }
}

/// An empty import would mark everyone of `source` departed: refused.
pub fn refuse_empty(
    file: &str,
    source: &str,
    entries: &[DirectoryEntry],
) -> Result<(), DirectoryFileError> {
    if entries.is_empty() {
        return Err(DirectoryFileError::Empty {
            file: file.to_owned(),
            directory: source.to_owned(),
        });
    }
    Ok(())
}

/// By default an import marks at most this share (percent) of a source's active people
/// departed without `--allow-mass-departure` (`--max-departure-percent` sets another)...
pub const MASS_DEPARTURE_PERCENT: u8 = 10;
/// ...or this many, whichever is more: a small team's two leavers are not a mass.
pub const MASS_DEPARTURE_MIN: u64 = 5;

/// A truncated or wrong export (a filtered report, a file of blank rows the parser took for
/// people) would orphan every identity its missing people own: such an import is held back.
pub fn refuse_mass_departure(
    source: &str,
    summary: &ImportSummary,
    max_percent: u8,
) -> Result<(), String> {
    let allowed = (summary.active_before * u64::from(max_percent) / 100).max(MASS_DEPARTURE_MIN);
    if summary.departed > allowed {
        return Err(format!(
            "this import would mark {} of the {} active people of `{source}` departed (more \
             than {max_percent} %, and more than {MASS_DEPARTURE_MIN}); nothing was imported. \
             If that is right, import it again with --allow-mass-departure",
            summary.departed, summary.active_before,
        ));
    }
    Ok(())
}

/// How many departures one import may make without being held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepartureGuard {
    /// `--allow-mass-departure`: any number.
    Allow,
    /// At most this percent of the source's active people (and always [`MASS_DEPARTURE_MIN`]).
    AtMostPercent(u8),
}

impl Default for DepartureGuard {
    fn default() -> Self {
        DepartureGuard::AtMostPercent(MASS_DEPARTURE_PERCENT)
    }
}

impl Roster {
    /// A person who signed in through SSO joins the directory (source `sso`). A failure is the
    /// caller's to log: the sign-in does not depend on it.
    pub async fn record_sso_login(
        &self,
        who: &str,
        email: Option<&str>,
        name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), AppError> {
        self.store.record_sso_login(who, email, name, now).await?;
        Ok(())
    }

    /// Replaces the entries of `source` with `entries` (one transaction with its audit event:
    /// no event, no import). An empty import is refused: it would mark everyone departed; so is
    /// one that would mark a mass of them departed ([`refuse_mass_departure`]) unless
    /// `allow_mass_departure`.
    pub async fn import_people(
        &self,
        p: &Principal,
        file: &str,
        source: &str,
        entries: &[DirectoryEntry],
        departures: DepartureGuard,
        now: DateTime<Utc>,
    ) -> Result<ImportSummary, AppError> {
        p.require_launch()?;
        refuse_empty(file, source, entries)?;
        let actor = p.actor();
        Ok(self
            .store
            .import_directory_audited(
                source,
                entries,
                now,
                |summary| match departures {
                    DepartureGuard::Allow => Ok(()),
                    DepartureGuard::AtMostPercent(p) => refuse_mass_departure(source, summary, p),
                },
                |summary| NewAuditEvent {
                    actor,
                    action: "people.import".into(),
                    target: Some(format!("directory:{source}")),
                    detail: serde_json::json!({"file": file, "summary": summary,
                                               "allow_mass_departure": departures == DepartureGuard::Allow}),
                },
            )
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_scim_parse_and_bad_rows_name_their_line() {
        let rows = parse_csv("d.csv", b"id,email,active,kind\nalice,alice@acme.example,true,\nplatform-team,,,team\nbob,,false,person\n").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].kind, "team");
        assert!(!rows[2].active);
        let err = parse_csv("d.csv", b"id,active\nalice,maybe\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("d.csv: line 2"), "{err}");
        let scim = br#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":2,"Resources":[
            {"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"carol","active":false,"emails":[{"value":"carol@acme.example","primary":true}]},
            {"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"data"}]}"#;
        let rows = parse_scim("u.json", scim).unwrap();
        assert_eq!(rows[0].email.as_deref(), Some("carol@acme.example"));
        assert!(!rows[0].active);
        assert_eq!(
            (rows[1].key.as_str(), rows[1].kind.as_str()),
            ("data", "team")
        );
        assert!(parse_scim("u.json", b"{}").is_err());
    }

    #[test]
    fn a_mass_departure_is_held_back_and_its_clean_twins_pass() {
        let summary = |active_before, departed| ImportSummary {
            active_before,
            departed,
            ..ImportSummary::default()
        };
        // 200 people, all gone: refused, naming the counts and the way out.
        let err = refuse_mass_departure("csv:hr", &summary(200, 200), MASS_DEPARTURE_PERCENT)
            .unwrap_err();
        assert!(
            err.contains("200 of the 200") && err.contains("--allow-mass-departure"),
            "{err}"
        );
        assert!(
            refuse_mass_departure("csv:hr", &summary(200, 21), MASS_DEPARTURE_PERCENT).is_err()
        );
        // 10 % of 200, and a small team's few leavers, pass.
        assert!(refuse_mass_departure("csv:hr", &summary(200, 20), MASS_DEPARTURE_PERCENT).is_ok());
        assert!(refuse_mass_departure("csv:hr", &summary(8, 5), MASS_DEPARTURE_PERCENT).is_ok());
        assert!(refuse_mass_departure("csv:hr", &summary(8, 6), MASS_DEPARTURE_PERCENT).is_err());
        // Another share where a source churns more.
        let at = |s, p| refuse_mass_departure("csv:hr", &s, p);
        assert!(at(summary(200, 50), 25).is_ok());
        assert!(at(summary(200, 51), 25).is_err());
    }

    #[test]
    fn values_one_database_would_refuse_are_refused_on_both() {
        let nul = parse(DirectoryFormat::Csv, "n.csv", b"id,email\nalice,a\0@x\n")
            .unwrap_err()
            .to_string();
        assert!(
            nul.contains("n.csv: line 2: the email holds a NUL"),
            "{nul}"
        );
        let long = format!("id\nbob\n{}\n", "x".repeat(MAX_FIELD + 1));
        let long = parse(DirectoryFormat::Csv, "l.csv", long.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(long.contains("line 3: the id is longer than 512"), "{long}");
        // The clean twin: at the limit, taken.
        let edge = format!("id\n{}\n", "x".repeat(MAX_FIELD));
        assert_eq!(
            parse(DirectoryFormat::Csv, "e.csv", edge.as_bytes())
                .unwrap()
                .len(),
            1
        );
        let scim = parse(
            DirectoryFormat::Scim,
            "s.json",
            br#"[{"userName":"a"},{"userName":"b\u0000"}]"#,
        )
        .unwrap_err()
        .to_string();
        assert!(scim.contains("Resources[1]: the id holds a NUL"), "{scim}");
    }

    /// Inputs that would wipe or misstate a source are refused, naming where; their clean
    /// twins import.
    #[test]
    fn imports_that_would_wipe_or_misstate_are_refused() {
        let refused = |bytes: &[u8], want: &str| {
            let err = parse_scim("u.json", bytes).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        };
        refused(br#"[{"userName":"   "}]"#, "Resources[0] has no userName");
        refused(
            br#"[{"userName":"a","active":"false"}]"#,
            "Resources[0].active is \"false\"",
        );
        refused(
            br#"[{"userName":"a"},{"userName":"b"},{"userName":"A"}]"#,
            "`A` is listed twice (Resources[0] and Resources[2])",
        );
        refused(
            br#"{"totalResults":200,"itemsPerPage":100,"startIndex":1,"Resources":[{"userName":"a"}]}"#,
            "one page (1 of 200 resources)",
        );
        let whole =
            br#"{"totalResults":2,"Resources":[{"userName":"a","active":false},{"userName":"b"}]}"#;
        let rows = parse_scim("u.json", whole).unwrap();
        assert_eq!(
            (rows.len(), rows[0].active, rows[1].active),
            (2, false, true)
        );
        let err = parse_csv("d.csv", b"id\nalice\nbob\nalice\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`alice` is listed twice (line 2 and line 4)"),
            "{err}"
        );
        assert_eq!(parse_csv("d.csv", b"id\nalice\nbob\n").unwrap().len(), 2);
    }
}
