//! `gantry deploy promote|rollback|abort|status|history|compare|experiment|experiment-stop`: releases of application-facing
//! routes. `promote --gate SUITE` runs the eval suite on the candidate (and, when needed, on
//! the current release) with the gateway in-process and exits 2 when the gate refuses, so a
//! CI/CD pipeline stops there. Without a gate every command also works on a running server
//! (`--url`).

use super::deploy_experiments as experiments;
use super::eval::GateFailed;
use super::Context;
use crate::remote::call;
use crate::table;
use anyhow::Context as _;
use clap::Subcommand;
use gantry_core::deploy::{self, DeploymentStatus, PromoteRequest};
use gantry_core::{Progress, Service};
use gantry_evals::gated::{promote_gated, PromoteError};
use gantry_evals::runs::{Evaluation, NoProgress, Suite};
use gantry_types::{AdaptivePolicy, Deployment, DeploymentEvent, ReleaseTarget, DEFAULT_ENVIRONMENT, LOCAL_ACTOR};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::PathBuf;

/// Deployment commands.
#[derive(Debug, Subcommand)]
pub enum DeployCommand {
    /// Make a new release of ROUTE current (or a canary with --canary), or end a canary (--full).
    Promote {
        route: String,
        /// prompt:NAME@VERSION, chain:NAME@VERSION or model:NAME.
        #[arg(long, required_unless_present = "full")]
        target: Option<String>,
        #[arg(long = "env", default_value = DEFAULT_ENVIRONMENT)]
        environment: String,
        /// The model a prompt or chain target is called on (default: its own).
        #[arg(long)]
        model: Option<String>,
        /// An eval suite file: the release is refused (exit 2) when it fails.
        #[arg(long)]
        gate: Option<PathBuf>,
        /// Send this percentage of the traffic to the new release, sticky per user or session.
        #[arg(long, conflicts_with = "full")]
        canary: Option<f64>,
        /// Make the running canary the current release.
        #[arg(long)]
        full: bool,
        /// Stop the canary by itself when its error rate (0-1) goes above this.
        #[arg(long, requires = "canary")]
        max_error_rate: Option<f64>,
        /// Stop the canary by itself when a score's mean falls below VALUE: NAME=VALUE.
        #[arg(long, requires = "canary", value_name = "NAME=VALUE")]
        min_score: Option<String>,
        /// Canary requests (or scores) before a bound is checked.
        #[arg(long, requires = "canary")]
        min_requests: Option<u64>,
        #[arg(long)]
        note: Option<String>,
        #[arg(long, conflicts_with = "gate")]
        url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Return ROUTE to the release before the current one.
    Rollback {
        route: String,
        #[arg(long = "env", default_value = DEFAULT_ENVIRONMENT)]
        environment: String,
        #[arg(long)]
        url: Option<String>,
    },
    /// Stop ROUTE's canary.
    Abort {
        route: String,
        #[arg(long = "env", default_value = DEFAULT_ENVIRONMENT)]
        environment: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        url: Option<String>,
    },
    /// What runs where: every route, or one.
    Status {
        route: Option<String>,
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// ROUTE's arms side by side: error rate, latency, cost and scores with 95% intervals,
    /// each tested against the baseline arm.
    Compare {
        route: String,
        #[arg(long = "env", default_value = DEFAULT_ENVIRONMENT)]
        environment: String,
        /// RFC 3339 start (default: since the canary or experiment began).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Start an A/B experiment on ROUTE: --variant NAME[:WEIGHT]=TARGET, two or more.
    Experiment {
        route: String,
        #[arg(long = "env", default_value = DEFAULT_ENVIRONMENT)]
        environment: String,
        /// NAME[:WEIGHT]=TARGET; TARGET is current, release:N, prompt:NAME@V, chain:NAME@V or model:NAME.
        #[arg(long = "variant", required = true)]
        variants: Vec<String>,
        /// The model new prompt or chain variants run on.
        #[arg(long)]
        model: Option<String>,
        /// Move traffic toward the variant best on this score (Thompson sampling; values 0-1).
        #[arg(long)]
        adaptive: Option<String>,
        /// The share each variant keeps in adaptive mode.
        #[arg(long, requires = "adaptive", default_value_t = 0.05)]
        min_weight: f64,
        /// Scores each variant needs before adaptive weights move.
        #[arg(long, requires = "adaptive", default_value_t = 10)]
        min_samples: u64,
        #[arg(long)]
        url: Option<String>,
    },
    /// End ROUTE's experiment; --winner makes that variant's release current.
    ExperimentStop {
        route: String,
        #[arg(long = "env", default_value = DEFAULT_ENVIRONMENT)]
        environment: String,
        #[arg(long)]
        winner: Option<String>,
        #[arg(long)]
        url: Option<String>,
    },
    /// ROUTE's history, newest first: who promoted what, canaries, rollbacks, refused gates.
    History {
        route: String,
        #[arg(long = "env")]
        environment: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        url: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// Who the CLI records changes for: `GANTRY_AUTHOR`, else the local user.
pub(super) fn actor() -> String {
    std::env::var("GANTRY_AUTHOR").ok().filter(|a| !a.trim().is_empty()).unwrap_or_else(|| LOCAL_ACTOR.to_string())
}

/// Runs a deploy subcommand.
pub async fn run(ctx: &Context, command: DeployCommand) -> anyhow::Result<()> {
    match command {
        DeployCommand::Compare { route, environment, since, url, json } => {
            experiments::compare(ctx, &route, &environment, since, url, json).await
        }
        DeployCommand::Experiment { route, environment, variants, model, adaptive, min_weight, min_samples, url } => {
            let adaptive = adaptive.map(|metric| AdaptivePolicy { metric, min_weight, min_samples });
            experiments::start(ctx, route, environment, &variants, model, adaptive, url).await
        }
        DeployCommand::ExperimentStop { route, environment, winner, url } => {
            experiments::stop(ctx, &route, &environment, winner, url).await
        }
        DeployCommand::Promote {
            route,
            target,
            environment,
            model,
            gate,
            canary,
            full,
            max_error_rate,
            min_score,
            min_requests,
            note,
            url,
            json,
        } => {
            let guard = experiments::guard(max_error_rate, min_score.as_deref(), min_requests)?;
            if full {
                let deployment = match url {
                    Some(url) => remote_change(&url, &route, "promote-full", &environment, None).await?,
                    None => {
                        with_store(ctx, |store| async move {
                            Ok(deploy::promote_full(store.as_ref(), &route, &environment, &actor()).await?)
                        })
                        .await?
                    }
                };
                println!(
                    "{} in {} now runs release {} for all traffic",
                    deployment.route, deployment.environment, deployment.current
                );
                return Ok(());
            }
            let target_text = target.context("--target is required")?;
            let target: ReleaseTarget = target_text.parse()?;
            let result: Value = match (url, gate) {
                (Some(url), _) => {
                    let body = json!({"target": target_text, "environment": environment, "model": model, "canary": canary,
                        "guard": guard, "note": note});
                    call(Method::POST, &url, &format!("/api/deployments/{route}/promote"), &[], Some(&body)).await?
                }
                (None, gate) => {
                    let request = PromoteRequest {
                        route,
                        environment,
                        target,
                        model,
                        actor: actor(),
                        gate: None,
                        canary_percent: canary,
                        guard,
                        note,
                    };
                    promote_local(ctx, request, gate).await?
                }
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&result)?);
            } else {
                print!("{}", describe_promotion(&result));
            }
            Ok(())
        }
        DeployCommand::Rollback { route, environment, url } => {
            let deployment = match url {
                Some(url) => remote_change(&url, &route, "rollback", &environment, None).await?,
                None => {
                    with_store(ctx, |store| async move {
                        Ok(deploy::rollback(store.as_ref(), &route, &environment, &actor()).await?)
                    })
                    .await?
                }
            };
            println!(
                "rolled back: {} in {} now runs release {}",
                deployment.route, deployment.environment, deployment.current
            );
            Ok(())
        }
        DeployCommand::Abort { route, environment, reason, url } => {
            let deployment = match url {
                Some(url) => remote_change(&url, &route, "abort-canary", &environment, reason).await?,
                None => {
                    with_store(ctx, |store| async move {
                        Ok(deploy::abort_canary(store.as_ref(), &route, &environment, &actor(), reason).await?)
                    })
                    .await?
                }
            };
            println!(
                "canary stopped: {} in {} runs release {}",
                deployment.route, deployment.environment, deployment.current
            );
            Ok(())
        }
        DeployCommand::Status { route, url, json } => {
            let list: Vec<DeploymentStatus> = match url {
                Some(url) => {
                    let query: Vec<(&str, String)> = route.into_iter().map(|r| ("route", r)).collect();
                    let mut body = call(Method::GET, &url, "/api/deployments", &query, None).await?;
                    serde_json::from_value(body["data"].take())?
                }
                None => {
                    with_store(ctx, |store| async move { Ok(deploy::status(store.as_ref(), route.as_deref()).await?) })
                        .await?
                }
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print!("{}", status_table(&list));
            }
            Ok(())
        }
        DeployCommand::History { route, environment, limit, url, json } => {
            let events: Vec<DeploymentEvent> = match url {
                Some(url) => {
                    let mut query = vec![("limit", limit.to_string())];
                    if let Some(env) = environment {
                        query.push(("environment", env));
                    }
                    let mut body =
                        call(Method::GET, &url, &format!("/api/deployments/{route}/history"), &query, None).await?;
                    serde_json::from_value(body["data"].take())?
                }
                None => {
                    with_store(ctx, |store| async move {
                        Ok(store.deployment_history(Some(&route), environment.as_deref(), limit).await?)
                    })
                    .await?
                }
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&events)?);
            } else {
                print!("{}", history_table(&events));
            }
            Ok(())
        }
    }
}

pub(super) async fn with_store<T, F, Fut>(ctx: &Context, f: F) -> anyhow::Result<T>
where
    F: FnOnce(std::sync::Arc<dyn gantry_store::Store>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let config = ctx.load_config(None)?;
    let store = gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?;
    f(store).await
}

async fn remote_change(
    url: &str,
    route: &str,
    action: &str,
    environment: &str,
    reason: Option<String>,
) -> anyhow::Result<Deployment> {
    let body = json!({"environment": environment, "reason": reason});
    let answer = call(Method::POST, url, &format!("/api/deployments/{route}/{action}"), &[], Some(&body)).await?;
    Ok(serde_json::from_value(answer)?)
}

/// Promotes with the config's gateway in-process (a gate runs model calls).
async fn promote_local(ctx: &Context, request: PromoteRequest, gate: Option<PathBuf>) -> anyhow::Result<Value> {
    let config = ctx.load_config(None)?;
    let suite = gate.as_deref().map(Suite::read).transpose()?;
    let service = Service::start(&config, if suite.is_some() { Progress::Bar } else { Progress::Quiet }).await?;
    let evaluation = Evaluation::new(service.gateway.clone(), service.chains.clone());
    let models = evaluation.model_names();
    let result = match &suite {
        Some(suite) => match promote_gated(&evaluation, suite, request, &models, &NoProgress).await {
            Ok(gated) => Ok(serde_json::to_value(&gated)?),
            Err(PromoteError::Refused { target, reasons, run }) => {
                eprintln!("gate refused {target} (suite '{}', eval run {}):", suite.name, run.id);
                for reason in reasons.split("; ") {
                    eprintln!("  - {reason}");
                }
                Err(anyhow::Error::from(GateFailed))
            }
            Err(e) => Err(e.into()),
        },
        None => Ok(serde_json::to_value(deploy::promote(service.gateway.store().as_ref(), request, &models).await?)?),
    };
    service.shutdown().await;
    result
}

fn describe_promotion(result: &Value) -> String {
    let release = &result["release"];
    let deployment = &result["deployment"];
    let mut out = format!(
        "{} in {}: release {} ({}{}) by {}\n",
        release["route"].as_str().unwrap_or_default(),
        release["environment"].as_str().unwrap_or_default(),
        release["number"],
        release["target"].as_str().unwrap_or_default(),
        release["model"].as_str().map(|m| format!(" on {m}")).unwrap_or_default(),
        release["promoted_by"].as_str().unwrap_or_default(),
    );
    match deployment["canary"]["percent"].as_f64() {
        Some(percent) => out.push_str(&format!(
            "canary: {percent}% of the traffic; release {} keeps the rest\n",
            deployment["current"]
        )),
        None => out.push_str("now current for all traffic\n"),
    }
    if let Some(gate) = release.get("gate").filter(|g| !g.is_null()) {
        out.push_str(&format!(
            "gate: suite '{}' passed (eval run {}{})\n",
            gate["suite"].as_str().unwrap_or_default(),
            gate["run_id"].as_str().unwrap_or_default(),
            gate["baseline_run_id"].as_str().map(|b| format!(", compared with run {b}")).unwrap_or_default()
        ));
    }
    out
}

fn status_table(list: &[DeploymentStatus]) -> String {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let release = |r: &gantry_types::Release| {
                format!(
                    "#{} {}{}",
                    r.number,
                    r.target,
                    r.model.as_ref().map(|m| format!(" on {m}")).unwrap_or_default()
                )
            };
            let canary = match (&s.deployment.canary, &s.canary_release, &s.deployment.experiment) {
                (Some(c), Some(r), _) => format!("{}% {}{}", c.percent, release(r), experiments::describe_guard(c)),
                (_, _, Some(e)) => experiments::describe_variants(e),
                _ => "-".to_string(),
            };
            let gate = match &s.current_release.gate {
                Some(g) => format!("{} {}", g.suite, if g.report.passed { "passed" } else { "FAILED" }),
                None => "-".to_string(),
            };
            vec![
                s.deployment.route.clone(),
                s.deployment.environment.clone(),
                release(&s.current_release),
                canary,
                gate,
                s.deployment.updated_by.clone(),
                s.deployment.updated_at.format("%Y-%m-%d %H:%M").to_string(),
            ]
        })
        .collect();
    table::render(&["ROUTE", "ENV", "CURRENT", "CANARY / EXPERIMENT", "GATE", "BY", "UPDATED (UTC)"], &rows)
}

fn history_table(events: &[DeploymentEvent]) -> String {
    let number = |n: Option<u32>| n.map_or_else(|| "-".to_string(), |n| format!("#{n}"));
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                e.environment.clone(),
                e.action.as_str().to_string(),
                number(e.from_release),
                number(e.to_release),
                e.actor.clone(),
                e.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table::render(&["TIME (UTC)", "ENV", "ACTION", "FROM", "TO", "BY", "REASON"], &rows)
}
