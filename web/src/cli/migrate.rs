use std::process::ExitCode;

use roster_app::Roster;

use super::{CliResult, ConfigArg, load_config};

pub async fn run(args: ConfigArg) -> CliResult {
    let config = load_config(args.config.as_deref())?;
    let url = Roster::migrate(&config).await?;
    println!("migrations applied to {url}");
    Ok(ExitCode::SUCCESS)
}
