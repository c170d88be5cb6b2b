//! `gantry models pull`.

use super::Context;
use clap::Subcommand;
use gantry_core::Progress;

/// Model management.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Fetch the embedded chat and embedding models into the data directory.
    Pull,
}

/// Runs a models subcommand.
pub async fn run(ctx: &Context, command: ModelsCommand) -> anyhow::Result<()> {
    match command {
        ModelsCommand::Pull => {
            let config = ctx.load_config(None)?;
            let local = &config.local;
            let chat =
                gantry_local::resolve_chat_model(local.chat_model.as_deref(), &config.data_dir, Progress::Bar).await?;
            println!("chat model:      {}", chat.display());
            let embed = gantry_local::resolve_embedding_model(
                local.embedding_model.as_deref(),
                &config.data_dir,
                Progress::Bar,
            )
            .await?;
            println!("embedding model: {}", embed.display());
            Ok(())
        }
    }
}
