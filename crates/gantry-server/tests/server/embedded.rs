//! The embedded engine behind the server: tiny generated models, and the real ones when pulled.

use crate::*;

/// A config serving the tiny generated models through the embedded engine.
fn tiny_models(dir: &Path) -> String {
    let chat = dir.join("tiny.gguf");
    let bert = dir.join("tiny-bert");
    gantry_local::testing::write_tiny_llama_gguf(&chat).unwrap();
    gantry_local::testing::write_tiny_bert(&bert).unwrap();
    local_config(&chat, &bert, 512)
}

fn local_config(chat: &Path, embeddings: &Path, context_size: u32) -> String {
    format!(
        "[local]\nchat_model = {:?}\nembedding_model = {:?}\nthreads = 2\ncontext_size = {context_size}\nmax_concurrent = 2\n",
        chat.display().to_string(),
        embeddings.display().to_string()
    )
}

fn floats(embedding: &Value) -> Vec<f32> {
    embedding.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

#[tokio::test]
async fn the_embedded_engine_serves_chat_and_embeddings() {
    use gantry_local::testing::{TINY_BERT_DIMENSION, TINY_LLAMA_GREEDY_TEXT, TINY_LLAMA_GREEDY_TOKENS};
    let models = tempfile::tempdir().unwrap();
    let server = TestServer::start(&tiny_models(models.path())).await;
    let chat_model = gantry_core::config::DEFAULT_CHAT_MODEL;
    let embedding_model = gantry_core::config::DEFAULT_EMBEDDING_MODEL;
    let (_, list) = server.get("/v1/models").await;
    let owners: Vec<(&str, &str)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["id"].as_str().unwrap(), m["owned_by"].as_str().unwrap()))
        .collect();
    assert_eq!(owners, vec![(chat_model, "local"), (embedding_model, "local")]);

    let request = json!({"model": chat_model, "messages": user("Hi there"), "temperature": 0});
    let response = server.chat(&request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = trace_id(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], TINY_LLAMA_GREEDY_TEXT);
    assert_eq!(body["choices"][0]["finish_reason"], "stop");
    let usage = body["usage"].clone();
    assert_eq!(usage["completion_tokens"], TINY_LLAMA_GREEDY_TOKENS);
    let prompt_tokens = usage["prompt_tokens"].as_u64().unwrap();
    assert!(prompt_tokens > 5, "{usage}");
    let trace = server.trace(&id).await;
    assert_eq!(trace["provider"], "local");
    assert_eq!(trace["completion_tokens"], TINY_LLAMA_GREEDY_TOKENS);
    assert_eq!(trace["prompt_tokens"].as_u64(), Some(prompt_tokens));
    assert_eq!(trace["cost_usd"].as_f64(), Some(0.0));

    let mut streamed = request.clone();
    streamed["stream"] = json!(true);
    streamed["stream_options"] = json!({"include_usage": true});
    let response = server.chat(&streamed).await;
    let id = trace_id(&response);
    let chunks = stream_chunks(response).await;
    assert_eq!(joined_text(&chunks), TINY_LLAMA_GREEDY_TEXT, "split UTF-8 tokens rejoined");
    assert_eq!(chunks.last().unwrap()["usage"], usage);
    assert!(chunks[..chunks.len() - 1].iter().all(|c| !has_usage(c)));
    let trace = server.trace(&id).await;
    assert_eq!(trace["stream"], true);
    assert!(trace["ttft_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(trace["total_tokens"], usage["total_tokens"]);

    let inputs = json!(["the cat sat on the mat", "hello world"]);
    let response = server.post("/v1/embeddings", &json!({"model": embedding_model, "input": inputs})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = trace_id(&response);
    let plain: Value = response.json().await.unwrap();
    assert_eq!(plain["object"], "list");
    let data = plain["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    let vectors: Vec<Vec<f32>> = data.iter().map(|d| floats(&d["embedding"])).collect();
    assert!(vectors.iter().all(|v| v.len() == TINY_BERT_DIMENSION));
    assert_ne!(vectors[0], vectors[1]);
    let embed_tokens = plain["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(embed_tokens >= 4, "{plain}");
    let trace = server.trace(&id).await;
    assert_eq!(trace["kind"], "embeddings");
    assert_eq!(trace["prompt_tokens"].as_u64(), Some(embed_tokens));
    assert_eq!(trace["response"], json!({"vectors": 2, "dimensions": TINY_BERT_DIMENSION}));

    let response = server
        .post("/v1/embeddings", &json!({"model": embedding_model, "input": inputs, "encoding_format": "base64"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = trace_id(&response);
    let encoded: Value = response.json().await.unwrap();
    for (item, expected) in encoded["data"].as_array().unwrap().iter().zip(&vectors) {
        let bytes = base64::engine::general_purpose::STANDARD.decode(item["embedding"].as_str().unwrap()).unwrap();
        let decoded: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        assert_eq!(&decoded, expected);
    }
    let trace = server.trace(&id).await;
    assert_eq!(trace["request"]["encoding_format"], "base64");
    assert_eq!(trace["response"]["dimensions"], TINY_BERT_DIMENSION, "dimensions read from the base64 vectors");
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_drains_every_queued_trace() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("quick", 3, 1)]).await;
    // A long flush interval keeps the records queued in the writer until shutdown drains it.
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [traces]
        flush_interval_ms = 600000
        batch_size = 1000

        [[models]]
        name = "m"
        targets = [{ provider = "oa", model = "up" }]
        "#,
    ))
    .await;
    let calls = (0..50).map(|i| {
        let server = &server;
        async move {
            let response = server.chat(&json!({"model": "m", "messages": user(&format!("call {i}"))})).await;
            assert_eq!(response.status(), StatusCode::OK);
            trace_id(&response)
        }
    });
    let ids: std::collections::BTreeSet<String> = futures::future::join_all(calls).await.into_iter().collect();
    assert_eq!(ids.len(), 50);
    let (_, ready) = server.get("/readyz").await;
    assert_eq!(ready["traces"]["enqueued"], 50, "{ready}");
    assert_eq!(ready["traces"]["dropped"], 0, "{ready}");
    let (_, listed) = server.get("/api/traces?limit=100").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0, "the batch should still be waiting: {listed}");

    let started = Instant::now();
    let data_dir = server.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown waited for the flush interval: {:?}",
        started.elapsed()
    );
    let store = gantry_store::open_store(None, data_dir.path()).await.unwrap();
    let stored =
        store.list_traces(&gantry_types::TraceFilter { limit: Some(1000), ..Default::default() }).await.unwrap();
    let stored_ids: std::collections::BTreeSet<String> = stored.iter().map(|t| t.id.to_string()).collect();
    assert_eq!(stored_ids, ids);
    assert!(stored.iter().all(|t| t.status == gantry_types::TraceStatus::Ok && t.prompt_tokens == Some(3)));
}

/// The data directory holding the real models, if `GANTRY_TEST_MODELS_DIR` points at one.
fn real_models() -> Option<(PathBuf, PathBuf)> {
    let dir = PathBuf::from(std::env::var_os("GANTRY_TEST_MODELS_DIR")?).join("models");
    let chat = dir.join("SmolLM2-135M-Instruct.Q4_1.gguf");
    let embeddings = dir.join("all-MiniLM-L6-v2");
    (chat.is_file() && embeddings.join("model.safetensors").is_file()).then_some((chat, embeddings))
}

#[tokio::test]
async fn real_smollm2_and_minilm_through_the_server() {
    let Some((chat, embeddings)) = real_models() else {
        println!("skipping: real models not found (set GANTRY_TEST_MODELS_DIR)");
        return;
    };
    let server = TestServer::start(&local_config(&chat, &embeddings, 2048)).await;
    let response = server
        .chat(&json!({"model": gantry_core::config::DEFAULT_CHAT_MODEL, "messages": user("What is 2+2?"), "temperature": 0, "max_tokens": 48}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let answer = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(answer.contains('4'), "{answer:?}");
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 10);

    let response = server
        .post(
            "/v1/embeddings",
            &json!({"model": gantry_core::config::DEFAULT_EMBEDDING_MODEL, "input": "The cat sits on the mat."}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let vector = floats(&body["data"][0]["embedding"]);
    assert_eq!(vector.len(), 384);
    let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3, "sentence-transformers vectors are normalised: {norm}");
    server.shutdown().await;
}
