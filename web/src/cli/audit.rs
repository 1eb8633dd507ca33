use std::process::ExitCode;

use super::{ConfigArg, load_config, open_store};

#[derive(Debug, clap::Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain; name the first broken event. Exit 0 intact, 1 broken.
    Verify(ConfigArg),
}

pub async fn run(cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Verify(args) => {
            let config = load_config(args.config.as_deref())?;
            let store = open_store(&config).await?;
            let (intact, broken) = store.verify_audit().await?;
            match broken {
                None => {
                    println!("audit trail intact: {intact} event(s)");
                    Ok(ExitCode::SUCCESS)
                }
                Some(b) => {
                    println!(
                        "audit trail BROKEN at event {}: {} ({intact} event(s) before it verify)",
                        b.id, b.reason
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
