//! `roster notify test --to ADDR`: sends one message on every configured notification channel,
//! so an operator can check the SMTP relay or webhook before a campaign depends on it.

use std::path::PathBuf;
use std::process::ExitCode;

use roster_notify::Notification;

use super::{CliError, CliResult, load_config};

#[derive(Debug, clap::Subcommand)]
pub enum NotifyCommand {
    /// Send one test message; exit 0 when every configured channel took it, 1 otherwise.
    Test(TestArgs),
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Configuration file (default: ./roster.toml when present, else built-in defaults; or ROSTER_CONFIG).
    #[arg(long, short = 'c', env = "ROSTER_CONFIG")]
    pub config: Option<PathBuf>,
    /// The email address to send to (the webhook posts to its channel).
    #[arg(long)]
    pub to: String,
}

pub async fn run(cmd: NotifyCommand) -> CliResult {
    let NotifyCommand::Test(args) = cmd;
    let config = load_config(args.config.as_deref())?;
    let Some(notifier) = config.notifications.notifier()? else {
        return Err(CliError::Usage(
            "no notification channel is configured: add [notifications.email] or [notifications.webhook]".into(),
        ));
    };
    let public_url = config.server.public_url.trim_end_matches('/');
    let report = notifier
        .send(&Notification {
            to: vec![args.to.clone()],
            subject: "Roster test notification".into(),
            text: "This is a test message from Roster. Reminders and escalations of access \
                   reviews will arrive the same way."
                .into(),
            link: Some(format!("{public_url}/")),
        })
        .await;
    for (channel, result) in [("email", &report.email), ("webhook", &report.webhook)] {
        match result {
            Some(Ok(())) if channel == "email" => println!("email: sent to {}", args.to),
            Some(Ok(())) => println!("{channel}: delivered"),
            Some(Err(e)) => println!("{channel}: FAILED: {e}"),
            None => {}
        }
    }
    Ok(if report.all_delivered() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
