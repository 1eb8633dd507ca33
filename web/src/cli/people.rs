//! `roster people import FILE`: the people directory from a CSV export or a SCIM 2.0 `Users`
//! (and `Groups`) listing (parsed in `roster_app::people`). One import replaces its source's
//! entries: whoever is missing from it has left, and the identities they own become orphaned.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::Utc;
use roster_app::{AppError, people};

use super::{CliError, CliResult, load_config, open, principal};

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
        /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
        #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
        config: Option<PathBuf>,
        /// The export to read: CSV (header `id,email,name,active,kind`) or a SCIM 2.0 listing.
        file: PathBuf,
        /// The file's format: a CSV export, or a SCIM 2.0 listing.
        #[arg(long, value_enum, default_value = "csv")]
        format: DirectoryFormat,
        /// Name of the source (entries of other sources are untouched). Default: the format.
        #[arg(long)]
        source: Option<String>,
        /// Import even when it marks more than 10 % (and more than 5) of the source's active
        /// people departed; without it such an import is refused and nothing changes.
        #[arg(long)]
        allow_mass_departure: bool,
        /// The share of the source's active people (percent, 1 to 100) an import may mark
        /// departed before it is held back (default 10).
        #[arg(long, default_value_t = people::MASS_DEPARTURE_PERCENT,
              value_parser = clap::value_parser!(u8).range(1..=100))]
        max_departure_percent: u8,
    },
}

pub async fn run(cmd: PeopleCommand) -> CliResult {
    let PeopleCommand::Import {
        config,
        file,
        format,
        source,
        allow_mass_departure,
        max_departure_percent,
    } = cmd;
    let config = load_config(config.as_deref())?;
    let bytes = std::fs::read(&file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    let name = file.display().to_string();
    let format = match format {
        DirectoryFormat::Csv => people::DirectoryFormat::Csv,
        DirectoryFormat::Scim => people::DirectoryFormat::Scim,
    };
    // Parsed (and refused) before anything is opened.
    let entries = people::parse(format, &name, &bytes).map_err(AppError::from)?;
    let source = source.unwrap_or_else(|| format.default_source().to_owned());
    people::refuse_empty(&name, &source, &entries).map_err(AppError::from)?;
    let roster = open(config).await?;
    let summary = roster
        .import_people(
            &principal(),
            &name,
            &source,
            &entries,
            if allow_mass_departure {
                people::DepartureGuard::Allow
            } else {
                people::DepartureGuard::AtMostPercent(max_departure_percent)
            },
            Utc::now(),
        )
        .await?;
    println!(
        "directory `{source}`: {} added, {} updated, {} unchanged, {} departed",
        summary.added, summary.updated, summary.unchanged, summary.departed
    );
    Ok(ExitCode::SUCCESS)
}
