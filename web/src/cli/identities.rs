use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use roster_core::{InventoryItem, Kind, Platform, Status, Tier};

use roster_app::csv_cell::CsvWriter;
use roster_app::inventory_csv::{CSV_HEADER, csv_row, ts};
use roster_app::inventory_view::InventoryQuery;
use roster_app::scope::{Cursor, MAX_SEARCH, Sort};

use super::{CliError, CliResult, load_config, open_existing, principal};

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, clap::Args)]
pub struct IdentitiesArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Only this platform: aws, github, gitlab, gcp, azure, or roster (its own API tokens).
    #[arg(long)]
    pub platform: Option<Platform>,
    /// Only this kind, e.g. access_key, service_account, deploy_key, role.
    #[arg(long)]
    pub kind: Option<Kind>,
    /// Tier as evaluated at --as-of.
    #[arg(long)]
    pub tier: Option<Tier>,
    /// Only what this owner owns (stored, from the policy, or claimed).
    #[arg(long)]
    pub owner: Option<String>,
    /// Only this account, organisation, group, project or tenant.
    #[arg(long)]
    pub scope: Option<String>,
    /// Only records of this connector (its name in the configuration).
    #[arg(long)]
    pub connector: Option<String>,
    /// Only this status: active, disabled or gone.
    #[arg(long)]
    pub status: Option<Status>,
    /// Unused beyond the policy threshold, or never used after the grace period.
    #[arg(long)]
    pub stale: bool,
    /// Without an owner, or whose owner left the people directory.
    #[arg(long)]
    pub orphaned: bool,
    /// Include records whose source no longer lists them.
    #[arg(long)]
    pub include_gone: bool,
    /// Words, each found (in any case) in the name, external id, owner or scope.
    #[arg(long)]
    pub search: Option<String>,
    /// Evaluate the policy at this moment instead of now: a date (2027-01-01), a UTC time
    /// (2027-01-01T09:30:00) or an RFC 3339 time.
    #[arg(long, value_parser = super::parse_moment)]
    pub as_of: Option<DateTime<Utc>>,
    /// Output: a table, a JSON array, or CSV.
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormat,
    /// Order: risk (critical first, each tier in the order found) or id (the order found).
    /// Default: risk for the table, id for JSON and CSV.
    #[arg(long, value_enum)]
    pub sort: Option<ListSort>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ListSort {
    Risk,
    Id,
}

fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        format!("{s:<width$}")
    } else {
        let cut: String = s.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// The table's columns, riskiest facts first: on a narrow terminal the line is cut from the
/// right, so the tier, the name and the owner stay.
const TABLE_HEADER: [(&str, usize); 8] = [
    ("TIER", 8),
    ("ID", 16),
    ("NAME", 36),
    ("OWNER", 22),
    ("KIND", 21),
    ("PLATFORM", 8),
    ("STATUS", 8),
    ("LAST USED", 12),
];

fn table_header() -> String {
    let mut out: Vec<String> = TABLE_HEADER.iter().map(|(h, w)| clip(h, *w)).collect();
    out.push("WHY".into());
    out.join(" ")
}

fn table_row(i: &InventoryItem) -> String {
    let why = i
        .findings
        .iter()
        .filter(|f| f.severity >= roster_core::Severity::Low)
        .map(|f| f.rule.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let last_used = ts(i.last_used_at)
        .get(..10)
        .map(str::to_owned)
        .unwrap_or_else(|| i.usage.to_string());
    let cells = [
        i.tier.as_str().to_owned(),
        i.id.to_string(),
        i.name.clone(),
        i.owner.clone().unwrap_or_else(|| "-".into()),
        i.kind.to_string(),
        i.platform.as_str().to_owned(),
        i.status.as_str().to_owned(),
        last_used,
    ];
    let mut out: Vec<String> = cells
        .iter()
        .zip(TABLE_HEADER)
        .map(|(c, (_, w))| clip(c, w))
        .collect();
    out.push(why);
    out.join(" ")
}

/// `line` cut to `width` characters (with `…`), when the width is known.
fn fit(line: String, width: Option<usize>) -> String {
    match width {
        Some(w) if line.chars().count() > w => {
            let cut: String = line.chars().take(w.saturating_sub(1)).collect();
            format!("{cut}…")
        }
        _ => line.trim_end().to_owned(),
    }
}

/// The terminal's width when the table goes to one (or `COLUMNS` says it); `None` into a
/// pipe or a file, which get whole lines.
fn terminal_width() -> Option<usize> {
    let term = console::Term::stdout();
    if term.is_term()
        && let Some((_, cols)) = term.size_checked()
    {
        return Some(usize::from(cols).max(40));
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .map(|c| c.max(40))
}

pub async fn run(args: IdentitiesArgs) -> CliResult {
    if args
        .search
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_SEARCH)
    {
        return Err(CliError::Usage(format!(
            "--search is at most {MAX_SEARCH} characters"
        )));
    }
    let roster = open_existing(load_config(args.config.as_deref())?).await?;
    let now = Utc::now();
    let mut q = InventoryQuery::new(args.as_of.unwrap_or(now));
    q.trust_stored = roster.stored_evaluations_hold(q.as_of, now).await?;
    q.filter.platform = args.platform;
    q.filter.kind = args.kind;
    q.filter.owner = args.owner;
    q.filter.scope = args.scope;
    q.filter.connector = args.connector;
    q.filter.status = args.status;
    q.filter.include_gone = args.include_gone;
    q.filter.search = args.search;
    q.tier = args.tier;
    q.stale = args.stale;
    q.orphaned = args.orphaned;

    let p = principal();
    let stdout = std::io::stdout();
    let mut sink = Sink::open(args.format, BufWriter::new(stdout.lock()))?;
    let sort = match (args.sort, args.format) {
        (Some(ListSort::Risk), _) | (None, ListFormat::Table) => Sort::Risk,
        _ => Sort::Id,
    };
    let mut after: Option<Cursor> = None;
    loop {
        let (items, next) = roster.query_page(&p, &q, sort, after, 2000).await?;
        for item in &items {
            sink.write(item)?;
        }
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    sink.close()?;
    Ok(ExitCode::SUCCESS)
}

/// Streams items out as they come: a million rows never pile up in memory.
enum Sink<W: Write> {
    Json {
        out: W,
        first: bool,
    },
    Csv(Box<CsvWriter<W>>),
    Table {
        out: W,
        total: u64,
        width: Option<usize>,
    },
}

impl<W: Write> Sink<W> {
    fn open(format: ListFormat, mut out: W) -> Result<Self, CliError> {
        Ok(match format {
            ListFormat::Json => {
                out.write_all(b"[")?;
                Sink::Json { out, first: true }
            }
            ListFormat::Csv => {
                let mut w = CsvWriter::new(out);
                w.write_row(CSV_HEADER)?;
                Sink::Csv(Box::new(w))
            }
            ListFormat::Table => {
                let width = terminal_width();
                writeln!(out, "{}", fit(table_header(), width))?;
                Sink::Table {
                    out,
                    total: 0,
                    width,
                }
            }
        })
    }

    fn write(&mut self, item: &InventoryItem) -> Result<(), CliError> {
        match self {
            Sink::Json { out, first } => {
                out.write_all(if *first { b"\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *out, item)?;
                *first = false;
            }
            Sink::Csv(w) => w.write_row(csv_row(item))?,
            Sink::Table { out, total, width } => {
                writeln!(out, "{}", fit(table_row(item), *width))?;
                *total += 1;
            }
        }
        Ok(())
    }

    fn close(self) -> Result<(), CliError> {
        match self {
            Sink::Json { mut out, first } => {
                out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
                out.flush()?;
            }
            Sink::Csv(mut w) => w.flush()?,
            Sink::Table { mut out, total, .. } => {
                writeln!(out, "{total} record(s)")?;
                out.flush()?;
            }
        }
        Ok(())
    }
}
