//! The prompt registry end to end: push through `/api/prompts`, chat through `prompt:NAME`
//! with a mock OpenAI upstream (asserting what the upstream received), traces carrying the
//! prompt and the output check, management reads, label moves, diffs, renders, error paths.

use crate::*;

fn gpt_config(mock: &MockUpstream) -> String {
    mock_config(
        &[("oa", mock)],
        r#"
        [[models]]
        name = "gpt"
        targets = [{ provider = "oa", model = "gpt-4o-mini" }]
        "#,
    )
}

fn support_prompt() -> Value {
    json!({
        "name": "support",
        "model": "gpt",
        "parameters": {"temperature": 0.2, "max_tokens": 50, "seed": 7},
        "variables": [{"name": "customer"}, {"name": "tier", "default": "free"},
                      {"name": "orders", "type": "integer", "required": false}],
        "messages": [{"role": "system",
                      "content": "You help {{ customer }} ({{ tier }}).{% if orders %} Orders: {{ orders }}.{% endif %}"}],
        "message": "first version",
        "author": "ana"
    })
}

impl TestServer {
    async fn put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http.put(self.url(path)).json(body).send().await.unwrap()
    }

    /// Pushes a prompt and checks it was created.
    async fn push_prompt(&self, body: &Value) -> Value {
        let response = self.post("/api/prompts", body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    async fn label(&self, name: &str, label: &str, version: u32) {
        let response = self.put(&format!("/api/prompts/{name}/labels/{label}"), &json!({"version": version})).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn chat_through_a_prompt_renders_it_and_traces_the_version() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("Hello Ada", 10, 3)]).await;
    let server = TestServer::start(&gpt_config(&mock)).await;

    let pushed = server.push_prompt(&support_prompt()).await;
    assert_eq!(pushed["created"], true);
    assert_eq!(pushed["version"]["version"], 1);
    assert_eq!(pushed["version"]["author"], "ana");
    assert_eq!(pushed["version"]["message"], "first version");
    assert!(pushed["version"]["content_hash"].as_str().unwrap().starts_with("sha256:"));
    // The same content again creates nothing.
    let response = server.post("/api/prompts", &support_prompt()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let again: Value = response.json().await.unwrap();
    assert_eq!((again["created"].clone(), again["version"]["version"].clone()), (json!(false), json!(1)));
    server.label("support", "production", 1).await;

    let body = json!({
        "model": "prompt:support",
        "messages": [{"role": "user", "content": "Where is my parcel?"}],
        "temperature": 0.9,
        "gantry": {"variables": {"customer": "Ada", "orders": 2}}
    });
    let response = server.chat(&body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = trace_id(&response);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["choices"][0]["message"]["content"], "Hello Ada");

    let sent = &mock.requests()[0].body;
    assert_eq!(sent["model"], "gpt-4o-mini", "the prompt's model was called");
    assert_eq!(
        sent["messages"],
        json!([{"role": "system", "content": "You help Ada (free). Orders: 2."},
               {"role": "user", "content": "Where is my parcel?"}]),
        "rendered messages first, then the client's"
    );
    assert_eq!(sent["temperature"], 0.9, "the client's temperature wins");
    assert_eq!((sent["max_tokens"].clone(), sent["seed"].clone()), (json!(50), json!(7)), "the prompt fills the rest");
    assert!(sent.get("gantry").is_none(), "the gantry field is never forwarded: {sent}");

    let trace = server.trace(&id).await;
    assert_eq!(trace["status"], "ok");
    assert_eq!(trace["requested_model"], "gpt");
    assert_eq!(
        trace["prompt"],
        json!({"name": "support", "version": 1, "label": "production",
               "variables": {"customer": "Ada", "tier": "free", "orders": 2}})
    );
    assert_eq!(trace["output_check"], Value::Null, "no output schema, no check");
    assert_eq!(trace["request"]["messages"][0]["content"], "You help Ada (free). Orders: 2.");
    assert!(trace["request"].get("gantry").is_none());

    // A version number and the `latest` label select too; a plain model ignores `gantry`.
    let mut v2 = support_prompt();
    v2["messages"][0]["content"] = json!("Hi {{ customer }}!");
    v2["variables"] = json!([{"name": "customer"}]);
    server.push_prompt(&v2).await;
    for (model, version, label, system) in [
        ("prompt:support@1", 1, Value::Null, "You help Bo (free)."),
        ("prompt:support@latest", 2, json!("latest"), "Hi Bo!"),
        ("prompt:support@production", 1, json!("production"), "You help Bo (free)."),
    ] {
        let response =
            server.chat(&json!({"model": model, "messages": [], "gantry": {"variables": {"customer": "Bo"}}})).await;
        assert_eq!(response.status(), StatusCode::OK, "{model}");
        let trace = server.trace(&trace_id(&response)).await;
        assert_eq!((trace["prompt"]["version"].clone(), trace["prompt"]["label"].clone()), (json!(version), label));
        let sent = mock.requests().last().unwrap().body.clone();
        assert_eq!(sent["messages"], json!([{"role": "system", "content": system}]), "{model}");
    }
    let response =
        server.chat(&json!({"model": "gpt", "messages": user("hi"), "gantry": {"variables": {"x": 1}}})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let sent = mock.requests().last().unwrap().body.clone();
    assert!(sent.get("gantry").is_none(), "stripped for plain models too: {sent}");
    let plain = trace_id(&response);
    assert_eq!(server.trace(&plain).await["prompt"], Value::Null);

    // Traces can be listed by the prompt that produced them.
    let (status, listed) = server.get("/api/traces?prompt=support&limit=100").await;
    assert_eq!(status, StatusCode::OK);
    let listed = listed["data"].as_array().unwrap();
    assert_eq!(listed.len(), 4, "the first call and the three above");
    assert!(listed.iter().all(|t| t["prompt"]["name"] == "support" && t["id"] != plain.as_str()));
    let (_, none) = server.get("/api/traces?prompt=nope").await;
    assert_eq!(none["data"], json!([]));
    server.shutdown().await;
}

#[tokio::test]
async fn streamed_chat_through_a_prompt() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("Streaming to Ada", 8, 3)]).await;
    let server = TestServer::start(&gpt_config(&mock)).await;
    server.push_prompt(&support_prompt()).await;
    server.label("support", "production", 1).await;
    let response = server
        .chat(&json!({"model": "prompt:support", "messages": user("Hi"), "stream": true,
                      "stream_options": {"include_usage": true},
                      "gantry": {"variables": {"customer": "Ada", "tier": "pro"}}}))
        .await;
    let id = trace_id(&response);
    let chunks = stream_chunks(response).await;
    assert_eq!(joined_text(&chunks), "Streaming to Ada");
    assert!(chunks.last().is_some_and(has_usage));
    let sent = &mock.requests()[0].body;
    assert_eq!(sent["stream"], true);
    assert_eq!(sent["messages"][0]["content"], "You help Ada (pro).");
    assert_eq!(sent["messages"][1]["content"], "Hi");
    assert!(sent.get("gantry").is_none());
    let trace = server.trace(&id).await;
    assert_eq!(trace["stream"], true);
    assert_eq!(trace["prompt"]["version"], 1);
    assert_eq!(trace["prompt"]["variables"], json!({"customer": "Ada", "tier": "pro", "orders": null}));
    assert_eq!(trace["response"]["content"], "Streaming to Ada");
    server.shutdown().await;
}

#[tokio::test]
async fn answers_are_validated_against_the_output_schema() {
    let mock = MockUpstream::start(
        Flavor::OpenAi,
        vec![
            Reply::text(r#"{"category": "billing", "urgent": true}"#, 5, 5),
            Reply::text("It is about billing.", 5, 5),
            Reply::text(r#"{"category": "weather", "urgent": true}"#, 5, 5),
        ],
    )
    .await;
    let server = TestServer::start(&gpt_config(&mock)).await;
    server
        .push_prompt(&json!({
            "name": "classify", "model": "gpt",
            "variables": {"ticket": {}},
            "messages": [{"role": "user", "content": "Classify: {{ ticket }}"}],
            "output_schema": {"type": "object", "required": ["category", "urgent"],
                              "properties": {"category": {"enum": ["billing", "shipping"]},
                                             "urgent": {"type": "boolean"}}}
        }))
        .await;
    let ask = |stream: bool| {
        json!({"model": "prompt:classify@latest", "messages": [], "stream": stream,
               "gantry": {"variables": {"ticket": "I was charged twice"}}})
    };
    let response = server.chat(&ask(false)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let trace = server.trace(&trace_id(&response)).await;
    assert_eq!(trace["output_check"], json!({"valid": true, "error": null}));

    let response = server.chat(&ask(false)).await;
    assert_eq!(response.status(), StatusCode::OK, "the client still gets an invalid answer");
    let id = trace_id(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], "It is about billing.");
    let check = server.trace(&id).await["output_check"].clone();
    assert_eq!(check["valid"], false);
    assert!(check["error"].as_str().unwrap().starts_with("the answer is not JSON"), "{check}");

    let response = server.chat(&ask(true)).await;
    let id = trace_id(&response);
    assert_eq!(joined_text(&stream_chunks(response).await), r#"{"category": "weather", "urgent": true}"#);
    let check = server.trace(&id).await["output_check"].clone();
    assert_eq!(check["valid"], false);
    assert!(check["error"].as_str().unwrap().contains("/category"), "names where it failed: {check}");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_prompt_calls_are_clear_errors_and_never_reach_the_upstream() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("unused", 1, 1)]).await;
    let server = TestServer::start(&gpt_config(&mock)).await;
    server.push_prompt(&support_prompt()).await;
    server.label("support", "production", 1).await;
    let mut no_model = support_prompt();
    no_model["name"] = json!("modelless");
    no_model.as_object_mut().unwrap().remove("model");
    server.push_prompt(&no_model).await;

    let vars = |v: Value| json!({"variables": v});
    let cases = [
        ("prompt:ghost", json!(null), 404, "prompt_not_found", "model"),
        ("prompt:support@staging", json!(null), 404, "prompt_not_found", "model"),
        ("prompt:support@9", json!(null), 404, "prompt_not_found", "model"),
        ("prompt:modelless", json!(null), 404, "prompt_not_found", "model"),
        ("prompt:bad name", json!(null), 400, "invalid_reference", "model"),
        ("prompt:support", vars(json!({})), 400, "missing_variable", "gantry.variables.customer"),
        (
            "prompt:support",
            vars(json!({"customer": "A", "colour": "red"})),
            400,
            "unknown_variable",
            "gantry.variables.colour",
        ),
        (
            "prompt:support",
            vars(json!({"customer": "A", "orders": "two"})),
            400,
            "variable_type_mismatch",
            "gantry.variables.orders",
        ),
        ("prompt:support", vars(json!(["A"])), 400, "invalid_variables", "gantry.variables"),
        ("prompt:support", json!("A"), 400, "invalid_gantry_field", "gantry"),
        ("prompt:support", json!({"varibles": {}}), 400, "invalid_gantry_field", "gantry.varibles"),
        ("prompt:modelless@1", vars(json!({"customer": "A"})), 400, "prompt_model_missing", ""),
    ];
    for (model, gantry, status, code, param) in cases {
        let response = server.chat(&json!({"model": model, "messages": user("hi"), "gantry": gantry})).await;
        let id = trace_id(&response);
        let (got, error) = error_of(response).await;
        assert_eq!((got.as_u16(), error["code"].as_str()), (status, Some(code)), "{model} {gantry}: {error}");
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(error["param"].as_str().unwrap_or(""), param, "{model} {gantry}: {error}");
        let trace = server.trace(&id).await;
        assert_eq!((trace["status"].clone(), trace["http_status"].clone()), (json!("error"), json!(status)));
        assert_eq!(trace["error"]["code"], code);
    }
    let (_, error) = error_of(
        server.chat(&json!({"model": "prompt:support", "messages": [], "gantry": vars(json!({"customer": 5}))})).await,
    )
    .await;
    assert_eq!(error["message"], "variable 'customer' must be string, got integer");
    let (_, error) = error_of(server.chat(&json!({"model": "prompt:support@staging", "messages": []})).await).await;
    assert!(error["message"].as_str().unwrap().contains("its labels: latest, production"), "{error}");
    assert_eq!(mock.request_count(), 0, "no bad prompt call reached the upstream");
    server.shutdown().await;
}

#[tokio::test]
async fn the_management_api_reads_moves_diffs_and_renders() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("unused", 1, 1)]).await;
    let server = TestServer::start(&gpt_config(&mock)).await;
    server.push_prompt(&support_prompt()).await;
    let mut v2 = support_prompt();
    v2["parameters"]["temperature"] = json!(0.7);
    v2["messages"][0]["content"] = json!("You help {{ customer }}, a {{ tier }} customer.");
    v2["message"] = json!("friendlier");
    v2.as_object_mut().unwrap().remove("author");
    let pushed = server.push_prompt(&v2).await;
    assert_eq!(pushed["version"]["author"], "api", "the API's default author");
    let moved: Value = server
        .put("/api/prompts/support/labels/production", &json!({"version": 1, "author": "bo"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            moved["moved"].clone(),
            moved["previous_version"].clone(),
            moved["version"].clone(),
            moved["moved_by"].clone()
        ),
        (json!(true), Value::Null, json!(1), json!("bo"))
    );
    let moved: Value =
        server.put("/api/prompts/support/labels/production", &json!({"version": 2})).await.json().await.unwrap();
    assert_eq!((moved["previous_version"].clone(), moved["moved_by"].clone()), (json!(1), json!("api")));
    let same: Value =
        server.put("/api/prompts/support/labels/production", &json!({"version": 2})).await.json().await.unwrap();
    assert_eq!(same["moved"], false);

    let (status, list) = server.get("/api/prompts").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"][0]["name"], "support");
    assert_eq!(list["data"][0]["latest_version"], 2);
    let labels: Vec<(&str, u64)> = list["data"][0]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["label"].as_str().unwrap(), l["version"].as_u64().unwrap()))
        .collect();
    assert_eq!(labels, vec![("latest", 2), ("production", 2)]);

    let (status, details) = server.get("/api/prompts/support").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(details["versions"].as_array().unwrap().len(), 2);
    assert_eq!(details["versions"][1]["message"], "friendlier");
    assert_eq!(details["versions"][1]["labels"], json!(["latest", "production"]));
    let history: Vec<String> = details["label_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{} {}->{} by {}",
                m["label"].as_str().unwrap(),
                m["from_version"],
                m["to_version"],
                m["moved_by"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        history,
        ["latest null->1 by ana", "latest 1->2 by api", "production null->1 by bo", "production 1->2 by api"]
    );
    assert_eq!(details["latest"]["version"], 2);

    let (status, v1) = server.get("/api/prompts/support/versions/1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v1["parameters"]["temperature"], 0.2);
    assert_eq!(v1["variables"][1], json!({"name": "tier", "type": "string", "required": false, "default": "free"}));
    let (status, label) = server.get("/api/prompts/support/labels/production").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((label["version"].clone(), label["prompt"]["version"].clone()), (json!(2), json!(2)));

    let (status, diff) = server.get("/api/prompts/support/diff?from=1&to=production").await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    assert_eq!(diff["changed"], json!(["parameters.temperature", "messages[0].content"]));
    let text = diff["diff"].as_str().unwrap();
    assert!(text.starts_with("--- support@1\n+++ support@2\n"), "{text}");
    assert!(text.contains("-  temperature = 0.2\n+  temperature = 0.7\n"), "{text}");

    let response = server.post("/api/prompts/support/render", &json!({"variables": {"customer": "Cy"}})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let rendered: Value = response.json().await.unwrap();
    assert_eq!(rendered["version"], 2, "no selector means production");
    assert_eq!(rendered["label"], "production");
    assert_eq!(rendered["messages"], json!([{"role": "system", "content": "You help Cy, a free customer."}]));
    assert_eq!(rendered["variables"], json!({"customer": "Cy", "tier": "free", "orders": null}));
    let response = server
        .post("/api/prompts/support/render", &json!({"version": 1, "variables": {"customer": "Cy", "orders": 3}}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let rendered: Value = response.json().await.unwrap();
    assert_eq!(rendered["messages"][0]["content"], "You help Cy (free). Orders: 3.");
    assert_eq!(mock.request_count(), 0, "rendering calls no model");
    server.shutdown().await;
}

#[tokio::test]
async fn bad_management_requests_get_openai_errors() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("unused", 1, 1)]).await;
    let server = TestServer::start(&gpt_config(&mock)).await;
    server.push_prompt(&support_prompt()).await;

    let with = |path: &str, value: Value| {
        let mut body = support_prompt();
        let mut target = &mut body;
        let parts: Vec<&str> = path.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            target = match part.parse::<usize>() {
                Ok(i) => &mut target[i],
                Err(_) => &mut target[*part],
            };
        }
        target[parts[parts.len() - 1]] = value;
        body
    };
    let cases = [
        (with("name", json!("bad name")), 400, "invalid_name", "name"),
        (with("messages.0.content", json!("Hi {{ customer }")), 400, "template_syntax_error", "messages[0].content"),
        (with("messages.0.content", json!("Hi {{ customr }}")), 400, "undeclared_variable", "messages[0].content"),
        (with("messages.0.role", json!("wizard")), 400, "invalid_request", "messages[0].role"),
        (with("variables.0.type", json!("text")), 400, "invalid_request", "variables[0].type"),
        (with("variables.1.default", json!(3)), 400, "invalid_variable_declaration", "variables.tier"),
        (with("parameters.temperature", json!(9)), 400, "invalid_parameter", "parameters.temperature"),
        (with("output_schema", json!({"type": "nonsense"})), 400, "invalid_output_schema", "output_schema"),
        (with("surprise", json!(1)), 400, "invalid_request", "surprise"),
        (json!({"messages": []}), 400, "missing_required_parameter", "name"),
    ];
    for (body, status, code, param) in cases {
        let (got, error) = error_of(server.post("/api/prompts", &body).await).await;
        assert_eq!((got.as_u16(), error["code"].as_str()), (status, Some(code)), "{body}: {error}");
        assert_eq!(error["param"].as_str().unwrap_or(""), param, "{body}: {error}");
    }
    let (_, error) =
        error_of(server.post("/api/prompts", &with("messages.0.content", json!("a\nb {{ x }"))).await).await;
    assert!(error["message"].as_str().unwrap().contains("at line 2, column"), "{error}");

    let gets = [
        ("/api/prompts/ghost", 404, "prompt_not_found", ""),
        ("/api/prompts/bad%20name", 400, "invalid_name", "name"),
        ("/api/prompts/support/versions/9", 404, "prompt_not_found", ""),
        ("/api/prompts/support/versions/abc", 400, "invalid_parameter", "version"),
        ("/api/prompts/support/labels/staging", 404, "prompt_not_found", ""),
        ("/api/prompts/support/labels/9x", 400, "invalid_label", "label"),
        ("/api/prompts/support/diff?from=1", 400, "missing_required_parameter", "to"),
        ("/api/prompts/support/diff?from=1&to=5", 404, "prompt_not_found", ""),
    ];
    for (path, status, code, param) in gets {
        let (got, body) = server.get(path).await;
        let error = openai_error(&body);
        assert_eq!((got.as_u16(), error["code"].as_str()), (status, Some(code)), "{path}: {error}");
        assert_eq!(error["param"].as_str().unwrap_or(""), param, "{path}: {error}");
    }
    let puts = [
        ("/api/prompts/support/labels/latest", json!({"version": 1}), 400, "reserved_label"),
        ("/api/prompts/support/labels/production", json!({"version": 9}), 404, "prompt_not_found"),
        ("/api/prompts/ghost/labels/production", json!({"version": 1}), 404, "prompt_not_found"),
        ("/api/prompts/support/labels/production", json!({}), 400, "missing_required_parameter"),
        ("/api/prompts/support/labels/production", json!({"version": "one"}), 400, "invalid_request"),
    ];
    for (path, body, status, code) in puts {
        let (got, error) = error_of(server.put(path, &body).await).await;
        assert_eq!((got.as_u16(), error["code"].as_str()), (status, Some(code)), "{path} {body}: {error}");
    }
    let renders = [
        (json!({"variables": {"customer": "A"}}), 404, "prompt_not_found"),
        (json!({"version": 1}), 400, "missing_variable"),
        (json!({"version": 1, "label": "latest"}), 400, "invalid_request"),
        (json!({"label": "x y"}), 400, "invalid_label"),
        (json!({"version": 1, "variables": {"customer": "A", "orders": 1.5}}), 400, "variable_type_mismatch"),
    ];
    for (body, status, code) in renders {
        let (got, error) = error_of(server.post("/api/prompts/support/render", &body).await).await;
        assert_eq!((got.as_u16(), error["code"].as_str()), (status, Some(code)), "{body}: {error}");
    }
    // Nothing that was refused changed what is stored.
    let (_, details) = server.get("/api/prompts/support").await;
    assert_eq!(details["versions"].as_array().unwrap().len(), 1);
    assert_eq!(details["labels"].as_array().unwrap().len(), 1, "only latest");
    server.shutdown().await;
}
