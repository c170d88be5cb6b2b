//! `/api/collections`: ingest, re-ingest, query, traces and every error path, on the embedded
//! engine (tiny BERT), a mock upstream, and the real MiniLM when `GANTRY_TEST_MODELS_DIR` holds it.

use crate::*;

/// The embedded engine with the tiny generated models (32-dimensional embeddings).
pub(crate) fn tiny_config(dir: &Path) -> String {
    let chat = dir.join("tiny.gguf");
    let bert = dir.join("tiny-bert");
    gantry_local::testing::write_tiny_llama_gguf(&chat).unwrap();
    gantry_local::testing::write_tiny_bert(&bert).unwrap();
    format!(
        "[local]\nchat_model = {:?}\nembedding_model = {:?}\nthreads = 2\ncontext_size = 512\nmax_concurrent = 2\n",
        chat.display().to_string(),
        bert.display().to_string()
    )
}

fn documents(items: &[(&str, &str)]) -> Value {
    Value::Array(items.iter().map(|(source, text)| json!({"source": source, "text": text})).collect())
}

async fn body_of(response: reqwest::Response) -> (StatusCode, Option<String>, Value) {
    let status = response.status();
    let trace = response.headers().get(TRACE_HEADER).map(|v| v.to_str().unwrap().to_string());
    (status, trace, response.json().await.unwrap())
}

#[tokio::test]
async fn documents_are_ingested_once_replaced_when_changed_and_found_by_queries() {
    let models = tempfile::tempdir().unwrap();
    let server = TestServer::start(&tiny_config(models.path())).await;
    let first = json!({
        "documents": documents(&[("notes/cat.md", "the cat sat on the mat."), ("notes/market.md", "the stock market fell today.")]),
        "chunk_size": 100,
        "chunk_overlap": 20,
    });
    let (status, ingest_trace, report) = body_of(server.post("/api/collections/kb/documents", &first).await).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert_eq!(report["created"], true);
    assert_eq!((report["documents_added"].as_u64(), report["chunks_written"].as_u64()), (Some(2), Some(2)));
    assert!(report["embedding_tokens"].as_u64().unwrap() > 4, "{report}");
    let ingest_trace = ingest_trace.expect("an ingest that embeds is traced");
    assert_eq!(report["trace_id"], ingest_trace);

    // The same documents again: nothing to do, nothing traced.
    let (status, trace, report) = body_of(server.post("/api/collections/kb/documents", &first).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trace, None);
    assert_eq!((report["documents_unchanged"].as_u64(), report["chunks_written"].as_u64()), (Some(2), Some(0)));
    assert_eq!(report["documents"][0]["status"], "unchanged");

    // A changed document replaces its chunks; the settings may be left out.
    let changed = json!({"documents": documents(&[("notes/market.md", "the dog is sitting on the rug!")])});
    let (status, _, report) = body_of(server.post("/api/collections/kb/documents", &changed).await).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (report["documents_replaced"].as_u64(), report["chunks_written"].as_u64(), report["chunks_removed"].as_u64()),
        (Some(1), Some(1), Some(1))
    );

    let (status, info) = server.get("/api/collections/kb").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["name"], "kb");
    assert_eq!(info["embedding_model"], gantry_core::config::DEFAULT_EMBEDDING_MODEL);
    assert_eq!(info["dimensions"], gantry_local::testing::TINY_BERT_DIMENSION);
    assert_eq!((info["chunk_size"].as_u64(), info["chunk_overlap"].as_u64()), (Some(100), Some(20)));
    assert_eq!((info["documents"].as_u64(), info["chunks"].as_u64()), (Some(2), Some(2)));
    let (_, list) = server.get("/api/collections").await;
    assert_eq!(list["data"], json!([info]));
    let (_, docs) = server.get("/api/collections/kb/documents").await;
    let sources: Vec<&str> = docs["data"].as_array().unwrap().iter().map(|d| d["source"].as_str().unwrap()).collect();
    assert_eq!(sources, vec!["notes/cat.md", "notes/market.md"]);
    assert_eq!(docs["data"][1]["chunks"], 1);
    assert_eq!(docs["data"][1]["content_hash"].as_str().unwrap().len(), 64);

    // A chunk's own text scores (almost exactly) 1 against itself.
    let query = json!({"query": "the dog is sitting on the rug!", "top_k": 1});
    let (status, trace, hits) = body_of(server.post("/api/collections/kb/query", &query).await).await;
    assert_eq!(status, StatusCode::OK, "{hits}");
    let data = hits["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["source"], "notes/market.md");
    assert_eq!(data[0]["text"], "the dog is sitting on the rug!");
    assert_eq!(
        (data[0]["chunk_index"].as_u64(), data[0]["start_char"].as_u64(), data[0]["end_char"].as_u64()),
        (Some(0), Some(0), Some(30))
    );
    assert!((data[0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-4, "{hits}");
    let (_, _, all) = body_of(server.post("/api/collections/kb/query", &json!({"query": "cat"})).await).await;
    assert_eq!(all["data"].as_array().unwrap().len(), 2, "top_k defaults to 5: every chunk");

    // The query is one retrieve span with its embedding call nested under it.
    let retrieve = server.trace(&trace.unwrap()).await;
    assert_eq!(retrieve["kind"], "retrieve");
    assert_eq!(retrieve["requested_model"], "collection:kb");
    assert_eq!(retrieve["request"], json!({"collection": "kb", "query": "the dog is sitting on the rug!", "top_k": 1}));
    assert_eq!(retrieve["response"]["hits"][0]["source"], "notes/market.md");
    let spans = retrieve["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 1);
    assert_eq!((spans[0]["kind"].as_str(), spans[0]["name"].as_str()), (Some("embeddings"), Some("embed query")));
    assert_eq!(retrieve["prompt_tokens"], spans[0]["prompt_tokens"], "the span carries its embedding's tokens");
    let ingest = server.trace(&ingest_trace).await;
    assert_eq!((ingest["kind"].as_str(), ingest["status"].as_str()), (Some("embeddings"), Some("ok")));
    assert_eq!(ingest["response"]["chunks_written"], 2);
    assert_eq!(ingest["spans"][0]["name"], "embed batch 1/1");
    assert_eq!(ingest["spans"][0]["request"]["input"].as_array().unwrap().len(), 2);

    let response = server.http.delete(server.url("/api/collections/kb")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.json::<Value>().await.unwrap(), json!({"name": "kb", "deleted": true}));
    let (status, body) = server.get("/api/collections/kb").await;
    assert_eq!((status, openai_error(&body)["code"].as_str()), (StatusCode::NOT_FOUND, Some("collection_not_found")));
    let (status, error) = error_of(server.http.delete(server.url("/api/collections/kb")).send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::NOT_FOUND, Some("collection_not_found")));
    let (_, list) = server.get("/api/collections").await;
    assert_eq!(list["data"], json!([]));
    server.shutdown().await;
}

#[tokio::test]
async fn bad_collection_requests_get_openai_errors() {
    let models = tempfile::tempdir().unwrap();
    let server = TestServer::start(&tiny_config(models.path())).await;
    let ok_docs = documents(&[("a.md", "hello world")]);
    let s = &server;
    let ingest = |name: &str, body: Value| {
        let path = format!("/api/collections/{name}/documents");
        async move { s.post(&path, &body).await }
    };
    let cases = [
        ("kb", json!({}), StatusCode::BAD_REQUEST, "documents"),
        ("kb", json!({"documents": []}), StatusCode::BAD_REQUEST, "documents"),
        ("kb", json!({"documents": documents(&[("a.md", "  ")])}), StatusCode::BAD_REQUEST, "documents[0].text"),
        ("kb", json!({"documents": documents(&[("", "x")])}), StatusCode::BAD_REQUEST, "documents[0].source"),
        (
            "kb",
            json!({"documents": documents(&[("a", "x"), ("a", "y")])}),
            StatusCode::BAD_REQUEST,
            "documents[1].source",
        ),
        ("kb", json!({"documents": ok_docs, "chunk_size": 10}), StatusCode::BAD_REQUEST, "chunk_size"),
        (
            "kb",
            json!({"documents": ok_docs, "chunk_size": 100, "chunk_overlap": 80}),
            StatusCode::BAD_REQUEST,
            "chunk_overlap",
        ),
        (
            "kb",
            json!({"documents": ok_docs, "embedding_model": "smollm2-135m-instruct"}),
            StatusCode::BAD_REQUEST,
            "embedding_model",
        ),
        ("bad%20name", json!({"documents": ok_docs}), StatusCode::BAD_REQUEST, "name"),
        ("-dash", json!({"documents": ok_docs}), StatusCode::BAD_REQUEST, "name"),
    ];
    for (name, body, expected, param) in cases {
        let (status, error) = error_of(ingest(name, body.clone()).await).await;
        assert_eq!((status, error["param"].as_str()), (expected, Some(param)), "{name} {body}: {error}");
        assert_eq!(error["type"], "invalid_request_error");
    }
    let (status, error) = error_of(ingest("kb", json!({"documents": ok_docs, "chunk_sise": 100})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown fields are refused: {error}");
    assert!(error["message"].as_str().unwrap().contains("chunk_sise"), "{error}");
    let raw = server
        .http
        .post(server.url("/api/collections/kb/documents"))
        .header("content-type", "application/json")
        .body("{\"documents\": [")
        .send()
        .await
        .unwrap();
    let (status, error) = error_of(raw).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")));
    let (_, list) = server.get("/api/collections").await;
    assert_eq!(list["data"], json!([]), "no refused request created a collection");

    let (status, _, _) = body_of(ingest("kb", json!({"documents": ok_docs})).await).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, error) = error_of(ingest("kb", json!({"documents": ok_docs, "chunk_size": 300})).await).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::CONFLICT, Some("collection_settings_conflict")));
    assert!(error["message"].as_str().unwrap().contains("chunk_size 800 (asked 300)"), "{error}");

    let query = |name: &str, body: Value| {
        let path = format!("/api/collections/{name}/query");
        async move { s.post(&path, &body).await }
    };
    let cases = [
        ("kb", json!({"query": ""}), StatusCode::BAD_REQUEST, "empty_query"),
        ("kb", json!({"query": "hello", "top_k": 0}), StatusCode::BAD_REQUEST, "invalid_top_k"),
        ("kb", json!({"query": "hello", "top_k": -2}), StatusCode::BAD_REQUEST, "invalid_top_k"),
        ("kb", json!({"query": "hello", "top_k": 1000}), StatusCode::BAD_REQUEST, "invalid_top_k"),
        ("nope", json!({"query": "hello"}), StatusCode::NOT_FOUND, "collection_not_found"),
    ];
    for (name, body, expected, code) in cases {
        let response = query(name, body.clone()).await;
        let (status, error) = error_of(response).await;
        assert_eq!((status, error["code"].as_str()), (expected, Some(code)), "{name} {body}: {error}");
    }
    let response = query("nope", json!({"query": "hello"})).await;
    let id = trace_id(&response);
    let trace = server.trace(&id).await;
    assert_eq!((trace["status"].as_str(), trace["http_status"].as_u64()), (Some("error"), Some(404)));
    assert_eq!(trace["error"]["code"], "collection_not_found");
    let (status, error) = error_of(query("kb", json!({"top_k": 3})).await).await;
    assert_eq!((status, error["param"].as_str()), (StatusCode::BAD_REQUEST, Some("query")));
    let (status, _) = error_of(query("kb", json!({"query": "x", "top_k": "five"})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for path in ["/api/collections/nope", "/api/collections/nope/documents"] {
        let (status, body) = server.get(path).await;
        assert_eq!(
            (status, openai_error(&body)["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("collection_not_found"))
        );
    }
    let response = server.http.put(server.url("/api/collections/kb")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    server.shutdown().await;
}

#[tokio::test]
async fn an_upstream_embedding_model_failing_or_changing_is_reported() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::Embeddings { dims: 16 }]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [[models]]
        name = "remote-embed"
        kind = "embeddings"
        targets = [{ provider = "oa", model = "text-embedding-3-small" }]
        routing = { retries = 0 }
        "#,
    ))
    .await;
    let body = json!({"documents": documents(&[("a.md", "alpha"), ("b.md", "beta")])});
    let (status, _, report) = body_of(server.post("/api/collections/remote/documents", &body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    let (_, info) = server.get("/api/collections/remote").await;
    assert_eq!((info["embedding_model"].as_str(), info["dimensions"].as_u64()), (Some("remote-embed"), Some(16)));
    let sent = &mock.requests()[0].body;
    assert_eq!(sent["model"], "text-embedding-3-small");
    assert_eq!(sent["input"], json!(["alpha", "beta"]));

    mock.set_script(vec![Reply::error(503, "overloaded")]);
    let response = server.post("/api/collections/remote/query", &json!({"query": "alpha"})).await;
    let id = trace_id(&response);
    let (status, error) = error_of(response).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_GATEWAY, Some("embedding_failed")), "{error}");
    assert_eq!(error["type"], "upstream_error");
    let trace = server.trace(&id).await;
    assert_eq!(trace["spans"][0]["status"], "error", "the failed embedding call is recorded under the query");

    // The upstream now answers with vectors of another length than the collection holds.
    mock.set_script(vec![Reply::Embeddings { dims: 8 }]);
    let body = json!({"documents": documents(&[("c.md", "gamma")])});
    let (status, error) = error_of(server.post("/api/collections/remote/documents", &body).await).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::CONFLICT, Some("embedding_dimensions_mismatch")));
    assert!(error["message"].as_str().unwrap().contains("16-dimensional"), "{error}");
    let (_, info) = server.get("/api/collections/remote").await;
    assert_eq!(info["documents"], 2, "nothing was stored");
    server.shutdown().await;
}

/// The real all-MiniLM-L6-v2 when `GANTRY_TEST_MODELS_DIR` points at a data directory with it.
fn real_minilm() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("GANTRY_TEST_MODELS_DIR")?).join("models/all-MiniLM-L6-v2");
    dir.join("model.safetensors").is_file().then_some(dir)
}

/// Ten short documents on distinct topics; each paragraph answers one of the questions.
const CORPUS: [(&str, &str); 10] = [
    ("astronomy.md", "# Mars\n\nMars is the fourth planet from the Sun. Its red colour comes from iron oxide, rust, covering the dust and rocks on its surface.\n\nOlympus Mons on Mars is the tallest volcano in the solar system, about three times the height of Mount Everest."),
    ("baking.md", "# Sourdough\n\nSourdough bread rises without commercial yeast. A starter of flour and water captures wild yeast and lactic acid bacteria, which give the bread its sour taste.\n\nBake the loaf in a preheated Dutch oven at 250 degrees Celsius, lid on for twenty minutes, then lid off until the crust is dark brown."),
    ("cycling.md", "# Bicycle maintenance\n\nA squeaky bicycle chain needs cleaning and a few drops of chain lubricant, wiping off the excess so it does not collect dirt.\n\nRoad bike tyres are usually inflated to between 80 and 100 psi; check the pressure every week because tubes slowly lose air."),
    ("finance.md", "# Compound interest\n\nCompound interest means you earn interest on the interest already added to your savings, so the balance grows exponentially over the years.\n\nAn index fund buys every stock in a market index, which spreads risk and keeps fees low compared with actively managed funds."),
    ("gardening.md", "# Tomatoes\n\nTomato plants need at least six to eight hours of direct sunlight each day and deep watering two or three times a week.\n\nYellow leaves at the bottom of a tomato plant often mean a lack of nitrogen or watering too much."),
    ("history.md", "# The Roman Empire\n\nThe Western Roman Empire fell in 476 AD when the Germanic leader Odoacer deposed the emperor Romulus Augustulus.\n\nRoman aqueducts carried fresh water into cities over long distances using only gravity and a gentle downhill slope."),
    ("medicine.md", "# Vaccines\n\nA vaccine trains the immune system to recognise a pathogen, so the body can produce antibodies quickly when it meets the real infection.\n\nA fever is the body raising its temperature to fight an infection; adults should see a doctor above 39.4 degrees Celsius."),
    ("music.md", "# Guitar\n\nA standard guitar is tuned E A D G B E, from the lowest string to the highest.\n\nTo play a barre chord, press one finger flat across all six strings on the same fret while the other fingers form the chord shape."),
    ("programming.md", "# Rust\n\nRust's borrow checker enforces ownership rules at compile time, preventing data races and use-after-free bugs without a garbage collector.\n\nCargo is Rust's build tool and package manager; cargo test compiles the project and runs its unit and integration tests."),
    ("oceans.md", "# Ocean tides\n\nOcean tides are caused mainly by the gravitational pull of the Moon, with a smaller contribution from the Sun.\n\nThe Mariana Trench in the western Pacific is the deepest part of the ocean, nearly eleven kilometres below sea level."),
];

/// Questions, the document that answers each, and words of the answering paragraph.
const QUESTIONS: [(&str, &str, &str); 12] = [
    ("Why does the red planet look red?", "astronomy.md", "iron oxide"),
    ("What is the highest mountain on another planet?", "astronomy.md", "Olympus Mons"),
    ("How can bread rise without buying yeast?", "baking.md", "starter"),
    ("My bike chain makes a noise, what should I do?", "cycling.md", "lubricant"),
    ("How much air pressure should racing bicycle tires have?", "cycling.md", "psi"),
    ("How does money grow when interest is reinvested?", "finance.md", "exponentially"),
    ("Why are the lower leaves of my tomato turning yellow?", "gardening.md", "nitrogen"),
    ("When did the western Roman empire end?", "history.md", "476"),
    ("How do immunizations protect people from disease?", "medicine.md", "antibodies"),
    ("What notes are the strings of a guitar tuned to?", "music.md", "E A D G B E"),
    ("How does Rust avoid memory bugs without garbage collection?", "programming.md", "borrow checker"),
    ("What causes the tides in the sea?", "oceans.md", "Moon"),
];

#[tokio::test]
async fn real_minilm_retrieves_the_chunk_that_answers_each_question() {
    let Some(minilm) = real_minilm() else {
        println!("skipping: the real MiniLM was not found (set GANTRY_TEST_MODELS_DIR)");
        return;
    };
    let models = tempfile::tempdir().unwrap();
    let chat = models.path().join("tiny.gguf");
    gantry_local::testing::write_tiny_llama_gguf(&chat).unwrap();
    let config = format!(
        "[local]\nchat_model = {:?}\nembedding_model = {:?}\nthreads = 2\ncontext_size = 512\n",
        chat.display().to_string(),
        minilm.display().to_string()
    );
    let server = TestServer::start(&config).await;
    // Small chunks: each paragraph becomes its own chunk, so top-1 must pick the right paragraph.
    let body = json!({"documents": documents(&CORPUS), "chunk_size": 200, "chunk_overlap": 0});
    let (status, _, report) = body_of(server.post("/api/collections/handbook/documents", &body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{report}");
    assert!(report["chunks_written"].as_u64().unwrap() >= 20, "{report}");
    let (_, info) = server.get("/api/collections/handbook").await;
    assert_eq!(info["dimensions"], 384);

    let mut misses = Vec::new();
    for (question, source, answer) in QUESTIONS {
        let (status, _, hits) =
            body_of(server.post("/api/collections/handbook/query", &json!({"query": question, "top_k": 3})).await)
                .await;
        assert_eq!(status, StatusCode::OK, "{hits}");
        let top = &hits["data"][0];
        let text = top["text"].as_str().unwrap();
        println!("{:.3} {question} -> {} {text:?}", top["score"].as_f64().unwrap(), top["source"]);
        if top["source"] != source || !text.contains(answer) {
            misses.push(format!("{question}: got {} {text:?}", top["source"]));
        }
    }
    assert!(misses.is_empty(), "top-1 missed the answering chunk:\n{}", misses.join("\n"));
    server.shutdown().await;
}
