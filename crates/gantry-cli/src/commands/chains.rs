//! `gantry chains push|list|show|label|run`: chains in the registry, on the local store or on a
//! running server with `--url`. `run` without `--url` starts the embedded models in-process.

use super::prompts::author;
use super::Context;
use crate::remote::call;
use crate::table;
use anyhow::{anyhow, bail, Context as _};
use clap::Subcommand;
use gantry_core::chains::{self, ChainError, ChainPush, ChainVersion};
use gantry_core::{Progress, Service};
use gantry_store::Store;
use gantry_types::{ChainRun, DocumentSummary, StepResult, StepStatus};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// Chain commands.
#[derive(Debug, Subcommand)]
pub enum ChainsCommand {
    /// Push chain files (TOML or YAML); content equal to the newest version creates none.
    Push {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The commit message of the new versions.
        #[arg(long, short)]
        message: Option<String>,
        /// Who pushes (default: $GANTRY_AUTHOR, git user.name, $USER).
        #[arg(long)]
        author: Option<String>,
        /// Talk to a running server, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: Option<String>,
    },
    /// Every chain with its newest version and labels.
    List {
        #[arg(long)]
        url: Option<String>,
    },
    /// One version in full: NAME (the newest), NAME@VERSION or NAME@LABEL.
    Show {
        reference: String,
        #[arg(long)]
        url: Option<String>,
    },
    /// Point LABEL at VERSION of NAME (the move is recorded).
    Label {
        name: String,
        version: u32,
        label: String,
        #[arg(long)]
        author: Option<String>,
        #[arg(long)]
        url: Option<String>,
    },
    /// Run a chain: NAME (the newest version), NAME@VERSION or NAME@LABEL.
    Run {
        reference: String,
        /// The chain's input, a JSON object.
        #[arg(long, default_value = "{}")]
        input: String,
        /// Print the whole run (output and every step) as JSON.
        #[arg(long)]
        json: bool,
        #[arg(long)]
        url: Option<String>,
    },
}

async fn local_store(ctx: &Context) -> anyhow::Result<Arc<dyn Store>> {
    let config = ctx.load_config(None)?;
    Ok(gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?)
}

fn describe_push(pushed: &ChainPush) -> String {
    let v = &pushed.version;
    if pushed.created {
        format!("{}: created version {} ({} steps)", v.name, v.version, v.spec.steps.len())
    } else {
        format!("{}: unchanged, still version {} (no new version created)", v.name, v.version)
    }
}

fn print_version(v: &ChainVersion) -> anyhow::Result<()> {
    println!("{}@{}  by {}  {}", v.name, v.version, v.author, v.created_at.format("%Y-%m-%d %H:%M:%S"));
    if let Some(message) = &v.message {
        println!("message: {message}");
    }
    if let Some(description) = &v.spec.description {
        println!("description: {description}");
    }
    let rows: Vec<Vec<String>> = v
        .spec
        .steps
        .iter()
        .map(|s| {
            vec![s.name.clone(), s.action.type_name().to_string(), serde_json::to_string(&s.action).unwrap_or_default()]
        })
        .collect();
    println!("output: {}\n", v.spec.output);
    print!("{}", table::render(&["STEP", "TYPE", "DEFINITION"], &rows));
    Ok(())
}

fn print_run(run: &ChainRun) {
    match &run.output {
        Value::String(text) => println!("{text}"),
        other => println!("{}", serde_json::to_string_pretty(other).unwrap_or_default()),
    }
    eprintln!();
    print_steps(&run.steps);
    eprintln!("chain {}@{} in {:.0} ms", run.chain, run.version, run.latency_ms);
}

fn print_steps(steps: &[StepResult]) {
    for step in steps {
        let tokens = match (step.prompt_tokens, step.completion_tokens) {
            (Some(p), Some(c)) => format!("  {p}+{c} tokens"),
            _ => String::new(),
        };
        let status = match step.status {
            StepStatus::Ok => "ok".to_string(),
            StepStatus::Error => format!("error: {}", step.error.as_deref().unwrap_or("")),
        };
        eprintln!("  {:<16} {:<10} {:>7.0} ms  {status}{tokens}", step.name, step.step_type, step.latency_ms);
    }
}

/// Runs `gantry chains ...`.
pub async fn run(ctx: &Context, command: ChainsCommand) -> anyhow::Result<()> {
    match command {
        ChainsCommand::Push { files, message, author: who, url } => {
            let who = author(who);
            let store = if url.is_none() { Some(local_store(ctx).await?) } else { None };
            for file in files {
                let spec = chains::read_chain_file(&file)?;
                let pushed: ChainPush = match (&url, &store) {
                    (Some(url), _) => {
                        let mut body = serde_json::to_value(&spec)?;
                        body["author"] = json!(who);
                        if let Some(m) = &message {
                            body["message"] = json!(m);
                        }
                        serde_json::from_value(call(Method::POST, url, "/api/chains", &[], Some(&body)).await?)?
                    }
                    (None, Some(store)) => chains::push(store.as_ref(), spec, message.clone(), &who).await?,
                    (None, None) => bail!("no store"),
                };
                println!("{}", describe_push(&pushed));
            }
        }
        ChainsCommand::List { url } => {
            let list: Vec<DocumentSummary> = match url {
                Some(url) => {
                    serde_json::from_value(call(Method::GET, &url, "/api/chains", &[], None).await?["data"].take())?
                }
                None => chains::list(local_store(ctx).await?.as_ref()).await?,
            };
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|d| {
                    let labels: Vec<String> = d.labels.iter().map(|l| format!("{}={}", l.label, l.version)).collect();
                    vec![d.name.clone(), d.latest_version.to_string(), labels.join(" ")]
                })
                .collect();
            print!("{}", table::render(&["NAME", "LATEST", "LABELS"], &rows));
        }
        ChainsCommand::Show { reference, url } => {
            let version: ChainVersion = match url {
                Some(url) => {
                    let (name, selector) = reference.split_once('@').unwrap_or((&reference, "latest"));
                    let path = format!("/api/chains/{name}/versions/{selector}");
                    serde_json::from_value(call(Method::GET, &url, &path, &[], None).await?)?
                }
                None => chains::resolve(local_store(ctx).await?.as_ref(), &reference).await?,
            };
            print_version(&version)?;
        }
        ChainsCommand::Label { name, version, label, author: who, url } => {
            let who = author(who);
            match url {
                Some(url) => {
                    let body = json!({"version": version, "author": who});
                    call(Method::PUT, &url, &format!("/api/chains/{name}/labels/{label}"), &[], Some(&body)).await?;
                }
                None => {
                    chains::set_label(local_store(ctx).await?.as_ref(), &name, &label, version, &who).await?;
                }
            }
            println!("{name}: label {label} -> {version}");
        }
        ChainsCommand::Run { reference, input, json, url } => {
            let input: Value =
                serde_json::from_str(&input).context("--input must be JSON, e.g. '{\"question\": \"...\"}'")?;
            let run = match url {
                Some(url) => {
                    let (name, selector) = match reference.split_once('@') {
                        Some((n, s)) => (n.to_string(), Some(s.to_string())),
                        None => (reference.clone(), None),
                    };
                    let body = json!({"input": input, "version": selector});
                    let value = call(Method::POST, &url, &format!("/api/chains/{name}/run"), &[], Some(&body)).await?;
                    serde_json::from_value::<ChainRun>(value)?
                }
                None => run_local(ctx, &reference, input).await?,
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&run)?);
            } else {
                print_run(&run);
            }
            eprintln!("trace: {}", run.trace_id);
        }
    }
    Ok(())
}

async fn run_local(ctx: &Context, reference: &str, input: Value) -> anyhow::Result<ChainRun> {
    let config = ctx.load_config(None)?;
    let service = Service::start(&config, Progress::Bar).await?;
    let outcome = service.chains.run(reference, input).await;
    service.shutdown().await;
    let call = outcome?;
    match call.result {
        Ok(run) => Ok(run),
        Err(ChainError::StepFailed { step, step_type, message, steps, .. }) => {
            print_steps(&steps);
            eprintln!("trace: {}", call.trace_id);
            Err(anyhow!("step '{step}' ({step_type}) failed: {message}"))
        }
        Err(e) => {
            eprintln!("trace: {}", call.trace_id);
            Err(e.into())
        }
    }
}
