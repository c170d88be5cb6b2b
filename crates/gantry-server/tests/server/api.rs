//! Error bodies, model and health endpoints, the trace API.

use crate::*;

#[tokio::test]
async fn bad_requests_get_openai_errors_naming_the_parameter() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("unused", 1, 1)]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [[models]]
        name = "gpt"
        targets = [{ provider = "oa", model = "gpt-4o" }]

        [[models]]
        name = "embed"
        kind = "embeddings"
        targets = [{ provider = "oa", model = "text-embedding-3-small" }]
        "#,
    ))
    .await;
    let raw = |body: &'static str| {
        server
            .http
            .post(server.url("/v1/chat/completions"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };

    let (status, error) = error_of(raw(r#"{"model": "gpt", "messages": ["#).await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")), "{error}");
    assert_eq!(error["type"], "invalid_request_error");
    let (status, error) = error_of(raw("").await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_json")), "{error}");

    let (status, error) = error_of(raw(r#"{"model":"x"}"#).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(error["message"].as_str().unwrap().contains("messages"), "{error}");

    let cases = [
        (json!({"model": "gpt", "messages": []}), "messages"),
        (json!({"model": "gpt", "messages": [{"role": "wizard", "content": "abracadabra"}]}), "messages[0].role"),
        (json!({"model": "gpt", "messages": user("hi"), "temperature": 5}), "temperature"),
        (json!({"model": "gpt", "messages": user("hi"), "n": 2}), "n"),
        (json!({"model": "gpt", "messages": user("hi"), "top_p": 1.5}), "top_p"),
        (json!({"model": "gpt", "messages": user("hi"), "max_tokens": 0}), "max_tokens"),
        (json!({"model": "gpt", "messages": user("hi"), "stream_options": {"include_usage": true}}), "stream_options"),
        (json!({"model": "gpt", "messages": [{"role": "tool", "content": "42"}]}), "messages[0].tool_call_id"),
    ];
    for (body, param) in cases {
        let (status, error) = error_of(server.chat(&body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(error["type"], "invalid_request_error", "{body}: {error}");
        assert_eq!(error["param"], param, "{body}: {error}");
    }
    let (status, error) = error_of(server.post("/v1/embeddings", &json!({"model": "embed", "input": ""})).await).await;
    assert_eq!((status, error["param"].as_str()), (StatusCode::BAD_REQUEST, Some("input")), "{error}");

    // An unknown model is a 404, and traced.
    let response = server.chat(&json!({"model": "gpt-17", "messages": user("hi")})).await;
    let id = trace_id(&response);
    let (status, error) = error_of(response).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["code"], "model_not_found");
    assert_eq!(error["param"], "model");
    assert!(error["message"].as_str().unwrap().contains("gpt-17"));
    let trace = server.trace(&id).await;
    assert_eq!(trace["status"], "error");
    assert_eq!(trace["http_status"], 404);
    assert_eq!(trace["requested_model"], "gpt-17");
    assert_eq!(trace["error"]["code"], "model_not_found");
    assert_eq!(trace["attempts"], json!([]));

    // The wrong kind of model, either way round.
    let (status, error) = error_of(server.chat(&json!({"model": "embed", "messages": user("hi")})).await).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("wrong_model_kind")), "{error}");
    let (status, error) = error_of(server.post("/v1/embeddings", &json!({"model": "gpt", "input": "hi"})).await).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("wrong_model_kind")), "{error}");

    // Wrong method and unknown path.
    let (status, error) = error_of(server.http.get(server.url("/v1/chat/completions")).send().await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")),
        "{error}"
    );
    let (status, error) = error_of(server.http.get(server.url("/v1/nothing/here")).send().await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::NOT_FOUND, Some("unknown_url")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("/v1/nothing/here"));

    assert_eq!(mock.request_count(), 0, "no bad request reached the upstream");
    server.shutdown().await;
}

#[tokio::test]
async fn models_and_health_endpoints() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("unused", 1, 1)]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [[models]]
        name = "gpt"
        targets = [{ provider = "oa", model = "gpt-4o" }]

        [[models]]
        name = "embed"
        kind = "embeddings"
        targets = [{ provider = "oa", model = "text-embedding-3-small" }]
        "#,
    ))
    .await;
    let (status, list) = server.get("/v1/models").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["object"], "list");
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["gpt", "embed"]);
    for model in list["data"].as_array().unwrap() {
        assert_eq!(model["object"], "model");
        assert_eq!(model["owned_by"], "oa");
        assert!(model["created"].as_i64().unwrap() > 1_600_000_000);
    }
    let (status, model) = server.get("/v1/models/embed").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(model["id"], "embed");
    let (status, body) = server.get("/v1/models/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(openai_error(&body)["code"], "model_not_found");

    let (status, body) = server.get("/healthz").await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ok")));
    let (status, body) = server.get("/readyz").await;
    assert_eq!((status, &body["status"]), (StatusCode::OK, &json!("ready")), "{body}");
    server.shutdown().await;
}

#[tokio::test]
async fn trace_list_filters_and_rejects_bad_parameters() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("ok", 2, 1)]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        r#"
        [[models]]
        name = "a"
        targets = [{ provider = "oa", model = "up-a" }]

        [[models]]
        name = "b"
        targets = [{ provider = "oa", model = "up-b" }]
        "#,
    ))
    .await;
    // Oldest first: a ok, b ok, a error (bad temperature), a ok.
    let mut ids = Vec::new();
    for (model, temperature) in [("a", 1.0), ("b", 1.0), ("a", 5.0), ("a", 1.0)] {
        let response = server.chat(&json!({"model": model, "messages": user("hi"), "temperature": temperature})).await;
        ids.push(trace_id(&response));
    }
    let mut started = Vec::new();
    for id in &ids {
        started.push(server.trace(id).await["started_at"].as_str().unwrap().to_string());
    }
    let newest_first = |picks: &[usize]| picks.iter().map(|&i| ids[i].clone()).collect::<Vec<_>>();
    let list = |query: Vec<(&'static str, String)>| {
        let request = server.http.get(server.url("/api/traces")).query(&query);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }
    };
    let listed = |body: &Value| -> Vec<String> {
        assert_eq!(body["object"], "list");
        body["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()).collect()
    };

    let (status, body) = list(vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(&body), newest_first(&[3, 2, 1, 0]));
    assert_eq!(listed(&list(vec![("limit", "2".into())]).await.1), newest_first(&[3, 2]));
    assert_eq!(listed(&list(vec![("model", "a".into())]).await.1), newest_first(&[3, 2, 0]));
    assert_eq!(listed(&list(vec![("model", "b".into())]).await.1), newest_first(&[1]));
    assert_eq!(listed(&list(vec![("model", "zzz".into())]).await.1), Vec::<String>::new());
    assert_eq!(listed(&list(vec![("status", "error".into())]).await.1), newest_first(&[2]));
    assert_eq!(listed(&list(vec![("status", "cancelled".into())]).await.1), Vec::<String>::new());
    assert_eq!(listed(&list(vec![("model", "a".into()), ("status", "ok".into())]).await.1), newest_first(&[3, 0]));
    assert_eq!(listed(&list(vec![("since", started[1].clone())]).await.1), newest_first(&[3, 2, 1]));
    assert_eq!(listed(&list(vec![("since", started[1].clone()), ("limit", "1".into())]).await.1), newest_first(&[3]));
    assert_eq!(listed(&list(vec![("since", "0".into())]).await.1).len(), 4);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).timestamp().to_string();
    assert_eq!(listed(&list(vec![("since", tomorrow)]).await.1), Vec::<String>::new());

    for (name, value) in
        [("status", "bogus"), ("limit", "0"), ("limit", "-3"), ("limit", "100000"), ("since", "yesterday")]
    {
        let (status, body) = list(vec![(name, value.to_string())]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}={value}: {body}");
        assert_eq!(openai_error(&body)["param"], name, "{body}");
    }
    let (status, body) = server.get("/api/traces/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(openai_error(&body)["param"], "id");
    let (status, body) = server.get("/api/traces/0190a5c4-1f2e-7000-8000-000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(openai_error(&body)["code"], "trace_not_found");
    server.shutdown().await;
}

#[tokio::test]
async fn the_openapi_document_describes_exactly_the_routes_served() {
    let server = TestServer::start(&mock_config(&[], "")).await;
    let response = server.http.get(server.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let mut documented: Vec<String> = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path}");
            assert!(operation["responses"].get("default").is_some(), "{method} {path} documents its errors");
            documented.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    // The route table, read from its source: `.route("PATH", get(..).post(..))`.
    let table = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/router.rs")).unwrap();
    let mut served: Vec<String> = Vec::new();
    for line in table.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
        let path = line.split('"').nth(1).unwrap();
        // The web UI's pages are HTML for people, not part of the API the document describes.
        if path == "/" || path.starts_with("/ui/") {
            continue;
        }
        for method in ["get", "post", "put", "delete", "patch"] {
            if line.contains(&format!("{method}(")) {
                served.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    documented.sort();
    served.sort();
    assert!(served.len() > 20, "{served:?}");
    assert_eq!(documented, served);
}
