//! `gantry chat "question"`: one message through the same core the server uses (or through
//! a running server with `--url`), the answer streamed to stdout.

use super::Context;
use anyhow::bail;
use clap::Args;
use futures::StreamExt;
use gantry_core::config::DEFAULT_CHAT_MODEL;
use gantry_core::{Progress, Service};
use gantry_providers::openai::{OpenAiConfig, OpenAiProvider};
use gantry_providers::Provider;
use gantry_types::{ChatCompletionRequest, ChatMessage, Role, StreamOptions};
use std::io::Write;

/// Arguments of `gantry chat`.
#[derive(Debug, Args)]
pub struct ChatArgs {
    /// The message to send.
    pub message: String,
    /// Model name (see `GET /v1/models`).
    #[arg(long, default_value = DEFAULT_CHAT_MODEL)]
    pub model: String,
    /// A system prompt to put first.
    #[arg(long)]
    pub system: Option<String>,
    #[arg(long)]
    pub max_tokens: Option<u32>,
    #[arg(long)]
    pub temperature: Option<f32>,
    #[arg(long)]
    pub seed: Option<i64>,
    /// Send through a running Gantry server instead, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub url: Option<String>,
}

fn request(args: &ChatArgs) -> ChatCompletionRequest {
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(ChatMessage::text(Role::System, system.clone()));
    }
    messages.push(ChatMessage::text(Role::User, args.message.clone()));
    let mut req = ChatCompletionRequest::new(args.model.clone(), messages);
    req.max_tokens = args.max_tokens;
    req.temperature = args.temperature;
    req.seed = args.seed;
    req.stream = Some(true);
    req.stream_options = Some(StreamOptions { include_usage: Some(true) });
    req
}

fn print_delta(chunk: &gantry_types::ChatCompletionChunk, out: &mut impl Write) -> std::io::Result<()> {
    for choice in &chunk.choices {
        if let Some(text) = &choice.delta.content {
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
    }
    if let Some(usage) = chunk.usage {
        eprintln!("\n[{} prompt + {} completion tokens]", usage.prompt_tokens, usage.completion_tokens);
    }
    Ok(())
}

/// Runs `gantry chat`.
pub async fn run(ctx: &Context, args: ChatArgs) -> anyhow::Result<()> {
    let req = request(&args);
    let mut out = std::io::stdout();
    if let Some(url) = &args.url {
        let base = format!("{}/v1", url.trim_end_matches('/').trim_end_matches("/v1"));
        let provider = OpenAiProvider::new(OpenAiConfig::new(base))?;
        let mut stream = provider.chat_stream(req).await?;
        while let Some(chunk) = stream.next().await {
            print_delta(&chunk?, &mut out)?;
        }
        return Ok(());
    }
    let config = ctx.load_config(None)?;
    let service = Service::start(&config, Progress::Bar).await?;
    let call = service.gateway.chat_stream(req).await;
    let trace_id = call.trace_id;
    let outcome = match call.result {
        Ok(mut stream) => {
            let mut failure = None;
            while let Some(item) = stream.next().await {
                match item {
                    Ok(chunk) => print_delta(&chunk, &mut out)?,
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            failure
        }
        Err(e) => Some(e),
    };
    service.shutdown().await;
    eprintln!("trace: {trace_id}");
    if let Some(e) = outcome {
        bail!("{e} ({})", e.code());
    }
    Ok(())
}
