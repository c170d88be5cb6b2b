//! Chains: named, versioned sequences of steps — LLM calls through registered prompts,
//! retrieval from RAG collections, templates and JSON parsing — run as one trace with a span
//! per step.

pub mod plan;
pub mod schedule;
pub mod templates;

/// Why a chain could not be stored or run.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ChainError {
    /// The chain declaration is wrong (names, references, cycles, template syntax).
    #[error("chain '{chain}' is invalid: {message}")]
    InvalidChain { chain: String, message: String },
}

impl ChainError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ChainError::InvalidChain { .. } => "invalid_chain",
        }
    }
}
