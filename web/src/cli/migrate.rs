use std::process::ExitCode;

use super::{ConfigArg, load_config, open_store};

pub async fn run(args: ConfigArg) -> anyhow::Result<ExitCode> {
    let config = load_config(args.config.as_deref())?;
    open_store(&config).await?;
    println!(
        "migrations applied to {}",
        roster_store::redact_url(&config.database.url)
    );
    Ok(ExitCode::SUCCESS)
}
