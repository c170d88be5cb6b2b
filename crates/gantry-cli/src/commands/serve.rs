//! `gantry serve`.

use super::Context;
use anyhow::Context as _;
use gantry_core::{Progress, Service};

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

/// Starts the gateway and serves until SIGINT/SIGTERM, then drains the trace queue.
pub async fn run(ctx: &Context, listen: Option<String>) -> anyhow::Result<()> {
    let config = ctx.load_config(listen)?;
    let service = Service::start(&config, Progress::Bar).await?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data_dir = %config.data_dir.display(), "gantry is serving; OpenAI base URL: http://{addr}/v1");
    gantry_server::serve(listener, gantry_server::AppState::from_service(&service), shutdown_signal()).await?;
    let gateway = service.gateway.clone();
    service.shutdown().await;
    let stats = gateway.traces().stats();
    tracing::info!(written = stats.written, dropped = stats.dropped, "stopped");
    Ok(())
}
