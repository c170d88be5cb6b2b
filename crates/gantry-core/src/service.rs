//! Starting and stopping the gateway: store, providers, trace writer.

use crate::access::{AccessControl, SystemClock};
use crate::alerts::{AlertError, AlertRunner, AlertingSettings};
use crate::analytics::Objective;
use crate::chains::Chains;
use crate::config::{Config, ProviderSettings, LOCAL_PROVIDER};
use crate::gateway::Gateway;
use crate::otel::{OtlpExporter, OtlpIngest, Telemetry};
use crate::providers::{build_all, ProviderSetupError};
use crate::rag::Collections;
use crate::trace_writer::TraceWriter;
use crate::GatewayError;
use gantry_local::Progress;
use gantry_store::{open_store, Store, StoreError};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Providers(#[from] ProviderSetupError),
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("cannot start the OTLP exporter: {0}")]
    Telemetry(String),
    #[error("cannot start the alert rules: {0}")]
    Alerts(#[from] AlertError),
}

/// Access control over the gateway's store, seeing every finished trace so that budgets and
/// token limits count what each key's calls actually used.
fn access_control(config: &Config, gateway: &Arc<Gateway>) -> Arc<AccessControl> {
    let access = Arc::new(AccessControl::new(config, gateway.store().clone(), Arc::new(SystemClock)));
    let observer = Arc::downgrade(&access);
    gateway.traces().set_observer(Arc::new(move |record| {
        if let Some(access) = observer.upgrade() {
            access.observe(record);
        }
    }));
    access
}

/// A running gateway, its RAG collections, its chains and its trace writer.
pub struct Service {
    pub gateway: Arc<Gateway>,
    pub collections: Arc<Collections>,
    pub chains: Arc<Chains>,
    pub access: Arc<AccessControl>,
    /// `[[objectives]]` from the config, for the dashboard and `gantry status`.
    pub objectives: Arc<[Objective]>,
    pub telemetry: Arc<Telemetry>,
    /// `[alerting]` and `[[alerts]]`, for `/api/alerts`.
    pub alerting: Arc<AlertingSettings>,
    writer: TraceWriter,
    exporter: Option<OtlpExporter>,
    /// Stops canaries that cross their bounds and reweights adaptive experiments.
    watcher: Option<tokio::task::JoinHandle<()>>,
    /// Evaluates the alert rules; `None` without any.
    alerts: Option<AlertRunner>,
}

/// `gen_ai.provider.name` of each provider instance, for exported spans.
fn provider_systems(config: &Config) -> BTreeMap<String, String> {
    let mut systems: BTreeMap<String, String> = config
        .providers
        .iter()
        .map(|(name, settings)| {
            let system = match settings {
                ProviderSettings::OpenAi { .. } => "openai",
                ProviderSettings::Anthropic { .. } => "anthropic",
            };
            (name.clone(), system.to_string())
        })
        .collect();
    systems.insert(LOCAL_PROVIDER.to_string(), "gantry.local".to_string());
    systems
}

/// The trace writer, with the OTLP exporter behind it when one is configured.
fn start_traces(
    config: &Config,
    store: &Arc<dyn Store>,
) -> Result<(crate::TraceSink, TraceWriter, Option<OtlpExporter>), StartError> {
    let exporter = match &config.telemetry.otlp {
        Some(settings) => Some(
            OtlpExporter::spawn(settings.clone(), provider_systems(config))
                .map_err(|e| StartError::Telemetry(e.to_string()))?,
        ),
        None => None,
    };
    let (sink, writer) =
        TraceWriter::spawn_exporting(store.clone(), config.traces, exporter.as_ref().map(OtlpExporter::queue));
    Ok((sink, writer, exporter))
}

fn telemetry(config: &Config, gateway: &Gateway, exporter: Option<&OtlpExporter>) -> Arc<Telemetry> {
    let ingest = OtlpIngest::new(gateway.store().clone(), Arc::new(config.prices.clone()), config.traces.redact);
    Arc::new(Telemetry::new(ingest, exporter.map(OtlpExporter::queue)))
}

impl Service {
    /// Opens the store, builds the providers (fetching the embedded models if needed) and
    /// starts the trace writer.
    pub async fn start(config: &Config, progress: Progress) -> Result<Self, StartError> {
        let store = open_store(config.database_url.as_deref(), &config.data_dir).await?;
        let providers = build_all(config, progress).await?;
        Self::assemble(config, &providers, store)
    }

    fn assemble(
        config: &Config,
        providers: &std::collections::HashMap<String, Arc<dyn gantry_providers::Provider>>,
        store: Arc<dyn Store>,
    ) -> Result<Self, StartError> {
        let (sink, writer, exporter) = start_traces(config, &store)?;
        let gateway = Arc::new(Gateway::new(config, providers, store, sink)?);
        let collections = Arc::new(Collections::new(gateway.clone(), config));
        let chains = Arc::new(Chains::new(gateway.clone(), collections.clone()));
        let access = access_control(config, &gateway);
        let objectives = config.objectives.clone().into();
        let telemetry = telemetry(config, &gateway, exporter.as_ref());
        let alerting = Arc::new(config.alerting.clone());
        Ok(Self {
            gateway,
            collections,
            chains,
            access,
            objectives,
            telemetry,
            alerting,
            writer,
            exporter,
            watcher: None,
            alerts: None,
        })
    }

    /// Starts what a long-running server does besides serving: the deployment watcher (canary
    /// bounds, adaptive experiments) and the alert rules, carrying on from their stored states.
    /// One-shot commands (`gantry chat`, an eval run) leave them off, so they never change a
    /// deployment or send a notification behind the user's back.
    pub async fn start_monitors(mut self, config: &Config) -> Result<Self, StartError> {
        self.watcher =
            config.deploy_watch_interval.map(|every| crate::deploy::spawn_watcher(self.gateway.clone(), every));
        self.alerts = AlertRunner::spawn(&config.alerting, self.gateway.store().clone()).await?;
        Ok(self)
    }

    /// Builds a service around providers made elsewhere (tests, embedding Gantry).
    pub async fn with_providers(
        config: &Config,
        providers: &std::collections::HashMap<String, Arc<dyn gantry_providers::Provider>>,
    ) -> Result<Self, StartError> {
        let store = open_store(config.database_url.as_deref(), &config.data_dir).await?;
        Self::assemble(config, providers, store)
    }

    /// The OTLP exporter's counters; `None` when no exporter is configured.
    pub fn otlp_export_stats(&self) -> Option<crate::otel::ExportStatsSnapshot> {
        self.exporter.as_ref().map(OtlpExporter::stats)
    }

    /// Stops evaluating alerts (queued notifications get a short grace), commits every queued
    /// trace and stops the writer, then sends what the OTLP exporter holds and stops it.
    pub async fn shutdown(self) {
        if let Some(watcher) = &self.watcher {
            watcher.abort();
        }
        if let Some(alerts) = self.alerts {
            alerts.shutdown().await;
        }
        self.writer.shutdown().await;
        if let Some(exporter) = self.exporter {
            exporter.shutdown().await;
        }
    }
}
