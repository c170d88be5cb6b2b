//! Gantry's embedded inference engine: GGUF chat models run by llama.cpp
//! ([`LocalChatProvider`]), BERT sentence embeddings run by candle
//! ([`LocalEmbeddingProvider`]), finding and downloading the default models ([`models`]),
//! and tiny generated models for tests ([`testing`]).

mod chat;
mod embeddings;
mod error;
mod gguf;
pub mod models;
mod template;
pub mod testing;
mod text;

pub use chat::{LocalChatOptions, LocalChatProvider};
pub use embeddings::{LocalEmbeddingProvider, EMBEDDING_MODEL_FILES, MAX_EMBEDDING_TOKENS};
pub use error::LocalError;
pub use gguf::{has_gguf_magic, GGUF_MAGIC};
pub use models::{resolve_chat_model, resolve_embedding_model, Progress};
pub use template::CHATML_TEMPLATE;
