//! Chains end to end: a RAG collection on the embedded engine (tiny BERT), a registered prompt
//! answered by a mock OpenAI upstream, a chain that retrieves, calls the prompt, parses JSON
//! and renders a template; the run's trace tree; every error path.

use crate::*;

/// The embedded engine (tiny models) for embeddings, and `gpt` on a mock OpenAI upstream.
fn chain_config(models_dir: &Path, mock: &MockUpstream) -> String {
    let chat = models_dir.join("tiny.gguf");
    let bert = models_dir.join("tiny-bert");
    gantry_local::testing::write_tiny_llama_gguf(&chat).unwrap();
    gantry_local::testing::write_tiny_bert(&bert).unwrap();
    format!(
        r#"[local]
chat_model = {chat:?}
embedding_model = {bert:?}
threads = 2
context_size = 512

{provider}
[[models]]
name = "gpt"
targets = [{{ provider = "oa", model = "gpt-4o-mini" }}]
routing = {{ retries = 0 }}

[prices."gpt-4o-mini"]
input_per_mtok = 0.15
output_per_mtok = 0.6
"#,
        chat = chat.display().to_string(),
        bert = bert.display().to_string(),
        provider = provider("oa", mock),
    )
}

const RETURNS: &str = "Customers may return any unused item within 30 days of delivery for a full refund.";
const SHIPPING: &str = "Standard shipping takes 3 to 5 business days and costs 4.95 euros.";

fn qa_chain() -> Value {
    json!({
        "name": "qa",
        "description": "Answers from the handbook",
        "inputs": ["question"],
        "steps": [
            {"name": "docs", "type": "retrieve", "collection": "handbook", "query": "{{ input.question }}", "top_k": 2},
            {"name": "answer", "type": "llm", "prompt": "answer",
             "variables": {"question": "{{ input.question }}", "context": "{{ docs }}"}},
            {"name": "parsed", "type": "parse_json", "from": "{{ answer }}"},
            {"name": "title", "type": "template", "template": "Q: {{ input.question }}"}
        ],
        "output": "parsed",
        "message": "first chain",
        "author": "ana"
    })
}

/// A server with the handbook ingested and the `answer` prompt labelled production.
async fn prepared(mock: &MockUpstream, models: &Path) -> TestServer {
    let server = TestServer::start(&chain_config(models, mock)).await;
    let docs =
        json!({"documents": [{"source": "returns.md", "text": RETURNS}, {"source": "shipping.md", "text": SHIPPING}]});
    let response = server.post("/api/collections/handbook/documents", &docs).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let prompt = json!({
        "name": "answer",
        "model": "gpt",
        "parameters": {"temperature": 0},
        "variables": [{"name": "question", "type": "string"}, {"name": "context", "type": "array"}],
        "messages": [
            {"role": "system", "content": "Answer from the context only. Reply with JSON."},
            {"role": "user", "content": "{% for c in context %}[{{ c.source }}] {{ c.text }}\n{% endfor %}Question: {{ question }}"}
        ]
    });
    assert_eq!(server.post("/api/prompts", &prompt).await.status(), StatusCode::CREATED);
    let label = server.http.put(server.url("/api/prompts/answer/labels/production")).json(&json!({"version": 1}));
    assert_eq!(label.send().await.unwrap().status(), StatusCode::OK);
    server
}

fn span<'a>(tree: &'a Value, name: &str) -> &'a Value {
    tree["spans"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name}: {tree}"))
}

#[tokio::test]
async fn a_chain_retrieves_calls_a_prompt_and_parses_json_with_a_span_per_step() {
    let answer = "```json\n{\"answer\": \"30 days\", \"source\": \"returns.md\"}\n```";
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text(answer, 40, 12)]).await;
    let models = tempfile::tempdir().unwrap();
    let server = prepared(&mock, models.path()).await;

    let response = server.post("/api/chains", &qa_chain()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let pushed: Value = response.json().await.unwrap();
    assert_eq!((pushed["created"].as_bool(), pushed["version"]["version"].as_u64()), (Some(true), Some(1)));
    assert_eq!(pushed["version"]["author"], "ana");
    let again = server.post("/api/chains", &qa_chain()).await;
    assert_eq!(again.status(), StatusCode::OK, "unchanged content makes no new version");

    let question = "How many days do I have to return an item?";
    let response = server.post("/api/chains/qa/run", &json!({"input": {"question": question}})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let run_id = trace_id(&response);
    let run: Value = response.json().await.unwrap();
    assert_eq!(run["output"], json!({"answer": "30 days", "source": "returns.md"}));
    assert_eq!((run["chain"].as_str(), run["version"].as_u64()), (Some("qa"), Some(1)));
    assert_eq!(run["trace_id"], run_id);
    let steps = run["steps"].as_array().unwrap();
    let mut names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, vec!["answer", "docs", "parsed", "title"]);
    let step = |name: &str| steps.iter().find(|s| s["name"] == name).unwrap();
    assert_eq!(step("docs")["output"].as_array().unwrap().len(), 2);
    assert_eq!(step("title")["output"], format!("Q: {question}"));
    assert_eq!(
        (step("answer")["prompt_tokens"].as_u64(), step("answer")["completion_tokens"].as_u64()),
        (Some(40), Some(12))
    );
    let cost = step("answer")["cost_usd"].as_f64().unwrap();
    assert!((cost - (40.0 * 0.15 + 12.0 * 0.6) / 1e6).abs() < 1e-12, "{cost}");
    // `parsed` read `answer`, which read `docs`: they finished in that order.
    let position = |name: &str| names_in_order(steps).iter().position(|n| n == name).unwrap();
    assert!(position("docs") < position("answer") && position("answer") < position("parsed"));

    // The upstream saw the prompt rendered with the retrieved chunks and the question.
    let sent = &mock.requests()[0].body;
    assert_eq!(sent["model"], "gpt-4o-mini");
    assert_eq!(sent["temperature"], 0.0);
    let user = sent["messages"][1]["content"].as_str().unwrap();
    assert!(
        user.contains(&format!("[returns.md] {RETURNS}")) && user.contains(&format!("[shipping.md] {SHIPPING}")),
        "{user}"
    );
    assert!(user.ends_with(&format!("Question: {question}")), "{user}");

    // One trace for the run, one span per step, the embedding call under the retrieval.
    let tree = server.trace(&run_id).await;
    let tree = wait_for_spans(&server, &run_id, tree, 4).await;
    assert_eq!((tree["kind"].as_str(), tree["status"].as_str()), (Some("chain"), Some("ok")));
    assert_eq!(tree["requested_model"], "chain:qa@1");
    assert_eq!(tree["response"]["output"], run["output"]);
    assert_eq!((tree["prompt_tokens"].as_u64(), tree["completion_tokens"].as_u64()), (Some(40), Some(12)));
    let docs = span(&tree, "docs");
    assert_eq!(docs["kind"], "retrieve");
    assert_eq!(docs["spans"][0]["kind"], "embeddings");
    let answer_span = span(&tree, "answer");
    assert_eq!((answer_span["kind"].as_str(), answer_span["requested_model"].as_str()), (Some("chat"), Some("gpt")));
    assert_eq!(answer_span["prompt"]["name"], "answer");
    assert_eq!(answer_span["prompt"]["version"], 1);
    assert_eq!(answer_span["prompt"]["variables"]["question"], question);
    assert_eq!(span(&tree, "parsed")["response"], run["output"]);
    assert_eq!(span(&tree, "title")["kind"], "template");
    assert_eq!(answer_span["id"], step("answer")["span_id"]);

    // Runs are root traces; their steps are not listed on their own.
    let (_, list) = server.get("/api/traces?limit=50").await;
    assert!(list["data"].as_array().unwrap().iter().all(|t| t["parent_id"].is_null()), "{list}");
}

fn names_in_order(steps: &[Value]) -> Vec<String> {
    steps.iter().map(|s| s["name"].as_str().unwrap().to_string()).collect()
}

/// The run's trace is written before some of its spans may be: poll until all are there.
async fn wait_for_spans(server: &TestServer, id: &str, mut tree: Value, count: usize) -> Value {
    let deadline = Instant::now() + WAIT;
    while tree["spans"].as_array().map_or(0, Vec::len) < count {
        assert!(Instant::now() < deadline, "spans of {id} were not written: {tree}");
        tokio::time::sleep(Duration::from_millis(20)).await;
        tree = server.trace(id).await;
    }
    tree
}

#[tokio::test]
async fn a_failing_step_stops_the_chain_names_the_step_and_keeps_the_partial_trace() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::error(500, "model exploded")]).await;
    let models = tempfile::tempdir().unwrap();
    let server = prepared(&mock, models.path()).await;
    assert_eq!(server.post("/api/chains", &qa_chain()).await.status(), StatusCode::CREATED);

    let response = server.post("/api/chains/qa/run", &json!({"input": {"question": "Refunds?"}})).await;
    let run_id = trace_id(&response);
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    let error = &body;
    assert_eq!((error["code"].as_str(), error["param"].as_str()), (Some("chain_step_failed"), Some("steps.answer")));
    assert!(error["message"].as_str().unwrap().starts_with("step 'answer' (llm) failed:"), "{error}");
    let tree = server.trace(&run_id).await;
    let tree = wait_for_spans(&server, &run_id, tree, 2).await;
    assert_eq!(tree["status"], "error");
    assert_eq!(tree["error"]["code"], "chain_step_failed");
    assert_eq!(span(&tree, "docs")["status"], "ok");
    assert_eq!(span(&tree, "answer")["status"], "error");
    assert!(tree["spans"].as_array().unwrap().iter().all(|s| s["name"] != "parsed"), "parsed never ran");

    // An answer that holds no JSON fails the parse step with 422.
    mock.set_script(vec![Reply::text("I am not sure, sorry.", 5, 5)]);
    let response = server.post("/api/chains/qa/run", &json!({"input": {"question": "Refunds?"}})).await;
    let (status, body) = error_of(response).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let message = body["message"].as_str().unwrap().to_string();
    assert!(message.starts_with("step 'parsed' (parse_json) failed: no JSON found"), "{message}");
}

#[tokio::test]
async fn bad_chains_and_bad_runs_are_clear_errors() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![]).await;
    let models = tempfile::tempdir().unwrap();
    let server = prepared(&mock, models.path()).await;

    let mut unknown = qa_chain();
    unknown["steps"][2]["from"] = json!("{{ answr }}");
    let (status, body) = error_of(server.post("/api/chains", &unknown).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_chain");
    assert!(body["message"].as_str().unwrap().contains("'answr' is neither 'input' nor a step"));
    let mut typo = qa_chain();
    typo["steps"][0]["type"] = json!("retreive");
    let (status, body) = error_of(server.post("/api/chains", &typo).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"].as_str().unwrap().contains("retreive"), "{body}");
    assert_eq!(server.get("/api/chains").await.1["data"], json!([]), "nothing was stored");

    assert_eq!(server.post("/api/chains", &qa_chain()).await.status(), StatusCode::CREATED);
    let (status, body) = error_of(server.post("/api/chains/nope/run", &json!({"input": {}})).await).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("chain_not_found")));
    let (status, body) = error_of(server.post("/api/chains/qa/run", &json!({"input": {}, "version": 9})).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["message"].as_str().unwrap().contains("no version 9"), "{body}");

    let response = server.post("/api/chains/qa/run", &json!({"input": {"q": "x"}})).await;
    let run_id = trace_id(&response);
    let (status, body) = error_of(response).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_chain_input")));
    assert!(body["message"].as_str().unwrap().contains("question"), "{body}");
    assert_eq!(server.trace(&run_id).await["status"], "error", "a refused run is traced too");
    let (status, body) = error_of(server.post("/api/chains/qa/run", &json!({"input": [1]})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = error_of(server.post("/api/chains/qa/run", &json!({"inputs": {}})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(mock.request_count(), 0, "no bad run reached the model");

    let (status, history) = server.get("/api/chains/qa").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(history["versions"].as_array().unwrap().len(), 1);
    let (status, version) = server.get("/api/chains/qa/versions/latest").await;
    assert_eq!((status, version["steps"].as_array().unwrap().len()), (StatusCode::OK, 4));
    let label = server.http.put(server.url("/api/chains/qa/labels/production")).json(&json!({"version": 2}));
    assert_eq!(label.send().await.unwrap().status(), StatusCode::NOT_FOUND);
}
