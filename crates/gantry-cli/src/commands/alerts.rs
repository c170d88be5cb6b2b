//! `gantry alerts [list|history|test]`: the alert rules from `gantry.toml` with their state and
//! last value, the history of transitions and deliveries, and test notifications; from the
//! local store or a running server (`--url`).

use super::Context;
use crate::remote::call;
use crate::table;
use clap::{Args, Subcommand};
use gantry_core::alerts::{self, AlertStatus, TestDelivery};
use gantry_types::{AlertEvent, DeliveryOutcome};
use reqwest::Method;

/// `gantry alerts` options.
#[derive(Debug, Args)]
pub struct AlertsArgs {
    #[command(subcommand)]
    command: Option<AlertsCommand>,
    /// Read from (or send through) a running server, e.g. http://127.0.0.1:8080.
    #[arg(long, global = true)]
    url: Option<String>,
    /// JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

/// Alert subcommands; without one, `list`.
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// Every rule with its state (inactive, pending, firing) and its value at the last evaluation.
    List,
    /// Transitions and notifications, newest first, with every delivery attempt.
    History {
        /// Entries at most (1-1000).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Only this rule.
        #[arg(long)]
        rule: Option<String>,
    },
    /// Send a test notification of rule NAME to its webhooks now.
    Test { name: String },
}

fn value_text(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.4}").trim_end_matches('0').trim_end_matches('.').to_string())
}

fn rules_table(rules: &[AlertStatus]) -> String {
    let rows: Vec<Vec<String>> = rules
        .iter()
        .map(|r| {
            let mut scope: Vec<String> = r.filter.iter().map(|(k, v)| format!("{k}={v}")).collect();
            scope.sort();
            vec![
                r.name.clone(),
                r.state.as_str().to_string(),
                format!("{} {} {}", r.metric, r.op, r.threshold),
                r.window.clone(),
                format!("{}s", r.for_seconds),
                value_text(r.value),
                r.since.map_or_else(|| "-".to_string(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
                r.severity.clone(),
                if scope.is_empty() { "all".to_string() } else { scope.join(" ") },
                r.webhooks.join(","),
            ]
        })
        .collect();
    table::render(
        &["RULE", "STATE", "CONDITION", "WINDOW", "FOR", "VALUE", "SINCE", "SEVERITY", "SCOPE", "WEBHOOKS"],
        &rows,
    )
}

fn deliveries_text(event: &AlertEvent) -> String {
    if event.deliveries.is_empty() {
        return "-".to_string();
    }
    let parts: Vec<String> = event
        .deliveries
        .iter()
        .map(|d| {
            let answer = d.status.map_or_else(|| d.error.clone().unwrap_or_default(), |s| s.to_string());
            format!("{}#{} {} ({answer})", d.webhook, d.attempt, d.outcome.as_str())
        })
        .collect();
    parts.join(", ")
}

fn history_table(events: &[AlertEvent]) -> String {
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                e.rule.clone(),
                e.kind.as_str().to_string(),
                value_text(e.value),
                format!("{} {} {}", e.metric, e.op, e.threshold),
                deliveries_text(e),
            ]
        })
        .collect();
    table::render(&["AT", "RULE", "EVENT", "VALUE", "CONDITION", "DELIVERIES"], &rows)
}

/// Runs `gantry alerts`.
pub async fn run(ctx: &Context, args: AlertsArgs) -> anyhow::Result<()> {
    let url = args.url.as_deref();
    match args.command.unwrap_or(AlertsCommand::List) {
        AlertsCommand::List => {
            let rules: Vec<AlertStatus> = match url {
                Some(url) => {
                    let mut body = call(Method::GET, url, "/api/alerts", &[], None).await?;
                    serde_json::from_value(body["data"].take())?
                }
                None => {
                    let config = ctx.load_config(None)?;
                    let store = gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?;
                    alerts::statuses(store.as_ref(), &config.alerting).await?
                }
            };
            if args.json {
                println!("{}", serde_json::to_string_pretty(&rules)?);
            } else if rules.is_empty() {
                println!("no alert rules: declare them as [[alerts]] in gantry.toml");
            } else {
                print!("{}", rules_table(&rules));
            }
        }
        AlertsCommand::History { limit, rule } => {
            let events: Vec<AlertEvent> = match url {
                Some(url) => {
                    let mut query = vec![("limit", limit.to_string())];
                    if let Some(rule) = &rule {
                        query.push(("rule", rule.clone()));
                    }
                    let mut body = call(Method::GET, url, "/api/alerts/history", &query, None).await?;
                    serde_json::from_value(body["data"].take())?
                }
                None => {
                    let config = ctx.load_config(None)?;
                    let store = gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?;
                    alerts::history(store.as_ref(), rule.as_deref(), limit).await?
                }
            };
            if args.json {
                println!("{}", serde_json::to_string_pretty(&events)?);
            } else if events.is_empty() {
                println!("no alert history yet");
            } else {
                print!("{}", history_table(&events));
            }
        }
        AlertsCommand::Test { name } => {
            let deliveries: Vec<TestDelivery> = match url {
                Some(url) => {
                    let path = format!("/api/alerts/{name}/test");
                    let mut body = call(Method::POST, url, &path, &[], None).await?;
                    serde_json::from_value(body["deliveries"].take())?
                }
                None => {
                    let config = ctx.load_config(None)?;
                    let store = gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?;
                    alerts::send_test(store.as_ref(), &config.alerting, &name, chrono::Utc::now()).await?
                }
            };
            if args.json {
                println!("{}", serde_json::to_string_pretty(&deliveries)?);
            } else {
                for d in &deliveries {
                    println!("{}: {}", d.webhook, d.outcome.as_str());
                }
            }
            let failed = deliveries.iter().filter(|d| d.outcome != DeliveryOutcome::Delivered).count();
            if failed > 0 {
                anyhow::bail!(
                    "{failed} of {} webhooks did not take the test notification; \
                     `gantry alerts history --rule {name}` shows each attempt",
                    deliveries.len()
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::value_text;

    #[test]
    fn values_drop_trailing_zeros() {
        assert_eq!(value_text(Some(0.25)), "0.25");
        assert_eq!(value_text(Some(12.0)), "12");
        assert_eq!(value_text(None), "-");
    }
}
