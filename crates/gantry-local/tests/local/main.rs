#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! gantry-local end to end: the tiny generated models always, the real SmolLM2 and MiniLM
//! when `GANTRY_TEST_MODELS_DIR` points at a data directory holding them.

mod chat;
mod embeddings;
mod real_models;
mod resolution;

use futures::StreamExt;
use gantry_local::models::ModelSources;
use gantry_local::testing::write_tiny_llama_gguf;
use gantry_local::{LocalChatOptions, LocalChatProvider};
use gantry_types::{
    ChatCompletionChunk, ChatCompletionRequest, ChatMessage, EmbeddingInput, EmbeddingRequest, EmbeddingVector, Role,
};
use std::sync::{Arc, OnceLock};

/// One tiny chat model shared by the tests (loading is cheap, but each load starts a thread).
pub fn tiny_chat() -> Arc<LocalChatProvider> {
    static PROVIDER: OnceLock<(tempfile::TempDir, Arc<LocalChatProvider>)> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("tiny.gguf");
            write_tiny_llama_gguf(&path).unwrap();
            let options = LocalChatOptions { threads: 1, context_size: 256, max_concurrent: 4 };
            let provider = LocalChatProvider::load(&path, options).unwrap();
            (dir, Arc::new(provider))
        })
        .1
        .clone()
}

pub fn ask(text: &str) -> ChatCompletionRequest {
    ChatCompletionRequest::new("tiny", vec![ChatMessage::text(Role::User, text)])
}

pub fn greedy(text: &str) -> ChatCompletionRequest {
    let mut r = ask(text);
    r.temperature = Some(0.0);
    r
}

pub fn content(completion: &gantry_types::ChatCompletion) -> String {
    completion.choices[0].message.text_content()
}

pub async fn collect(stream: gantry_providers::ChunkStream) -> Vec<ChatCompletionChunk> {
    stream.map(|c| c.unwrap()).collect().await
}

fn embed_request(input: EmbeddingInput) -> EmbeddingRequest {
    EmbeddingRequest {
        model: "emb".into(),
        input,
        encoding_format: None,
        dimensions: None,
        user: None,
        extra: Default::default(),
    }
}

pub fn vectors(response: &gantry_types::EmbeddingResponse) -> Vec<Vec<f32>> {
    response
        .data
        .iter()
        .map(|d| match &d.embedding {
            EmbeddingVector::Float(v) => v.clone(),
            EmbeddingVector::Base64(_) => panic!("asked for floats"),
        })
        .collect()
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// No remote source: resolution tests must never touch the network.
pub fn no_remote() -> ModelSources {
    ModelSources { hf: false, pypi: false, hf_endpoint: "http://127.0.0.1:9".into(), python: "python3".into() }
}
