//! Chains: named, versioned sequences of steps — LLM calls through registered prompts,
//! retrieval from RAG collections, templates and JSON parsing — run as one trace with a span
//! per step. Versions and labels live in the same registry as prompts.

mod parse;
pub mod plan;
mod run;
pub mod schedule;
pub mod templates;

pub use parse::extract_json;
pub use run::{RunCall, DEFAULT_TOP_K};

use crate::gateway::Gateway;
use crate::prompts::{self, FileFormat};
use crate::rag::Collections;
use crate::registry::DocumentHistory;
use crate::registry::{self, Reference, RegistryError, UnreadableVersion, Versioned};
use gantry_store::RegistryStore;
use gantry_types::{ChainSpec, DocumentSummary, LabelUpdate, RegistryKind, StepResult};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;

/// The registry kind chains are stored under.
pub const KIND: RegistryKind = RegistryKind::Chain;
/// What `NAME` without `@...` runs: the newest version.
pub const DEFAULT_RUN_LABEL: &str = gantry_types::LATEST_LABEL;

/// Why a chain could not be stored or run.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The chain declaration is wrong (names, references, cycles, template syntax).
    #[error("chain '{chain}' is invalid: {message}")]
    InvalidChain { chain: String, message: String },
    /// A chain file could not be read or parsed.
    #[error("{0}")]
    InvalidFile(String),
    /// The run's input does not fit the chain.
    #[error("{0}")]
    InvalidInput(String),
    /// A step failed; the run stopped there.
    #[error("step '{step}' ({step_type}) failed: {message}")]
    StepFailed { step: String, step_type: &'static str, message: String, http_status: u16, steps: Vec<StepResult> },
    /// Looking the chain up failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A stored version could not be read back.
    #[error("stored chain '{name}' version {version} is unreadable: {message}")]
    Corrupt { name: String, version: u32, message: String },
}

impl ChainError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ChainError::InvalidChain { .. } => "invalid_chain",
            ChainError::InvalidFile(_) => "invalid_chain_file",
            ChainError::InvalidInput(_) => "invalid_chain_input",
            ChainError::StepFailed { .. } => "chain_step_failed",
            ChainError::Registry(e) => e.code(),
            ChainError::Corrupt { .. } => "store_corrupt",
        }
    }

    /// The HTTP status a client gets: a failed step passes on its own status.
    pub fn http_status(&self) -> u16 {
        match self {
            ChainError::InvalidChain { .. } | ChainError::InvalidFile(_) | ChainError::InvalidInput(_) => 400,
            ChainError::StepFailed { http_status, .. } => *http_status,
            ChainError::Registry(e) => e.http_status(),
            ChainError::Corrupt { .. } => 500,
        }
    }

    /// The request parameter at fault, when there is one.
    pub fn param(&self) -> Option<String> {
        match self {
            ChainError::InvalidInput(_) => Some("input".to_string()),
            ChainError::StepFailed { step, .. } => Some(format!("steps.{step}")),
            ChainError::Registry(e) => e.param().map(str::to_string),
            _ => None,
        }
    }
}

/// One stored version of a chain.
pub type ChainVersion = Versioned<ChainSpec>;

impl From<UnreadableVersion> for ChainError {
    fn from(e: UnreadableVersion) -> Self {
        ChainError::Corrupt { name: e.name, version: e.version, message: e.message }
    }
}

/// The result of a push.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChainPush {
    /// False when the content equalled the newest version's: no new version was created.
    pub created: bool,
    pub version: ChainVersion,
}

/// Reads a chain file (`.toml`, `.yaml` or `.yml`); errors name the file and the field.
pub fn read_chain_file(path: &Path) -> Result<ChainSpec, ChainError> {
    let source = path.display().to_string();
    let format = FileFormat::from_path(path)
        .ok_or_else(|| ChainError::InvalidFile(format!("{source}: a chain file ends in .toml, .yaml or .yml")))?;
    let text =
        std::fs::read_to_string(path).map_err(|e| ChainError::InvalidFile(format!("{source}: cannot read it: {e}")))?;
    prompts::parse_structured(&text, format, &source).map_err(|e| ChainError::InvalidFile(e.to_string()))
}

/// Checks `spec` and stores it as a new version, unless its content equals the newest one.
pub async fn push<S: RegistryStore + ?Sized>(
    store: &S,
    spec: ChainSpec,
    message: Option<String>,
    author: &str,
) -> Result<ChainPush, ChainError> {
    plan::plan(&spec)?;
    let content = serde_json::to_value(&spec)
        .map_err(|e| ChainError::InvalidChain { chain: spec.name.clone(), message: e.to_string() })?;
    let created = registry::push(store, KIND, &spec.name, content, message, author).await?;
    Ok(ChainPush { created: created.created, version: ChainVersion::from_document(created.version)? })
}

/// The version `reference` selects: `NAME@3`, `NAME@LABEL`, or `NAME` (the newest).
pub async fn resolve<S: RegistryStore + ?Sized>(store: &S, reference: &str) -> Result<ChainVersion, ChainError> {
    let reference = Reference::parse(KIND, reference, DEFAULT_RUN_LABEL)?;
    Ok(ChainVersion::from_document(registry::resolve(store, KIND, &reference).await?)?)
}

/// Every chain with its newest version and labels.
pub async fn list<S: RegistryStore + ?Sized>(store: &S) -> Result<Vec<DocumentSummary>, ChainError> {
    Ok(registry::list(store, KIND).await?)
}

/// A chain's versions, labels and label moves.
pub async fn history<S: RegistryStore + ?Sized>(store: &S, name: &str) -> Result<DocumentHistory, ChainError> {
    Ok(registry::history(store, KIND, name).await?)
}

/// Points `label` at `version` of chain `name`.
pub async fn set_label<S: RegistryStore + ?Sized>(
    store: &S,
    name: &str,
    label: &str,
    version: u32,
    author: &str,
) -> Result<LabelUpdate, ChainError> {
    Ok(registry::set_label(store, KIND, name, label, version, author).await?)
}

/// Chains bound to a running gateway and its RAG collections, so they can be run.
pub struct Chains {
    gateway: Arc<Gateway>,
    collections: Arc<Collections>,
}

impl Chains {
    /// Chains over `gateway`'s store, prompts and models and `collections`.
    pub fn new(gateway: Arc<Gateway>, collections: Arc<Collections>) -> Self {
        Self { gateway, collections }
    }

    /// The registry the chains are stored in.
    pub fn store(&self) -> &dyn RegistryStore {
        self.gateway.store().as_ref()
    }

    /// Runs the version `reference` selects with `input`. The run is traced whatever happens
    /// once the chain is found.
    pub async fn run(&self, reference: &str, input: Value) -> Result<RunCall, ChainError> {
        let version = resolve(self.store(), reference).await?;
        Ok(self.run_version(&version, input).await)
    }

    /// Runs one resolved version (an eval run resolves the label once, so every item runs the
    /// same version even when the label moves meanwhile).
    pub async fn run_version(&self, version: &ChainVersion, input: Value) -> RunCall {
        run::run(&self.gateway, &self.collections, version, input).await
    }
}
