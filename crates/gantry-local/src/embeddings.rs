//! `LocalEmbeddingProvider`: a BERT sentence-embedding model (all-MiniLM-L6-v2) run by candle,
//! with the sentence-transformers pipeline: mean pooling over real tokens, then L2 norm.

use crate::LocalError;
use async_trait::async_trait;
use candle_core::{DType, Device, Tensor, D};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use gantry_providers::{Capabilities, ChunkStream, Provider, ProviderError};
use gantry_types::{
    ChatCompletion, ChatCompletionRequest, Embedding, EmbeddingRequest, EmbeddingResponse, EmbeddingUsage,
    EmbeddingVector, EncodingFormat,
};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// Longest input in tokens; all-MiniLM-L6-v2 was trained with `max_seq_length` 256.
pub const MAX_EMBEDDING_TOKENS: usize = 256;
/// Inputs embedded in one forward pass.
const BATCH_SIZE: usize = 32;
/// The files a model directory must hold.
pub const EMBEDDING_MODEL_FILES: [&str; 3] = ["model.safetensors", "tokenizer.json", "config.json"];

/// A BERT embedding model loaded from a directory with model.safetensors, tokenizer.json and
/// config.json.
#[derive(Clone)]
pub struct LocalEmbeddingProvider {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    model: BertModel,
    tokenizer: Tokenizer,
    dimension: usize,
}

impl std::fmt::Debug for LocalEmbeddingProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalEmbeddingProvider")
            .field("dir", &self.inner.dir)
            .field("dimension", &self.inner.dimension)
            .finish_non_exhaustive()
    }
}

/// The vectors and token count of one batch of texts.
struct Embedded {
    vectors: Vec<Vec<f32>>,
    tokens: usize,
}

impl LocalEmbeddingProvider {
    /// Loads the model from `dir`. Blocking; call it from `spawn_blocking` in async code.
    pub fn load(dir: &Path) -> Result<Self, LocalError> {
        if !dir.is_dir() {
            return Err(LocalError::NotFound { path: dir.to_path_buf() });
        }
        if let Some(missing) = EMBEDDING_MODEL_FILES.iter().find(|f| !dir.join(f).is_file()) {
            return Err(LocalError::invalid(dir, format!("missing {missing}")));
        }
        let config_path = dir.join("config.json");
        let config_text =
            std::fs::read_to_string(&config_path).map_err(|e| LocalError::io("reading", &config_path, e))?;
        let config: Config = serde_json::from_str(&config_text)
            .map_err(|e| LocalError::invalid(&config_path, format!("not a BERT config: {e}")))?;

        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| LocalError::invalid(&tokenizer_path, format!("unreadable tokenizer: {e}")))?;
        // The file bakes in fixed padding and truncation at 128; pad to the batch's longest
        // input instead (pooling skips padding) and truncate where the model was trained.
        let padding = PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..tokenizer.get_padding().cloned().unwrap_or_default()
        };
        tokenizer.with_padding(Some(padding));
        let max_len = MAX_EMBEDDING_TOKENS.min(config.max_position_embeddings);
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: max_len, ..Default::default() }))
            .map_err(|e| LocalError::invalid(&tokenizer_path, format!("cannot set truncation: {e}")))?;

        let weights_path = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights_path).map_err(|e| LocalError::io("reading", &weights_path, e))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &Device::Cpu)
            .map_err(|e| LocalError::invalid(&weights_path, format!("not a safetensors file: {e}")))?;
        let model = BertModel::load(vb, &config)
            .map_err(|e| LocalError::Load { path: dir.to_path_buf(), reason: e.to_string() })?;
        tracing::info!(dir = %dir.display(), dimension = config.hidden_size, "local embedding model loaded");
        Ok(Self { inner: Arc::new(Inner { dir: dir.to_path_buf(), model, tokenizer, dimension: config.hidden_size }) })
    }

    /// Length of the vectors this model produces.
    pub fn dimension(&self) -> usize {
        self.inner.dimension
    }

    /// Embeds `texts` (blocking), in batches; returns one unit vector per text.
    pub fn embed_texts(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ProviderError> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH_SIZE) {
            out.extend(self.inner.embed_batch(batch)?.vectors);
        }
        Ok(out)
    }
}

impl Inner {
    fn embed_batch(&self, texts: &[String]) -> Result<Embedded, ProviderError> {
        let internal = |e: candle_core::Error| ProviderError::Internal(format!("embedding failed: {e}"));
        let inputs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let encodings = self
            .tokenizer
            .encode_batch(inputs, true)
            .map_err(|e| ProviderError::Internal(format!("tokenizer failed: {e}")))?;
        let rows = encodings.len();
        let cols = encodings.first().map_or(0, |e| e.len());
        let mut ids = Vec::with_capacity(rows * cols);
        let mut types = Vec::with_capacity(rows * cols);
        let mut mask = Vec::with_capacity(rows * cols);
        for enc in &encodings {
            ids.extend_from_slice(enc.get_ids());
            types.extend_from_slice(enc.get_type_ids());
            mask.extend_from_slice(enc.get_attention_mask());
        }
        let tokens = mask.iter().filter(|&&m| m == 1).count();
        let device = Device::Cpu;
        let ids = Tensor::from_vec(ids, (rows, cols), &device).map_err(internal)?;
        let types = Tensor::from_vec(types, (rows, cols), &device).map_err(internal)?;
        let mask = Tensor::from_vec(mask, (rows, cols), &device).map_err(internal)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask)).map_err(internal)?;
        let pooled = mean_pool(&hidden, &mask).map_err(internal)?;
        let vectors = l2_normalize(&pooled).map_err(internal)?.to_vec2::<f32>().map_err(internal)?;
        Ok(Embedded { vectors, tokens })
    }
}

/// Average of the token vectors the attention mask keeps: (batch, seq, dim) -> (batch, dim).
fn mean_pool(hidden: &Tensor, mask: &Tensor) -> candle_core::Result<Tensor> {
    let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
    let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
    let counts = mask.sum(1)?.clamp(1e-9, f32::MAX)?;
    summed.broadcast_div(&counts)
}

fn l2_normalize(x: &Tensor) -> candle_core::Result<Tensor> {
    let norm = x.sqr()?.sum_keepdim(D::Minus1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
    x.broadcast_div(&norm)
}

/// Standard base64 of the vector's little-endian f32 bytes, as OpenAI's `encoding_format`
/// "base64" returns it.
fn base64_f32(values: &[f32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The request's texts, or why they cannot be embedded.
fn request_texts(request: &EmbeddingRequest, dimension: usize) -> Result<Vec<String>, ProviderError> {
    let texts = request.input.texts().ok_or_else(|| {
        ProviderError::InvalidRequest("the local embedding model takes text input, not token arrays".into())
    })?;
    if texts.is_empty() {
        return Err(ProviderError::InvalidRequest("input must not be empty".into()));
    }
    if let Some(i) = texts.iter().position(|t| t.is_empty()) {
        return Err(ProviderError::InvalidRequest(format!("input[{i}] is an empty string")));
    }
    if let Some(d) = request.dimensions.filter(|&d| d as usize != dimension) {
        return Err(ProviderError::InvalidRequest(format!(
            "the local embedding model produces {dimension}-dimensional vectors; dimensions={d} is not supported"
        )));
    }
    Ok(texts)
}

#[async_trait]
impl Provider for LocalEmbeddingProvider {
    fn capabilities(&self) -> Capabilities {
        Capabilities { chat: false, streaming: false, embeddings: true, tools: false, json_mode: false }
    }

    async fn chat(&self, _request: ChatCompletionRequest) -> Result<ChatCompletion, ProviderError> {
        Err(ProviderError::Unsupported("the local embedding model does not do chat completions".into()))
    }

    async fn chat_stream(&self, _request: ChatCompletionRequest) -> Result<ChunkStream, ProviderError> {
        Err(ProviderError::Unsupported("the local embedding model does not do chat completions".into()))
    }

    async fn embed(&self, request: EmbeddingRequest) -> Result<EmbeddingResponse, ProviderError> {
        let texts = request_texts(&request, self.inner.dimension)?;
        let inner = Arc::clone(&self.inner);
        let (vectors, tokens) = tokio::task::spawn_blocking(move || -> Result<_, ProviderError> {
            let mut vectors = Vec::with_capacity(texts.len());
            let mut tokens = 0;
            for batch in texts.chunks(BATCH_SIZE) {
                let embedded = inner.embed_batch(batch)?;
                vectors.extend(embedded.vectors);
                tokens += embedded.tokens;
            }
            Ok((vectors, tokens))
        })
        .await
        .map_err(|e| ProviderError::Internal(format!("embedding task failed: {e}")))??;
        let base64 = request.encoding_format == Some(EncodingFormat::Base64);
        let data = vectors
            .into_iter()
            .enumerate()
            .map(|(i, v)| Embedding {
                object: "embedding".to_string(),
                index: i as u32,
                embedding: if base64 { EmbeddingVector::Base64(base64_f32(&v)) } else { EmbeddingVector::Float(v) },
            })
            .collect();
        let tokens = u32::try_from(tokens).unwrap_or(u32::MAX);
        Ok(EmbeddingResponse {
            object: "list".to_string(),
            data,
            model: request.model,
            usage: EmbeddingUsage { prompt_tokens: tokens, total_tokens: tokens },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gantry_types::EmbeddingInput;

    fn request(input: EmbeddingInput) -> EmbeddingRequest {
        EmbeddingRequest {
            model: "m".into(),
            input,
            encoding_format: None,
            dimensions: None,
            user: None,
            extra: Default::default(),
        }
    }

    #[test]
    fn validates_inputs() {
        let err = request_texts(&request(EmbeddingInput::Tokens(vec![1, 2])), 8).unwrap_err();
        assert!(matches!(err, ProviderError::InvalidRequest(_)));
        let err = request_texts(&request(EmbeddingInput::Many(vec!["a".into(), String::new()])), 8).unwrap_err();
        assert!(err.to_string().contains("input[1]"), "{err}");
        let mut r = request(EmbeddingInput::One("a".into()));
        r.dimensions = Some(4);
        assert!(request_texts(&r, 8).is_err());
        r.dimensions = Some(8);
        assert_eq!(request_texts(&r, 8).unwrap(), vec!["a".to_string()]);
    }

    #[test]
    fn base64_matches_known_encoding() {
        // 1.0f32 little-endian is 00 00 80 3f.
        assert_eq!(base64_f32(&[1.0]), "AACAPw==");
        assert_eq!(base64_f32(&[1.0, 1.0, 1.0]), "AACAPwAAgD8AAIA/");
    }
}
