//! `gantry keys create|list|revoke` and `gantry audit`: API keys and the audit log in the
//! local store. The secret of a new key is printed once; the store keeps only its hash.

use super::Context;
use crate::table;
use anyhow::anyhow;
use chrono::Utc;
use clap::{Subcommand, ValueEnum};
use gantry_core::access::{audit_entry, create_key, list_audit, list_keys, record_audit, revoke_key};
use gantry_store::Store;
use gantry_types::{ApiKey, AuditEntry, AuditFilter, Budget, BudgetPeriod, KeyRole, NewApiKey, LOCAL_ACTOR};
use std::sync::Arc;

/// Key commands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print its secret (shown this once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Models the key may call on /v1, e.g. gpt-4o,mini (default: all).
        #[arg(long, value_delimiter = ',')]
        models: Vec<String>,
        /// Requests per minute.
        #[arg(long)]
        rpm: Option<u32>,
        /// Tokens per minute (prompt + completion).
        #[arg(long)]
        tpm: Option<u32>,
        /// Spending limit in USD per --budget-period, from the cost of the key's traces.
        #[arg(long, requires = "budget_period")]
        budget_usd: Option<f64>,
        #[arg(long, value_enum, requires = "budget_usd")]
        budget_period: Option<PeriodArg>,
        /// The environment the key's calls to deployed routes run in (e.g. staging); it may
        /// not ask for another one.
        #[arg(long)]
        environment: Option<String>,
    },
    /// List keys (never their secrets).
    List {
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: requests with it are refused from then on.
    Revoke { id: String },
}

/// A role, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Developer,
    Reviewer,
    App,
    Viewer,
}

impl From<RoleArg> for KeyRole {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Admin => KeyRole::Admin,
            RoleArg::Developer => KeyRole::Developer,
            RoleArg::Reviewer => KeyRole::Reviewer,
            RoleArg::App => KeyRole::App,
            RoleArg::Viewer => KeyRole::Viewer,
        }
    }
}

/// A budget period, as typed on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PeriodArg {
    Day,
    Month,
}

async fn open(ctx: &Context) -> anyhow::Result<Arc<dyn Store>> {
    let config = ctx.load_config(None)?;
    Ok(gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?)
}

/// Records a change made from the command line (actor `local`).
async fn audit(store: &dyn Store, command: &str, ids: Vec<String>) -> anyhow::Result<()> {
    let entry = audit_entry(LOCAL_ACTOR.to_string(), "CLI", command, 0, ids, Utc::now());
    Ok(record_audit(store, &entry).await?)
}

fn dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "-".to_string())
}

fn key_row(k: &ApiKey) -> Vec<String> {
    vec![
        k.id.clone(),
        k.name.clone(),
        k.role.to_string(),
        format!("{}...", k.prefix),
        if k.models.is_empty() { "*".to_string() } else { k.models.join(",") },
        dash(k.rpm.map(|n| n.to_string())),
        dash(k.tpm.map(|n| n.to_string())),
        dash(k.budget.map(|b| format!("${}/{}", b.usd, b.period.as_str()))),
        dash(k.environment.clone()),
        k.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        dash(k.revoked_at.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())),
    ]
}

fn audit_row(e: &AuditEntry) -> Vec<String> {
    let status = if e.status == 0 { "-".to_string() } else { e.status.to_string() };
    vec![
        e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
        e.actor.clone(),
        e.method.clone(),
        e.path.clone(),
        status,
        if e.resource_ids.is_empty() { "-".to_string() } else { e.resource_ids.join(" ") },
    ]
}

/// Runs a keys subcommand.
pub async fn run(ctx: &Context, command: KeysCommand) -> anyhow::Result<()> {
    let store = open(ctx).await?;
    match command {
        KeysCommand::Create { name, role, models, rpm, tpm, budget_usd, budget_period, environment } => {
            let budget = match (budget_usd, budget_period) {
                (Some(usd), Some(period)) => {
                    let period = match period {
                        PeriodArg::Day => BudgetPeriod::Day,
                        PeriodArg::Month => BudgetPeriod::Month,
                    };
                    Some(Budget { usd, period })
                }
                _ => None,
            };
            let new = NewApiKey { name, role: Some(role.into()), models, rpm, tpm, budget, environment };
            let created = create_key(store.as_ref(), new, Utc::now()).await?;
            audit(store.as_ref(), "gantry keys create", vec![format!("id={}", created.key.id)]).await?;
            let key = &created.key;
            eprintln!("key {} '{}' ({}) created; its secret is shown only this once:", key.id, key.name, key.role);
            println!("{}", created.secret);
            Ok(())
        }
        KeysCommand::List { json } => {
            let keys = list_keys(store.as_ref()).await?;
            if json {
                for key in &keys {
                    println!("{}", serde_json::to_string(key)?);
                }
            } else {
                let rows: Vec<Vec<String>> = keys.iter().map(key_row).collect();
                let header = [
                    "ID",
                    "NAME",
                    "ROLE",
                    "PREFIX",
                    "MODELS",
                    "RPM",
                    "TPM",
                    "BUDGET",
                    "ENVIRONMENT",
                    "CREATED (UTC)",
                    "REVOKED (UTC)",
                ];
                print!("{}", table::render(&header, &rows));
            }
            Ok(())
        }
        KeysCommand::Revoke { id } => {
            let key = revoke_key(store.as_ref(), &id, Utc::now()).await.map_err(|e| anyhow!("{e}"))?;
            audit(store.as_ref(), "gantry keys revoke", vec![format!("id={}", key.id)]).await?;
            println!("key {} '{}' revoked", key.id, key.name);
            Ok(())
        }
    }
}

/// `gantry audit`: the newest entries of the audit log.
pub async fn run_audit(ctx: &Context, limit: u32, json: bool) -> anyhow::Result<()> {
    let store = open(ctx).await?;
    let entries = list_audit(store.as_ref(), &AuditFilter { limit: Some(limit), ..AuditFilter::default() }).await?;
    if json {
        for entry in &entries {
            println!("{}", serde_json::to_string(entry)?);
        }
    } else {
        let rows: Vec<Vec<String>> = entries.iter().map(audit_row).collect();
        print!("{}", table::render(&["TIME (UTC)", "ACTOR", "METHOD", "PATH", "STATUS", "IDS"], &rows));
    }
    Ok(())
}
