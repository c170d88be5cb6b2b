//! `/api/datasets`: versions from items and JSONL, pages, statistics, cleaning, versions from
//! traces, export, and the error paths (all OpenAI-shaped, nothing stored on failure).

use crate::*;

async fn send(server: &TestServer, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = server.post(path, body).await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

const JSONL: &str = concat!(
    "{\"input\": \"My card 4111 1111 1111 1111 was charged twice\", \"expected\": \"billing\", \"metadata\": {\"category\": \"billing\"}}\n",
    "{\"input\": \"I want a refund for my last order please\", \"expected\": \"billing\", \"metadata\": {\"category\": \"billing\"}}\n",
    "{\"input\": \"I want a refund for my last order please\", \"expected\": \"billing\", \"metadata\": {\"category\": \"billing\"}}\n",
    "{\"input\": \"The app crashes when I open settings, mail bob@example.org\", \"expected\": \"bug\", \"metadata\": {\"category\": \"tech\"}}\n",
);

#[tokio::test]
async fn versions_pages_stats_clean_and_export() {
    let server = TestServer::start(&mock_config(&[], "")).await;
    let (status, v1) = send(&server, "/api/datasets/support/versions", &json!({"jsonl": JSONL, "author": "ada"})).await;
    assert_eq!(status, StatusCode::CREATED, "{v1}");
    assert_eq!((v1["version"].as_u64(), v1["items"].as_u64(), v1["author"].as_str()), (Some(1), Some(4), Some("ada")));
    assert_eq!(v1["source"], "api: jsonl");

    // A bare array of items is a version too.
    let items = json!([{"input": {"q": "2+2?"}, "expected": "4"}, {"input": [{"role": "user", "content": "hi"}]}]);
    let (status, other) = send(&server, "/api/datasets/math/versions", &items).await;
    assert_eq!(status, StatusCode::CREATED, "{other}");
    assert_eq!(other["items"], 2);

    let (status, list) = server.get("/api/datasets").await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["data"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["math", "support"]);

    let (status, page) = server.get("/api/datasets/support/versions/1/items?offset=1&limit=2").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!((page["total"].as_u64(), page["offset"].as_u64(), page["limit"].as_u64()), (Some(4), Some(1), Some(2)));
    let indexes: Vec<u64> = page["data"].as_array().unwrap().iter().map(|i| i["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, vec![1, 2]);
    assert_eq!(page["data"][0]["input"][0]["content"], "I want a refund for my last order please");

    let (status, stats) = server.get("/api/datasets/support/stats?label_key=category").await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!((stats["items"].as_u64(), stats["duplicates"].as_u64()), (Some(4), Some(1)));
    assert_eq!(stats["labels"]["counts"][0], json!({"label": "billing", "count": 3}));
    assert_eq!(stats["input_tokens"]["min"], 9);
    assert!(stats["input_chars"]["histogram"].as_array().unwrap().len() >= 2, "{stats}");

    let clean = json!({"steps": [{"step": "exact_duplicates"}, {"step": "redact_pii"}], "author": "bo"});
    let (status, outcome) = send(&server, "/api/datasets/support/clean", &clean).await;
    assert_eq!(status, StatusCode::CREATED, "{outcome}");
    assert_eq!(
        (outcome["version"]["version"].as_u64(), outcome["version"]["parent_version"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(outcome["report"]["steps"][0]["removed"], 1);
    assert_eq!(
        outcome["report"]["steps"][0]["reasons"][0]["examples"][0],
        json!({"index": 2, "detail": "same as item 1"})
    );
    assert_eq!(outcome["report"]["steps"][1]["changed"], 2);
    let (_, page) = server.get("/api/datasets/support/versions/2/items").await;
    assert_eq!(page["data"][0]["input"][0]["content"], "My card <CREDIT_CARD_1> was charged twice");
    assert_eq!(page["data"][2]["index"], 2);

    let (status, details) = server.get("/api/datasets/support").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(details["versions"].as_array().unwrap().len(), 2);
    assert_eq!(details["versions"][1]["source"], "clean of v1: exact_duplicates, redact_pii");

    let response = server.http.get(server.url("/api/datasets/support/export?format=chat")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-gantry-exported"], "3");
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["messages"][1], json!({"role": "assistant", "content": "billing"}));
    let response = server.http.get(server.url("/api/datasets/math/export?format=chat")).send().await.unwrap();
    let (status, error) = error_of(response).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("prompt_required")));
    let response = server.http.get(server.url("/api/datasets/support/export?version=1")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap().lines().count(), 4);
    server.shutdown().await;
}

#[tokio::test]
async fn bad_input_is_refused_and_stores_nothing() {
    let server = TestServer::start(&mock_config(&[], "")).await;
    let broken = format!("{JSONL}{{\"input\": \"cut off\"\n");
    let (status, body) = send(&server, "/api/datasets/support/versions", &json!({"jsonl": broken})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let error = openai_error(&body);
    assert_eq!(error["code"], "invalid_dataset_file");
    assert!(error["message"].as_str().unwrap().starts_with("line 5: not valid JSON"), "{error}");
    let mapped = json!({"jsonl": "{\"q\": \"a\"}\n{\"x\": 1}\n", "input_columns": ["q"]});
    let (_, body) = send(&server, "/api/datasets/support/versions", &mapped).await;
    assert_eq!(openai_error(&body)["message"], "line 2: column 'q' is missing");
    let (status, list) = server.get("/api/datasets").await;
    assert_eq!((status, list["data"].as_array().unwrap().len()), (StatusCode::OK, 0), "nothing was stored");

    for (path, code, status) in [
        ("/api/datasets/nope", "dataset_not_found", StatusCode::NOT_FOUND),
        ("/api/datasets/nope/stats", "dataset_not_found", StatusCode::NOT_FOUND),
        ("/api/datasets/bad%20name", "invalid_dataset_name", StatusCode::BAD_REQUEST),
        ("/api/datasets/nope/versions/0/items", "invalid_parameter", StatusCode::BAD_REQUEST),
        ("/api/datasets/nope/export?format=xml", "invalid_parameter", StatusCode::BAD_REQUEST),
    ] {
        let (got, body) = server.get(path).await;
        assert_eq!((got, openai_error(&body)["code"].as_str()), (status, Some(code)), "{path}: {body}");
    }
    send(&server, "/api/datasets/s/versions", &json!({"jsonl": JSONL})).await;
    let (status, body) = server.get("/api/datasets/s/versions/7/items").await;
    assert_eq!(
        (status, openai_error(&body)["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("dataset_version_not_found"))
    );
    let (status, body) = server.get("/api/datasets/s/versions/1/items?limit=5000").await;
    assert_eq!((status, openai_error(&body)["param"].as_str()), (StatusCode::BAD_REQUEST, Some("limit")));
    for (body, code) in [
        (json!({"steps": []}), "invalid_parameter"),
        (json!({"steps": [{"step": "near_duplicates", "threshold": 2}]}), "invalid_parameter"),
        (json!({"steps": [{"step": "sparkle"}]}), "invalid_request"),
        (json!({"steps": [{"step": "length", "min_chars": 100000}]}), "empty_dataset"),
    ] {
        let (status, answer) = send(&server, "/api/datasets/s/clean", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(openai_error(&answer)["code"].as_str(), Some(code), "{body}: {answer}");
    }
    let (_, details) = server.get("/api/datasets/s").await;
    assert_eq!(details["versions"].as_array().unwrap().len(), 1, "failed cleans stored nothing");
    let (status, body) = send(&server, "/api/datasets/s/versions", &json!({"items": [], "jsonl": "x"})).await;
    assert_eq!((status, openai_error(&body)["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_body")));
    server.shutdown().await;
}

#[tokio::test]
async fn traced_calls_become_a_dataset() {
    let upstream =
        MockUpstream::start(Flavor::OpenAi, vec![Reply::text("Paris.", 5, 2), Reply::text("Berlin.", 5, 2)]).await;
    let config = mock_config(
        &[("up", &upstream)],
        "[[models]]\nname = \"geo\"\ntargets = [{ provider = \"up\", model = \"gpt-x\" }]\n",
    );
    let server = TestServer::start(&config).await;
    let mut ids = Vec::new();
    for question in ["Capital of France?", "Capital of Germany?"] {
        let response = server.chat(&json!({"model": "geo", "messages": user(question)})).await;
        assert_eq!(response.status(), StatusCode::OK);
        ids.push(trace_id(&response));
    }
    for id in &ids {
        server.trace(id).await;
    }
    let (status, outcome) =
        send(&server, "/api/datasets/geo-live/from-traces", &json!({"model": "geo", "status": "ok", "author": "ops"}))
            .await;
    assert_eq!(status, StatusCode::CREATED, "{outcome}");
    assert_eq!((outcome["version"]["items"].as_u64(), outcome["traces_read"].as_u64()), (Some(2), Some(2)));
    let (_, page) = server.get("/api/datasets/geo-live/versions/1/items").await;
    let first = &page["data"][0];
    assert_eq!(first["input"][0]["content"], "Capital of Germany?");
    assert_eq!(first["expected"], "Berlin.");
    assert_eq!(first["metadata"], json!({"trace_id": ids[1], "model": "geo"}));

    let (status, body) = send(&server, "/api/datasets/geo-live/from-traces", &json!({"model": "other"})).await;
    assert_eq!((status, openai_error(&body)["code"].as_str()), (StatusCode::BAD_REQUEST, Some("empty_dataset")));
    let (status, body) = send(&server, "/api/datasets/geo-live/from-traces", &json!({"since": "yesterday"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    server.shutdown().await;
}
