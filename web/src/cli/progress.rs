//! The sync progress bar on a terminal (indicatif); nothing when stderr is not a TTY.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use roster_connector_sdk::Listing;
use roster_sync::{ListingReport, Progress};

pub struct TerminalProgress {
    bar: Option<ProgressBar>,
}

impl TerminalProgress {
    pub fn new(enabled: bool) -> Self {
        let bar = (enabled && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} {elapsed_precise} {human_pos} records ({per_sec}) {wide_msg}",
            ) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
            bar
        });
        Self { bar }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for TerminalProgress {
    fn listing_started(&self, connector: &str, listing: &Listing) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{connector}: {listing}"));
        }
    }

    fn records_seen(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    fn listing_finished(&self, connector: &str, report: &ListingReport) {
        if let (Some(bar), Some(err)) = (&self.bar, &report.error) {
            bar.println(format!(
                "  not seen: {connector}: {} in {}: {err}",
                report.resource_type, report.scope
            ));
        }
    }
}
