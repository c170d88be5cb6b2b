//! Feedback and human review end to end: real chat calls through the gateway (mock OpenAI
//! upstream), feedback on their traces, summaries by model and by prompt version, a review
//! queue from creation to JSONL export, and the error paths.

use crate::*;

fn two_models(mock: &MockUpstream) -> String {
    mock_config(
        &[("oa", mock)],
        r#"
        [[models]]
        name = "gpt"
        targets = [{ provider = "oa", model = "gpt-4o-mini" }]

        [[models]]
        name = "mini"
        targets = [{ provider = "oa", model = "gpt-4.1-nano" }]
        "#,
    )
}

// Helpers are free functions, not `impl TestServer` methods, so they cannot clash with
// methods other test modules add.

/// Makes a chat call, waits for its trace to be written, returns the trace id.
async fn traced_chat(server: &TestServer, body: &Value) -> String {
    let response = server.chat(body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = trace_id(&response);
    server.trace(&id).await;
    id
}

/// Posts feedback and returns the status with the body.
async fn post_feedback(server: &TestServer, trace: &str, body: &Value) -> (StatusCode, Value) {
    let response = server.post(&format!("/api/traces/{trace}/feedback"), body).await;
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Checks an error response's status, code and param; returns the error object.
async fn expect_error(response: reqwest::Response, status: StatusCode, code: &str, param: Option<&str>) -> Value {
    let (got, error) = error_of(response).await;
    assert_eq!((got, error["code"].as_str(), error["param"].as_str()), (status, Some(code), param), "{error}");
    error
}

/// GETs `path`, checks it answered 200 and returns the body.
async fn get_ok(server: &TestServer, path: String) -> Value {
    let (status, body) = server.get(&path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

/// POSTs an owned body to an owned path (for closures building both).
async fn post_owned(server: &TestServer, path: String, body: Value) -> reqwest::Response {
    server.post(&path, &body).await
}

#[tokio::test]
async fn feedback_on_a_real_call_round_trips() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("Paris.", 8, 2)]).await;
    let server = TestServer::start(&two_models(&mock)).await;
    let trace = traced_chat(&server, &json!({"model": "gpt", "messages": user("Capital of France?")})).await;

    let (status, thumbs) = post_feedback(&server, &trace, &json!({"name": "thumbs", "value": true})).await;
    assert_eq!(status, StatusCode::CREATED, "{thumbs}");
    assert_eq!((thumbs["trace_id"].as_str(), thumbs["value"].clone()), (Some(trace.as_str()), json!(true)));
    assert_eq!(thumbs["author"], "api", "the API records itself when no author is named");
    let (status, rating) = post_feedback(
        &server,
        &trace,
        &json!({"name": "rating", "value": 4, "comment": "short and right", "author": "ana"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rating}");
    let (status, category) = post_feedback(&server, &trace, &json!({"name": "category", "value": "geography"})).await;
    assert_eq!(status, StatusCode::CREATED, "{category}");

    let (status, listed) = server.get(&format!("/api/traces/{trace}/feedback")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["data"], json!([thumbs, rating, category]), "read back as stored, oldest first");
    assert_eq!(listed["data"][1]["value"], json!(4), "a whole rating stays an integer");
    assert_eq!(listed["data"][1]["comment"], "short and right");

    // Error paths.
    let path = format!("/api/traces/{trace}/feedback");
    let cases = [
        (json!({"name": "thumbs", "value": null}), "invalid_request", "value"),
        (json!({"name": "thumbs", "value": {"up": true}}), "invalid_request", "value"),
        (json!({"name": "thumbs", "value": [1]}), "invalid_request", "value"),
        (json!({"name": "thumbs"}), "missing_required_parameter", "value"),
        (json!({"name": "", "value": true}), "invalid_feedback", "name"),
        (json!({"name": "x".repeat(65), "value": true}), "invalid_feedback", "name"),
        (json!({"name": "thumbs", "value": true, "comment": "x".repeat(4097)}), "invalid_feedback", "comment"),
        (json!({"name": "thumbs", "value": ""}), "invalid_feedback", "value"),
        (json!({"name": "thumbs", "value": true, "mood": "happy"}), "invalid_request", "mood"),
    ];
    for (body, code, param) in cases {
        let error = expect_error(server.post(&path, &body).await, StatusCode::BAD_REQUEST, code, Some(param)).await;
        if body["value"].is_null() && body.get("value").is_some() {
            assert!(
                error["message"].as_str().unwrap().contains("expected true, false, a number or a category string"),
                "{error}"
            );
        }
    }
    let ghost = "0190a5c4-1f2e-7000-8000-000000000000";
    let response =
        server.post(&format!("/api/traces/{ghost}/feedback"), &json!({"name": "thumbs", "value": true})).await;
    expect_error(response, StatusCode::NOT_FOUND, "trace_not_found", None).await;
    let (status, body) = server.get(&format!("/api/traces/{ghost}/feedback")).await;
    assert_eq!((status, openai_error(&body)["code"].as_str()), (StatusCode::NOT_FOUND, Some("trace_not_found")));
    let response = server.post("/api/traces/not-a-uuid/feedback", &json!({"name": "thumbs", "value": true})).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_parameter", Some("id")).await;
    // Nothing was stored by the failures.
    let (_, listed) = server.get(&path).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);
    server.shutdown().await;
}

#[tokio::test]
async fn summaries_group_feedback_by_model_and_by_prompt_version() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("ok", 3, 1)]).await;
    let server = TestServer::start(&two_models(&mock)).await;
    let prompt = json!({"name": "support", "model": "gpt", "variables": [{"name": "who"}],
                        "messages": [{"role": "system", "content": "Help {{ who }}."}]});
    assert_eq!(server.post("/api/prompts", &prompt).await.status(), StatusCode::CREATED);
    let vars = json!({"variables": {"who": "Ada"}});
    let support_1 =
        traced_chat(&server, &json!({"model": "prompt:support@1", "messages": user("hi"), "gantry": vars})).await;
    let mut v2 = prompt.clone();
    v2["messages"][0]["content"] = json!("Be brief with {{ who }}.");
    assert_eq!(server.post("/api/prompts", &v2).await.status(), StatusCode::CREATED);
    let support_2 =
        traced_chat(&server, &json!({"model": "prompt:support@2", "messages": user("hi"), "gantry": vars})).await;
    let plain_gpt = traced_chat(&server, &json!({"model": "gpt", "messages": user("hi")})).await;
    let mini = traced_chat(&server, &json!({"model": "mini", "messages": user("hi")})).await;

    for (trace, name, value) in [
        (&support_1, "thumbs", json!(true)),
        (&support_1, "thumbs", json!(false)),
        (&support_1, "rating", json!(5)),
        (&support_2, "thumbs", json!(true)),
        (&plain_gpt, "thumbs", json!(true)),
        (&plain_gpt, "rating", json!(2)),
        (&mini, "thumbs", json!(false)),
        (&mini, "category", json!("billing")),
        (&mini, "category", json!("billing")),
        (&mini, "category", json!("refund")),
    ] {
        let (status, body) = post_feedback(&server, trace, &json!({"name": name, "value": value})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let (status, by_model) = server.get("/api/feedback/summary?group_by=model").await;
    assert_eq!(status, StatusCode::OK, "{by_model}");
    assert_eq!(by_model["group_by"], "model");
    assert_eq!(
        by_model["data"],
        json!([
            {"group": "gpt", "name": "rating", "count": 2, "numeric_count": 2, "mean": 3.5, "categories": {}},
            {"group": "gpt", "name": "thumbs", "count": 4, "numeric_count": 4, "mean": 0.75, "categories": {}},
            {"group": "mini", "name": "category", "count": 3, "numeric_count": 0, "mean": null,
             "categories": {"billing": 2, "refund": 1}},
            {"group": "mini", "name": "thumbs", "count": 1, "numeric_count": 1, "mean": 0.0, "categories": {}},
        ])
    );
    let (_, by_prompt) = server.get("/api/feedback/summary?group_by=prompt&name=thumbs").await;
    let rows: Vec<(Value, Value, Value)> = by_prompt["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["group"].clone(), r["count"].clone(), r["mean"].clone()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (json!("support@1"), json!(2), json!(0.5)),
            (json!("support@2"), json!(1), json!(1.0)),
            (Value::Null, json!(2), json!(0.5)),
        ],
        "{by_prompt}"
    );
    let (_, default) = server.get("/api/feedback/summary").await;
    assert_eq!(default["group_by"], "model", "model is the default grouping");
    let response = server.http.get(server.url("/api/feedback/summary?group_by=provider")).send().await.unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_parameter", Some("group_by")).await;
    server.shutdown().await;
}

fn rubric_queue(name: &str) -> Value {
    json!({
        "name": name,
        "description": "support answers",
        "instructions": "Score every answer.",
        "rubric": {"criteria": [
            {"name": "helpful", "scale": {"type": "numeric", "min": 1, "max": 5}},
            {"name": "correct", "scale": {"type": "boolean"}},
            {"name": "tone", "scale": {"type": "categories", "categories": ["friendly", "neutral", "rude"]}}
        ]}
    })
}

#[tokio::test]
async fn a_review_queue_from_creation_to_dataset_export() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("The answer is 5.", 6, 4)]).await;
    let server = TestServer::start(&two_models(&mock)).await;
    let trace = traced_chat(&server, &json!({"model": "gpt", "messages": user("What is 2+2?")})).await;

    let response = server.post("/api/review/queues", &rubric_queue("answers")).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["counts"], json!({"pending": 0, "claimed": 0, "done": 0}));
    assert_eq!(created["rubric"]["criteria"][0]["scale"], json!({"type": "numeric", "min": 1.0, "max": 5.0}));
    let response = server.post("/api/review/queues", &rubric_queue("answers")).await;
    expect_error(response, StatusCode::CONFLICT, "review_queue_exists", Some("name")).await;

    // Items from a trace, and raw ones.
    let response = server
        .post(
            "/api/review/queues/answers/items",
            &json!({"trace_ids": [trace], "items": [
                {"input": {"question": "Capital of Peru?"}, "output": "Lima", "eval_run_id": "run-1", "eval_item_index": 0},
                {"input": [{"role": "user", "content": "Say hi"}], "output": "Go away."}
            ]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let added: Value = response.json().await.unwrap();
    let items = added["data"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["input"], json!([{"role": "user", "content": "What is 2+2?"}]));
    assert_eq!(
        (items[0]["output"].as_str(), items[0]["trace_id"].as_str()),
        (Some("The answer is 5."), Some(trace.as_str()))
    );
    assert_eq!((items[1]["eval_run_id"].as_str(), items[1]["status"].as_str()), (Some("run-1"), Some("pending")));
    let ids: Vec<String> = items.iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();

    // Claims: oldest first, the same reviewer gets theirs back, none left is {"item": null}.
    let next = |reviewer: &str| get_ok(&server, format!("/api/review/queues/answers/next?reviewer={reviewer}"));
    let ana = next("ana").await;
    assert_eq!((ana["item"]["id"].as_str(), ana["item"]["status"].as_str()), (Some(ids[0].as_str()), Some("claimed")));
    assert_eq!(ana["item"]["claimed_by"], "ana");
    assert_eq!(next("bo").await["item"]["id"], ids[1].as_str());
    assert_eq!(next("ana").await["item"]["id"], ids[0].as_str(), "ana still holds the first item");
    assert_eq!(next("cy").await["item"]["id"], ids[2].as_str());
    assert_eq!(next("dee").await, json!({"item": null}));
    let (_, shown) = server.get("/api/review/queues/answers").await;
    assert_eq!(shown["counts"], json!({"pending": 0, "claimed": 3, "done": 0}));
    assert_eq!(shown["instructions"], "Score every answer.");

    // Submissions.
    let submit =
        |id: &str, body: Value| post_owned(&server, format!("/api/review/queues/answers/items/{id}/review"), body);
    let good = json!({"reviewer": "ana", "scores": {"helpful": 2, "correct": false, "tone": "neutral"},
                      "correction": "The answer is 4.", "comment": "arithmetic"});
    let mut as_bo = good.clone();
    as_bo["reviewer"] = json!("bo");
    let error = expect_error(submit(&ids[0], as_bo).await, StatusCode::CONFLICT, "item_claimed", None).await;
    assert!(error["message"].as_str().unwrap().contains("claimed by ana until"), "{error}");
    for (scores, param, message) in [
        (
            json!({"helpful": 6, "correct": false, "tone": "neutral"}),
            "scores.helpful",
            "must be a whole number from 1 to 5, got 6",
        ),
        (json!({"helpful": 2, "tone": "neutral"}), "scores.correct", "missing a score for 'correct'"),
        (
            json!({"helpful": 2, "correct": false, "tone": "grumpy"}),
            "scores.tone",
            "must be one of friendly, neutral, rude",
        ),
        (json!({"helpful": 2, "correct": false, "tone": "neutral", "length": 3}), "scores.length", "not a criterion"),
    ] {
        let mut body = good.clone();
        body["scores"] = scores;
        let error =
            expect_error(submit(&ids[0], body).await, StatusCode::BAD_REQUEST, "invalid_scores", Some(param)).await;
        assert!(error["message"].as_str().unwrap().contains(message), "{error}");
    }
    let response = submit(&ids[0], good.clone()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let reviewed: Value = response.json().await.unwrap();
    assert_eq!(
        (reviewed["item"]["status"].as_str(), reviewed["review"]["reviewer"].as_str()),
        (Some("done"), Some("ana"))
    );
    assert_eq!(reviewed["review"]["scores"], json!({"correct": false, "helpful": 2, "tone": "neutral"}));
    expect_error(submit(&ids[0], good.clone()).await, StatusCode::CONFLICT, "item_already_reviewed", None).await;
    let bo_review = json!({"reviewer": "bo", "scores": {"helpful": 5, "correct": true, "tone": "friendly"}});
    assert_eq!(submit(&ids[1], bo_review).await.status(), StatusCode::CREATED);
    let ghost_item = "0190a5c4-1f2e-7000-8000-000000000000";
    expect_error(submit(ghost_item, good.clone()).await, StatusCode::NOT_FOUND, "review_item_not_found", None).await;
    expect_error(submit("nope", good.clone()).await, StatusCode::BAD_REQUEST, "invalid_parameter", Some("id")).await;
    let (_, shown) = server.get("/api/review/queues/answers").await;
    assert_eq!(shown["counts"], json!({"pending": 0, "claimed": 1, "done": 2}));

    // The export is dataset JSONL: the correction wins, else the reviewed output.
    let response = server.http.get(server.url("/api/review/queues/answers/export")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    let lines: Vec<gantry_types::DatasetItem> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0].expected, Some(json!("The answer is 4.")));
    assert_eq!(lines[0].metadata["scores"], json!({"correct": false, "helpful": 2, "tone": "neutral"}));
    assert_eq!(lines[0].metadata["reviewer"], "ana");
    assert_eq!(lines[0].metadata["trace_id"], trace.as_str());
    assert_eq!(lines[0].metadata["comment"], "arithmetic");
    assert_eq!(serde_json::to_value(&lines[1].input).unwrap(), json!({"question": "Capital of Peru?"}));
    assert_eq!(
        (lines[1].expected.clone(), lines[1].metadata["eval_run_id"].clone()),
        (Some(json!("Lima")), json!("run-1"))
    );

    let (status, listed) = server.get("/api/review/queues").await;
    assert_eq!((status, listed["data"][0]["name"].as_str()), (StatusCode::OK, Some("answers")));
    server.shutdown().await;
}

#[tokio::test]
async fn review_requests_that_cannot_work_are_refused_clearly() {
    let server = TestServer::start(&mock_config(&[], "")).await;
    let mut bad = rubric_queue("q");
    bad["rubric"]["criteria"][0]["scale"] = json!({"type": "numeric", "min": 5, "max": 1});
    let response = server.post("/api/review/queues", &bad).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_rubric", Some("rubric.criteria[0].scale")).await;
    let mut bad = rubric_queue("q");
    bad["rubric"]["criteria"] = json!([]);
    let response = server.post("/api/review/queues", &bad).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_rubric", Some("rubric.criteria")).await;
    let mut bad = rubric_queue("q");
    bad["rubric"]["criteria"][1]["scale"] = json!({"type": "stars"});
    let response = server.post("/api/review/queues", &bad).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request", Some("rubric.criteria[1].scale.type")).await;
    let response = server.post("/api/review/queues", &rubric_queue("bad name")).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_queue_name", Some("name")).await;

    let (status, body) = server.get("/api/review/queues/ghost").await;
    assert_eq!((status, openai_error(&body)["code"].as_str()), (StatusCode::NOT_FOUND, Some("review_queue_not_found")));
    let response = server.post("/api/review/queues/ghost/items", &json!({"trace_ids": []})).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_review_items", Some("trace_ids")).await;
    let response =
        server.post("/api/review/queues/ghost/items", &json!({"items": [{"input": {}, "output": "x"}]})).await;
    expect_error(response, StatusCode::NOT_FOUND, "review_queue_not_found", Some("name")).await;

    assert_eq!(server.post("/api/review/queues", &rubric_queue("q")).await.status(), StatusCode::CREATED);
    let ghost = "0190a5c4-1f2e-7000-8000-000000000000";
    let response = server.post("/api/review/queues/q/items", &json!({"trace_ids": [ghost]})).await;
    expect_error(response, StatusCode::NOT_FOUND, "trace_not_found", Some("trace_ids[0]")).await;
    let response = server.post("/api/review/queues/q/items", &json!({"trace_ids": ["x"]})).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_parameter", Some("trace_ids[0]")).await;
    let response =
        server.post("/api/review/queues/q/items", &json!({"items": [{"input": "text", "output": "x"}]})).await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request", Some("items[0].input")).await;
    let (_, shown) = server.get("/api/review/queues/q").await;
    assert_eq!(shown["counts"], json!({"pending": 0, "claimed": 0, "done": 0}), "failed adds stored nothing");

    let response = server.http.get(server.url("/api/review/queues/q/next")).send().await.unwrap();
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_review", Some("reviewer")).await;
    let response = server.http.get(server.url("/api/review/queues/ghost/next?reviewer=ana")).send().await.unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "review_queue_not_found", Some("name")).await;
    let response = server.http.get(server.url("/api/review/queues/ghost/export")).send().await.unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "review_queue_not_found", Some("name")).await;
    let response = server.http.get(server.url("/api/review/queues/q/export")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "", "nothing reviewed, nothing exported");
    server.shutdown().await;
}
