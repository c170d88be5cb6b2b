//! Starting and stopping the gateway: store, providers, trace writer.

use crate::access::{AccessControl, SystemClock};
use crate::analytics::Objective;
use crate::chains::Chains;
use crate::config::Config;
use crate::gateway::Gateway;
use crate::providers::{build_all, ProviderSetupError};
use crate::rag::Collections;
use crate::trace_writer::TraceWriter;
use crate::GatewayError;
use gantry_local::Progress;
use gantry_store::{open_store, StoreError};
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
    writer: TraceWriter,
}

impl Service {
    /// Opens the store, builds the providers (fetching the embedded models if needed) and
    /// starts the trace writer.
    pub async fn start(config: &Config, progress: Progress) -> Result<Self, StartError> {
        let store = open_store(config.database_url.as_deref(), &config.data_dir).await?;
        let providers = build_all(config, progress).await?;
        let (sink, writer) = TraceWriter::spawn(store.clone(), config.traces);
        let gateway = Arc::new(Gateway::new(config, &providers, store, sink)?);
        let collections = Arc::new(Collections::new(gateway.clone(), config));
        let chains = Arc::new(Chains::new(gateway.clone(), collections.clone()));
        let access = access_control(config, &gateway);
        let objectives = config.objectives.clone().into();
        Ok(Self { gateway, collections, chains, access, objectives, writer })
    }

    /// Builds a service around providers made elsewhere (tests, embedding Gantry).
    pub async fn with_providers(
        config: &Config,
        providers: &std::collections::HashMap<String, Arc<dyn gantry_providers::Provider>>,
    ) -> Result<Self, StartError> {
        let store = open_store(config.database_url.as_deref(), &config.data_dir).await?;
        let (sink, writer) = TraceWriter::spawn(store.clone(), config.traces);
        let gateway = Arc::new(Gateway::new(config, providers, store, sink)?);
        let collections = Arc::new(Collections::new(gateway.clone(), config));
        let chains = Arc::new(Chains::new(gateway.clone(), collections.clone()));
        let access = access_control(config, &gateway);
        let objectives = config.objectives.clone().into();
        Ok(Self { gateway, collections, chains, access, objectives, writer })
    }

    /// Commits every queued trace and stops the writer.
    pub async fn shutdown(self) {
        self.writer.shutdown().await;
    }
}
