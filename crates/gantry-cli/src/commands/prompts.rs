//! `gantry prompts push|list|show|diff|label|render`: the prompt registry, on the local store
//! (no models are loaded) or on a running server with `--url`.

use super::Context;
use crate::table;
use anyhow::{anyhow, bail};
use clap::Subcommand;
use gantry_core::prompts::{
    self, canonical_text, LabelChange, LabelView, PromptDetails, PromptDiff, PromptVersion, PushOutcome, RenderedPrompt,
};
use gantry_core::registry::{parse_selector, validate_name, Reference, Selector, DEFAULT_LABEL};
use gantry_store::Store;
use gantry_types::{DocumentSummary, RegistryKind};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

/// Prompt registry commands.
#[derive(Debug, Subcommand)]
pub enum PromptsCommand {
    /// Push prompt files (TOML or YAML); content equal to the newest version creates none.
    Push {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The commit message of the new versions.
        #[arg(long, short)]
        message: Option<String>,
        /// Who pushes (default: $GANTRY_AUTHOR, git user.name, $USER).
        #[arg(long)]
        author: Option<String>,
        /// Also point this label (e.g. production) at the pushed versions.
        #[arg(long)]
        label: Option<String>,
        /// Talk to a running server, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: Option<String>,
    },
    /// Every prompt with its newest version and labels.
    List {
        #[arg(long)]
        url: Option<String>,
    },
    /// A prompt's history (NAME) or one version in full (NAME@VERSION, NAME@LABEL).
    Show {
        reference: String,
        #[arg(long)]
        url: Option<String>,
    },
    /// What changed between two versions or labels of a prompt.
    Diff {
        name: String,
        from: String,
        to: String,
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
    /// Render a prompt's messages without calling a model (NAME means NAME@production).
    Render {
        reference: String,
        /// A variable, NAME=VALUE; repeat for more. Non-string variables take JSON values.
        #[arg(long = "var", value_name = "NAME=VALUE")]
        vars: Vec<String>,
        #[arg(long)]
        url: Option<String>,
    },
}

/// The local store, or a server's management API.
enum Registry {
    Local(Arc<dyn Store>),
    Remote { base: String },
}

impl Registry {
    async fn open(ctx: &Context, url: Option<String>) -> anyhow::Result<Self> {
        match url {
            Some(url) => Ok(Registry::Remote { base: url.trim_end_matches('/').to_string() }),
            None => {
                let config = ctx.load_config(None)?;
                Ok(Registry::Local(gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?))
            }
        }
    }

    /// Sends a request to the server; a non-2xx answer becomes an error with its message.
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let Registry::Remote { base } = self else { bail!("not connected to a server") };
        crate::remote::call(method, base, path, &[], body).await
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn resolve(&self, name: &str, selector: &Selector) -> anyhow::Result<PromptVersion> {
        match self {
            Registry::Local(store) => {
                let reference = Reference { name: name.to_string(), selector: selector.clone() };
                Ok(prompts::resolve_reference(store.as_ref(), &reference).await?)
            }
            Registry::Remote { .. } => Ok(match selector {
                Selector::Version(v) => {
                    serde_json::from_value(self.get(&format!("/api/prompts/{name}/versions/{v}")).await?)?
                }
                Selector::Label(l) => {
                    serde_json::from_value::<LabelView>(self.get(&format!("/api/prompts/{name}/labels/{l}")).await?)?
                        .prompt
                }
            }),
        }
    }

    async fn set_label(&self, name: &str, label: &str, version: u32, author: &str) -> anyhow::Result<LabelChange> {
        match self {
            Registry::Local(store) => Ok(prompts::set_label(store.as_ref(), name, label, version, author).await?),
            Registry::Remote { .. } => {
                let body = json!({"version": version, "author": author});
                let path = format!("/api/prompts/{name}/labels/{label}");
                Ok(serde_json::from_value(self.send(reqwest::Method::PUT, &path, Some(&body)).await?)?)
            }
        }
    }
}

/// The author recorded for pushes and label moves: the flag, else `GANTRY_AUTHOR`, else git's
/// `user.name`, else `$USER`.
pub(crate) fn author(flag: Option<String>) -> String {
    let non_empty = |s: String| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    flag.and_then(non_empty)
        .or_else(|| std::env::var("GANTRY_AUTHOR").ok().and_then(non_empty))
        .or_else(|| {
            let out = std::process::Command::new("git").args(["config", "user.name"]).output().ok()?;
            out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned()).and_then(non_empty)
        })
        .or_else(|| std::env::var("USER").ok().and_then(non_empty))
        .unwrap_or_else(|| "unknown".to_string())
}

/// `NAME` or `NAME@VERSION|LABEL`, the suffix kept apart.
fn split_reference(text: &str) -> anyhow::Result<(String, Option<Selector>)> {
    if text.contains('@') {
        let reference = Reference::parse(RegistryKind::Prompt, text, DEFAULT_LABEL)?;
        Ok((reference.name, Some(reference.selector)))
    } else {
        validate_name(RegistryKind::Prompt, text)?;
        Ok((text.to_string(), None))
    }
}

fn time(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn print_version(v: &PromptVersion, labels: &[String]) {
    let labels = if labels.is_empty() { String::new() } else { format!("  [{}]", labels.join(", ")) };
    println!("{}@{}{labels}", v.name, v.version);
    println!("author:  {}", v.author);
    println!("created: {} UTC", time(&v.created_at));
    println!("message: {}", v.message.as_deref().unwrap_or("-"));
    println!("hash:    {}", v.content_hash);
    print!("{}", canonical_text(&v.spec));
}

fn print_details(d: &PromptDetails) {
    println!("prompt:  {}", d.name);
    let labels: Vec<String> = d.labels.iter().map(|l| format!("{} -> {}", l.label, l.version)).collect();
    println!("labels:  {}", labels.join(", "));
    println!("versions:");
    let rows: Vec<Vec<String>> = d
        .versions
        .iter()
        .map(|v| {
            vec![
                v.version.to_string(),
                time(&v.created_at),
                v.author.clone(),
                v.labels.join(","),
                v.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!("{}", indent(&table::render(&["VERSION", "CREATED (UTC)", "AUTHOR", "LABELS", "MESSAGE"], &rows)));
    println!("label history:");
    let rows: Vec<Vec<String>> = d
        .label_history
        .iter()
        .map(|m| {
            let from = m.from_version.map_or("-".to_string(), |v| v.to_string());
            vec![time(&m.moved_at), m.label.clone(), format!("{from} -> {}", m.to_version), m.moved_by.clone()]
        })
        .collect();
    print!("{}", indent(&table::render(&["WHEN (UTC)", "LABEL", "MOVE", "BY"], &rows)));
    println!("newest version ({}):", d.latest.version);
    print!("{}", indent(&canonical_text(&d.latest.spec)));
}

fn describe_label(change: &LabelChange) -> String {
    match (change.moved, change.previous_version) {
        (false, _) => format!("{}: label {} already points at version {}", change.name, change.label, change.version),
        (true, Some(from)) => format!("{}: label {} moved {from} -> {}", change.name, change.label, change.version),
        (true, None) => format!("{}: label {} -> {} (new)", change.name, change.label, change.version),
    }
}

async fn push(
    registry: &Registry,
    files: Vec<PathBuf>,
    message: Option<String>,
    author: &str,
    label: Option<String>,
) -> anyhow::Result<()> {
    if let Some(label) = &label {
        gantry_core::registry::validate_label(label)?;
    }
    // Every file is parsed and checked before anything is stored, so a bad file in a batch
    // pushes nothing.
    let mut drafts = Vec::new();
    for file in &files {
        let draft = prompts::read_prompt_file(file)?;
        draft.clone().into_spec().map_err(|e| anyhow!("{}: {e}", file.display()))?;
        drafts.push(draft);
    }
    for draft in drafts {
        let outcome: PushOutcome = match registry {
            Registry::Local(store) => prompts::push(store.as_ref(), draft, message.clone(), author).await?,
            Registry::Remote { .. } => {
                let mut body = serde_json::to_value(&draft)?;
                body["message"] = json!(message);
                body["author"] = json!(author);
                serde_json::from_value(registry.send(reqwest::Method::POST, "/api/prompts", Some(&body)).await?)?
            }
        };
        let v = &outcome.version;
        if outcome.created {
            println!("{}: created version {}", v.name, v.version);
        } else {
            println!("{}: unchanged, still version {} (no new version created)", v.name, v.version);
        }
        if let Some(label) = &label {
            println!("{}", describe_label(&registry.set_label(&v.name, label, v.version, author).await?));
        }
    }
    Ok(())
}

async fn list(registry: &Registry) -> anyhow::Result<()> {
    let summaries: Vec<DocumentSummary> = match registry {
        Registry::Local(store) => prompts::list(store.as_ref()).await?,
        Registry::Remote { .. } => serde_json::from_value(registry.get("/api/prompts").await?["data"].take())?,
    };
    let rows: Vec<Vec<String>> = summaries
        .iter()
        .map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|l| format!("{}={}", l.label, l.version)).collect();
            vec![s.name.clone(), s.latest_version.to_string(), labels.join(" "), time(&s.updated_at)]
        })
        .collect();
    print!("{}", table::render(&["NAME", "LATEST", "LABELS", "UPDATED (UTC)"], &rows));
    Ok(())
}

async fn show(registry: &Registry, reference: &str) -> anyhow::Result<()> {
    let (name, selector) = split_reference(reference)?;
    match selector {
        None => {
            let details: PromptDetails = match registry {
                Registry::Local(store) => prompts::details(store.as_ref(), &name).await?,
                Registry::Remote { .. } => {
                    serde_json::from_value(registry.get(&format!("/api/prompts/{name}")).await?)?
                }
            };
            print_details(&details);
        }
        Some(selector) => {
            let version = registry.resolve(&name, &selector).await?;
            let labels: Vec<String> = match registry {
                Registry::Local(store) => store.list_labels(RegistryKind::Prompt, &name).await?,
                Registry::Remote { .. } => {
                    serde_json::from_value::<PromptDetails>(registry.get(&format!("/api/prompts/{name}")).await?)?
                        .labels
                }
            }
            .into_iter()
            .filter(|l| l.version == version.version)
            .map(|l| l.label)
            .collect();
            print_version(&version, &labels);
        }
    }
    Ok(())
}

async fn diff(registry: &Registry, name: &str, from: &str, to: &str) -> anyhow::Result<()> {
    validate_name(RegistryKind::Prompt, name)?;
    parse_selector(from)?;
    parse_selector(to)?;
    let diff: PromptDiff = match registry {
        Registry::Local(store) => prompts::diff(store.as_ref(), name, from, to).await?,
        Registry::Remote { .. } => {
            serde_json::from_value(registry.get(&format!("/api/prompts/{name}/diff?from={from}&to={to}")).await?)?
        }
    };
    println!("{}: version {} -> {}", diff.name, diff.from_version, diff.to_version);
    if diff.changed.is_empty() {
        println!("no differences");
    } else {
        println!("changed: {}", diff.changed.join(", "));
        print!("{}", diff.diff);
    }
    Ok(())
}

async fn render(registry: &Registry, reference: &str, vars: &[String]) -> anyhow::Result<()> {
    let (name, selector) = split_reference(reference)?;
    let selector = selector.unwrap_or_else(|| Selector::Label(DEFAULT_LABEL.to_string()));
    let version = registry.resolve(&name, &selector).await?;
    let variables = prompts::variables_from_pairs(&version.spec, vars)?;
    let rendered: RenderedPrompt = match registry {
        Registry::Local(store) => prompts::render_preview(store.as_ref(), &name, Some(selector), &variables).await?,
        Registry::Remote { .. } => {
            let mut body = json!({"variables": variables});
            match &selector {
                Selector::Version(v) => body["version"] = json!(v),
                Selector::Label(l) => body["label"] = json!(l),
            }
            let path = format!("/api/prompts/{name}/render");
            serde_json::from_value(registry.send(reqwest::Method::POST, &path, Some(&body)).await?)?
        }
    };
    let label = rendered.label.as_ref().map(|l| format!(" ({l})")).unwrap_or_default();
    let model = rendered.model.as_deref().unwrap_or("the client's choice");
    println!("{}@{}{label}, model: {model}", rendered.name, rendered.version);
    for message in &rendered.messages {
        println!("[{}]", message.role.as_str());
        println!("{}", message.text_content());
    }
    Ok(())
}

/// Runs a prompts subcommand.
pub async fn run(ctx: &Context, command: PromptsCommand) -> anyhow::Result<()> {
    match command {
        PromptsCommand::Push { files, message, author: who, label, url } => {
            let registry = Registry::open(ctx, url).await?;
            push(&registry, files, message, &author(who), label).await
        }
        PromptsCommand::List { url } => list(&Registry::open(ctx, url).await?).await,
        PromptsCommand::Show { reference, url } => show(&Registry::open(ctx, url).await?, &reference).await,
        PromptsCommand::Diff { name, from, to, url } => diff(&Registry::open(ctx, url).await?, &name, &from, &to).await,
        PromptsCommand::Label { name, version, label, author: who, url } => {
            validate_name(RegistryKind::Prompt, &name)?;
            let registry = Registry::open(ctx, url).await?;
            println!("{}", describe_label(&registry.set_label(&name, &label, version, &author(who)).await?));
            Ok(())
        }
        PromptsCommand::Render { reference, vars, url } => {
            render(&Registry::open(ctx, url).await?, &reference, &vars).await
        }
    }
}
