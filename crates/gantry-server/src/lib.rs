//! Gantry's HTTP server: the OpenAI-compatible `/v1`, the management `/api`, health checks.
//! Handlers are thin: extract, call one core function, map the result.

mod access;
mod error;
mod extract;
mod router;
mod routes;
mod sse;
pub mod ui;

pub use access::{AuditIds, Roles, RouteAccess};
pub use error::ApiError;
pub use router::{route_access, router};

use gantry_core::alerts::AlertingSettings;
use gantry_core::analytics::Objective;
use gantry_core::otel::Telemetry;
use gantry_core::{AccessControl, Chains, Collections, Gateway, Service};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub gateway: Arc<Gateway>,
    pub collections: Arc<Collections>,
    pub chains: Arc<Chains>,
    pub access: Arc<AccessControl>,
    /// The objectives from the config, for the dashboard.
    pub objectives: Arc<[Objective]>,
    /// OTLP ingest and the exporter's counters.
    pub telemetry: Arc<Telemetry>,
    /// The alert rules and webhooks from the config.
    pub alerting: Arc<AlertingSettings>,
}

impl AppState {
    /// The state of a running service.
    pub fn from_service(service: &Service) -> Self {
        Self {
            gateway: service.gateway.clone(),
            collections: service.collections.clone(),
            chains: service.chains.clone(),
            access: service.access.clone(),
            objectives: service.objectives.clone(),
            telemetry: service.telemetry.clone(),
            alerting: service.alerting.clone(),
        }
    }
}

/// Serves on `listener` until `shutdown` completes, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address tells loopback clients apart: they are served without a key until one exists.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
