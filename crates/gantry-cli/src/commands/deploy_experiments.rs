//! `gantry deploy compare|experiment|experiment-stop` and the canary bounds of `promote`: the
//! parts of `gantry deploy` that watch and split live traffic.

use super::deploy::{actor, with_store};
use super::Context;
use crate::remote::call;
use crate::table;
use anyhow::{bail, Context as _};
use gantry_core::deploy::{self, ArmComparison, Comparison, ExperimentRequest, VariantSpec};
use gantry_store::open_store;
use gantry_types::{
    AdaptivePolicy, Canary, CanaryGuard, Deployment, Experiment, ScoreBound, DEFAULT_GUARD_MIN_REQUESTS,
};
use reqwest::Method;
use serde_json::json;

/// The canary bounds from `--max-error-rate`, `--min-score NAME=VALUE` and `--min-requests`.
pub fn guard(
    max_error_rate: Option<f64>,
    min_score: Option<&str>,
    min_requests: Option<u64>,
) -> anyhow::Result<Option<CanaryGuard>> {
    let min_score = match min_score {
        Some(text) => {
            let (name, value) = text.split_once('=').context("--min-score takes NAME=VALUE, e.g. helpful=0.7")?;
            let min = value.parse().with_context(|| format!("--min-score {text}: '{value}' is not a number"))?;
            Some(ScoreBound { name: name.to_string(), min })
        }
        None => None,
    };
    if max_error_rate.is_none() && min_score.is_none() {
        if min_requests.is_some() {
            bail!("--min-requests goes with --max-error-rate or --min-score");
        }
        return Ok(None);
    }
    Ok(Some(CanaryGuard {
        max_error_rate,
        min_score,
        min_requests: min_requests.unwrap_or(DEFAULT_GUARD_MIN_REQUESTS),
    }))
}

/// ` (stops: errors > 5%, thumbs < 0.7, after 20)`, or nothing without bounds.
pub fn describe_guard(canary: &Canary) -> String {
    let Some(guard) = &canary.guard else { return String::new() };
    let mut bounds = Vec::new();
    if let Some(rate) = guard.max_error_rate {
        bounds.push(format!("errors > {}%", 100.0 * rate));
    }
    if let Some(score) = &guard.min_score {
        bounds.push(format!("{} < {}", score.name, score.min));
    }
    format!(" (stops: {}, after {})", bounds.join(", "), guard.min_requests)
}

/// `a 50% #3, b 50% #4 (adaptive on thumbs)`.
pub fn describe_variants(experiment: &Experiment) -> String {
    let total: f64 = experiment.variants.iter().map(|v| v.weight).sum::<f64>().max(f64::MIN_POSITIVE);
    let parts: Vec<String> = experiment
        .variants
        .iter()
        .map(|v| format!("{} {:.0}% #{}", v.name, 100.0 * v.weight / total, v.release))
        .collect();
    let adaptive = experiment.adaptive.as_ref().map(|a| format!(" (adaptive on {})", a.metric)).unwrap_or_default();
    format!("{}{adaptive}", parts.join(", "))
}

/// `gantry deploy compare`.
pub async fn compare(
    ctx: &Context,
    route: &str,
    environment: &str,
    since: Option<String>,
    url: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let comparison: Comparison = match url {
        Some(url) => {
            let mut query = vec![("environment", environment.to_string())];
            if let Some(since) = since {
                query.push(("since", since));
            }
            serde_json::from_value(
                call(Method::GET, &url, &format!("/api/deployments/{route}/compare"), &query, None).await?,
            )?
        }
        None => {
            let since = since
                .map(|s| chrono::DateTime::parse_from_rfc3339(&s).map(|t| t.to_utc()))
                .transpose()
                .context("--since takes an RFC 3339 time, e.g. 2026-12-04T10:00:00Z")?;
            let config = ctx.load_config(None)?;
            let store = open_store(config.database_url.as_deref(), &config.data_dir).await?;
            deploy::compare(store.as_ref(), route, environment, since).await?
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&comparison)?);
    } else {
        print!("{}", comparison_table(&comparison));
    }
    Ok(())
}

fn interval(e: Option<&deploy::stats::Estimate>, scale: f64, decimals: usize) -> String {
    match e {
        Some(e) => format!("{:.d$} [{:.d$}, {:.d$}]", e.value * scale, e.low * scale, e.high * scale, d = decimals),
        None => "-".to_string(),
    }
}

fn p_value(test: Option<&deploy::stats::TestResult>) -> String {
    match test {
        Some(t) if t.p_value < 0.001 => format!("p<0.001{}", if t.significant { " *" } else { "" }),
        Some(t) => format!("p={:.3}{}", t.p_value, if t.significant { " *" } else { "" }),
        None => String::new(),
    }
}

fn arm_rows(arm: &ArmComparison) -> Vec<Vec<String>> {
    let tests = arm.vs_baseline.as_ref();
    let name = format!("#{} {}", arm.release, arm.variant);
    let mut rows = vec![
        vec![
            name.clone(),
            "error rate %".into(),
            interval(arm.error_rate.as_ref(), 100.0, 2),
            p_value(tests.and_then(|t| t.error_rate.as_ref())),
        ],
        vec![
            String::new(),
            "latency ms".into(),
            interval(arm.latency_ms.as_ref(), 1.0, 1),
            p_value(tests.and_then(|t| t.latency_ms.as_ref())),
        ],
        vec![
            String::new(),
            "cost usd".into(),
            interval(arm.cost_usd.as_ref(), 1.0, 6),
            p_value(tests.and_then(|t| t.cost_usd.as_ref())),
        ],
    ];
    for (score, estimate) in &arm.scores {
        rows.push(vec![
            String::new(),
            format!("score {score}"),
            interval(Some(estimate), 1.0, 3),
            p_value(tests.and_then(|t| t.scores.get(score))),
        ]);
    }
    rows[0][0] = format!("{name} ({} req)", arm.requests);
    rows
}

fn comparison_table(c: &Comparison) -> String {
    let mut out = format!(
        "{} in {} since {} — baseline {}\n",
        c.route,
        c.environment,
        c.since.format("%Y-%m-%d %H:%M:%S UTC"),
        c.baseline.as_deref().unwrap_or("none (no traffic yet)")
    );
    let rows: Vec<Vec<String>> = c.arms.iter().flat_map(arm_rows).collect();
    out.push_str(&table::render(&["ARM", "METRIC", "VALUE [95% CI]", "VS BASELINE"], &rows));
    out.push_str(
        "* significant at 5% (two-proportion z-test for error rates and 0/1 scores, Welch's t-test for other means)\n",
    );
    out
}

/// `gantry deploy experiment`.
pub async fn start(
    ctx: &Context,
    route: String,
    environment: String,
    variants: &[String],
    model: Option<String>,
    adaptive: Option<AdaptivePolicy>,
    url: Option<String>,
) -> anyhow::Result<()> {
    let mut specs = Vec::with_capacity(variants.len());
    for text in variants {
        let mut spec: VariantSpec = text.parse().map_err(|e: String| anyhow::anyhow!("--variant {e}"))?;
        if matches!(spec.target, deploy::VariantTarget::New(_)) {
            spec.model = model.clone();
        }
        specs.push(spec);
    }
    let deployment: Deployment = match url {
        Some(url) => {
            let variants: Vec<_> = specs
                .iter()
                .map(|spec| {
                    json!({"name": spec.name, "weight": spec.weight, "target": spec.target.to_string(), "model": spec.model})
                })
                .collect();
            let body = json!({"environment": environment, "variants": variants, "adaptive": adaptive});
            let answer =
                call(Method::POST, &url, &format!("/api/deployments/{route}/experiment"), &[], Some(&body)).await?;
            serde_json::from_value(answer)?
        }
        None => {
            let config = ctx.load_config(None)?;
            let models: Vec<String> = config.models.iter().map(|m| m.name.clone()).collect();
            let request = ExperimentRequest { route, environment, variants: specs, adaptive, actor: actor() };
            let store = open_store(config.database_url.as_deref(), &config.data_dir).await?;
            deploy::start_experiment(store.as_ref(), request, &models).await?
        }
    };
    let experiment = deployment.experiment.as_ref().context("the server answered without an experiment")?;
    println!(
        "{} in {}: experiment started: {}",
        deployment.route,
        deployment.environment,
        describe_variants(experiment)
    );
    Ok(())
}

/// `gantry deploy experiment-stop`.
pub async fn stop(
    ctx: &Context,
    route: &str,
    environment: &str,
    winner: Option<String>,
    url: Option<String>,
) -> anyhow::Result<()> {
    let deployment: Deployment = match url {
        Some(url) => {
            let body = json!({"environment": environment, "winner": winner});
            serde_json::from_value(
                call(Method::POST, &url, &format!("/api/deployments/{route}/experiment/stop"), &[], Some(&body))
                    .await?,
            )?
        }
        None => {
            with_store(ctx, |store| async move {
                Ok(deploy::stop_experiment(store.as_ref(), route, environment, &actor(), winner.as_deref()).await?)
            })
            .await?
        }
    };
    println!(
        "experiment stopped: {} in {} runs release {}",
        deployment.route, deployment.environment, deployment.current
    );
    Ok(())
}
