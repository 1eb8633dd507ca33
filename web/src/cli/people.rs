//! `roster people import FILE`: the people directory from a CSV export or a SCIM 2.0 `Users`
//! (and `Groups`) listing. One import replaces its source's entries: whoever is missing from it
//! has left, and the identities they own become orphaned.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use roster_store::audit::NewAuditEvent;
use roster_store::people::DirectoryEntry;
use serde::Deserialize;

use super::{actor, load_config, open_store};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DirectoryFormat {
    /// Header `id,email,name,active,kind`; only `id` is required (`active` defaults to true,
    /// `kind` to person; kind may be `team`).
    Csv,
    /// A SCIM 2.0 ListResponse (or a JSON array) of User and Group resources.
    Scim,
}

#[derive(Debug, clap::Subcommand)]
pub enum PeopleCommand {
    /// Import a directory export; replaces the entries of its source.
    Import {
        #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
        config: Option<PathBuf>,
        file: PathBuf,
        #[arg(long, value_enum, default_value = "csv")]
        format: DirectoryFormat,
        /// Name of the source (entries of other sources are untouched). Default: the format.
        #[arg(long)]
        source: Option<String>,
    },
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
    #[error("{file}: the import is empty; refusing to mark everyone of `{directory}` as departed")]
    Empty { file: String, directory: String },
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

fn parse_csv(file: &str, bytes: &[u8]) -> Result<Vec<DirectoryEntry>, DirectoryFileError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let mut out = Vec::new();
    for (i, row) in reader.deserialize::<CsvRow>().enumerate() {
        let line = i as u64 + 2;
        let err = |detail: String| DirectoryFileError::Csv {
            file: file.to_owned(),
            line,
            detail,
        };
        let row = row.map_err(|e| err(e.to_string()))?;
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
    }
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
            Some(serde_json::Value::Array(a)) => a.clone(),
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
        .ok_or_else(|| {
            err(format!(
                "Resources[{i}] has no {}",
                if is_group { "displayName" } else { "userName" }
            ))
        })?;
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
            // SCIM: `active` absent means active.
            active: r["active"].as_bool().unwrap_or(true),
        });
    }
    Ok(out)
}

pub async fn run(cmd: PeopleCommand) -> anyhow::Result<ExitCode> {
    let PeopleCommand::Import {
        config,
        file,
        format,
        source,
    } = cmd;
    let config = load_config(config.as_deref())?;
    let bytes =
        std::fs::read(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let name = file.display().to_string();
    let (entries, default_source) = match format {
        DirectoryFormat::Csv => (parse_csv(&name, &bytes)?, "csv"),
        DirectoryFormat::Scim => (parse_scim(&name, &bytes)?, "scim"),
    };
    let source = source.unwrap_or_else(|| default_source.to_owned());
    if entries.is_empty() {
        return Err(DirectoryFileError::Empty {
            file: name,
            directory: source,
        }
        .into());
    }
    let store = open_store(&config).await?;
    let now = Utc::now();
    // The import and its audit event commit together: no event, no import.
    let summary = store
        .import_directory_audited(&source, &entries, now, |summary| NewAuditEvent {
            actor: actor(),
            action: "people.import".into(),
            target: Some(format!("directory:{source}")),
            detail: serde_json::json!({"file": name, "summary": summary}),
        })
        .await?;
    println!(
        "directory `{source}`: {} added, {} updated, {} unchanged, {} departed",
        summary.added, summary.updated, summary.unchanged, summary.departed
    );
    Ok(ExitCode::SUCCESS)
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
}
