//! `gantry serve`.

use super::Context;
use anyhow::Context as _;
use gantry_core::{start_mode, Progress, Service, StartMode};

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing open requests and writing queued traces");
}

/// How often the online evaluators look for new traces.
const ONLINE_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// Starts the gateway and serves until SIGINT/SIGTERM, then drains the trace queue. Without
/// any API key, only a loopback address is served, unless `insecure`.
pub async fn run(ctx: &Context, listen: Option<String>, insecure: bool) -> anyhow::Result<()> {
    let config = ctx.load_config(listen)?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    // Decided before the models load, so a refused start is quick.
    let keys =
        gantry_store::open_store(config.database_url.as_deref(), &config.data_dir).await?.count_active_keys().await?;
    let mode = start_mode(addr.ip(), keys, insecure)?;
    let online = gantry_evals::online::parse_configs(&config.online_evaluators)
        .context("invalid [[online_evaluators]] in the config")?;
    let service = Service::start(&config, Progress::Bar).await?.start_monitors(&config).await?;
    let online_worker = if online.is_empty() {
        None
    } else {
        let count = online.len();
        let evaluation =
            gantry_evals::online::OnlineEvaluation::new(service.gateway.clone(), online, chrono::Utc::now()).await?;
        tracing::info!(evaluators = count, "online evaluators score a sample of live traces");
        Some(evaluation.spawn(ONLINE_POLL))
    };
    match mode {
        StartMode::Keys => {
            tracing::info!(keys, "API keys required on every route but /healthz, /readyz and /api/openapi.json")
        }
        StartMode::LoopbackWithoutKeys => tracing::warn!(
            "no API key exists: loopback clients are served without authentication until one is created \
             (`gantry keys create --name admin --role admin`)"
        ),
        StartMode::InsecureWithoutKeys => {
            service.access.set_insecure(true);
            tracing::warn!(%addr, "--insecure: every client is served without authentication until an API key is created");
        }
    }
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "gantry is serving; OpenAI base URL: http://{addr}/v1");
    tracing::info!("OTLP trace ingest: POST http://{addr}/v1/traces (protobuf or JSON)");
    if let Some(otlp) = &config.telemetry.otlp {
        tracing::info!(collector = collector_host(&otlp.endpoint), service_name = %otlp.service_name, "exporting traces over OTLP");
    }
    gantry_server::serve(listener, gantry_server::AppState::from_service(&service), shutdown_signal()).await?;
    if let Some(worker) = online_worker {
        worker.abort();
    }
    let gateway = service.gateway.clone();
    let telemetry = service.telemetry.clone();
    service.shutdown().await;
    let stats = gateway.traces().stats();
    tracing::info!(written = stats.written, dropped = stats.dropped, "stopped");
    if let Some(otlp) = telemetry.export_stats() {
        tracing::info!(exported = otlp.exported, dropped = otlp.dropped, failed = otlp.failed, "OTLP exporter stopped");
    }
    Ok(())
}

/// The host and port of a collector URL, without any credentials it carries.
fn collector_host(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.rsplit('@').next().unwrap_or(authority)
}
