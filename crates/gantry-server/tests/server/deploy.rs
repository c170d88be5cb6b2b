//! `/api/deployments` and routes on `/v1`: a route answers with its current release, a canary
//! takes a sticky share, each trace records route, release and arm; promote fully, roll back,
//! and the refusals.

use crate::*;

fn config(mock: &MockUpstream) -> String {
    mock_config(
        &[("oa", mock)],
        "[[models]]\nname = \"gpt\"\ntargets = [{ provider = \"oa\", model = \"gpt-4o-mini\" }]\n\
         [[models]]\nname = \"gpt-big\"\ntargets = [{ provider = \"oa\", model = \"gpt-4o\" }]\n",
    )
}

async fn push(server: &TestServer, system: &str) {
    let prompt = json!({"name": "support", "model": "gpt", "messages": [{"role": "system", "content": system}]});
    let response = server.post("/api/prompts", &prompt).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// A support question to the `support-bot` route in `session`.
pub(crate) async fn ask(server: &TestServer, session: &str) -> reqwest::Response {
    let body = json!({"model": "support-bot", "messages": user("Where is my parcel?")});
    server
        .http
        .post(server.url("/v1/chat/completions"))
        .header("x-gantry-session-id", session)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_route_runs_its_release_and_a_canary_takes_a_sticky_share() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("On its way.", 9, 3)]).await;
    let server = TestServer::start(&config(&mock)).await;
    push(&server, "You are support v1.").await;
    push(&server, "You are support v2.").await;

    let response = server.post("/api/deployments/support-bot/promote", &json!({"target": "prompt:support@1"})).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let promoted: Value = response.json().await.unwrap();
    assert_eq!(
        (promoted["release"]["number"].as_u64(), promoted["deployment"]["current"].as_u64()),
        (Some(1), Some(1))
    );

    let response = ask(&server, "s-1").await;
    assert_eq!(response.status(), StatusCode::OK);
    let trace = server.trace(&trace_id(&response)).await;
    assert_eq!(mock.requests().last().unwrap().body["messages"][0]["content"], "You are support v1.");
    assert_eq!(
        trace["deployment"],
        json!({"route": "support-bot", "environment": "production", "release": 1, "variant": "stable"})
    );
    assert_eq!(trace["prompt"]["version"], 1);

    // Release 2 on the bigger model as a 50% canary: each session sticks to one arm.
    let canary = json!({"target": "prompt:support@2", "model": "gpt-big", "canary": 50});
    let response = server.post("/api/deployments/support-bot/promote", &canary).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let mut arms = std::collections::HashMap::new();
    for i in 0..40 {
        let session = format!("user-{i}");
        let mut seen = Vec::new();
        for _ in 0..2 {
            let response = ask(&server, &session).await;
            assert_eq!(response.status(), StatusCode::OK);
            let sent = mock.requests().last().unwrap().body.clone();
            seen.push((
                sent["model"].as_str().unwrap().to_string(),
                sent["messages"][0]["content"].as_str().unwrap().to_string(),
            ));
        }
        assert_eq!(seen[0], seen[1], "session {session} changed arms");
        *arms.entry(seen[0].clone()).or_insert(0) += 1;
    }
    assert_eq!(arms.len(), 2, "{arms:?}");
    assert!(arms[&("gpt-4o".to_string(), "You are support v2.".to_string())] >= 8, "{arms:?}");
    assert!(arms[&("gpt-4o-mini".to_string(), "You are support v1.".to_string())] >= 8, "{arms:?}");

    // A second canary while one runs is refused.
    let (status, body) = error_of(server.post("/api/deployments/support-bot/promote", &canary).await).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("canary_running")));

    let response = server.post("/api/deployments/support-bot/promote-full", &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let response = ask(&server, "anyone").await;
    let trace = server.trace(&trace_id(&response)).await;
    assert_eq!(
        (trace["deployment"]["release"].as_u64(), trace["deployment"]["variant"].as_str()),
        (Some(2), Some("stable"))
    );

    // One step back to release 1.
    let response = server.post("/api/deployments/support-bot/rollback", &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let rolled: Value = response.json().await.unwrap();
    assert_eq!(rolled["current"], 1);
    ask(&server, "anyone").await;
    assert_eq!(mock.requests().last().unwrap().body["messages"][0]["content"], "You are support v1.");
    let (status, body) = error_of(server.post("/api/deployments/support-bot/rollback", &json!({})).await).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("nothing_to_roll_back_to")));

    let (status, list) = server.get("/api/deployments").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["data"][0]["current_release"]["target"], "prompt:support@1");
    let (_, history) = server.get("/api/deployments/support-bot/history?environment=production").await;
    let actions: Vec<&str> =
        history["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["rollback", "promote_full", "canary", "promote"]);
    assert_eq!(history["releases"].as_array().unwrap().len(), 2);
    server.shutdown().await;
}

#[tokio::test]
async fn environments_are_apart_and_bad_promotions_say_why() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("ok", 1, 1)]).await;
    let server = TestServer::start(&config(&mock)).await;
    push(&server, "v1").await;
    let staging = json!({"target": "model:gpt-big", "environment": "staging"});
    assert_eq!(server.post("/api/deployments/support-bot/promote", &staging).await.status(), StatusCode::CREATED);
    // Production has no release of the route: the error says where it is deployed.
    let (status, body) = error_of(ask(&server, "s").await).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("model_not_found")));
    assert!(body["message"].as_str().unwrap().contains("not deployed in production; it is in staging"), "{body}");
    let response = server
        .http
        .post(server.url("/v1/chat/completions"))
        .header("x-gantry-environment", "staging")
        .json(&json!({"model": "support-bot", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(mock.requests().last().unwrap().body["model"], "gpt-4o");

    for (body, status, code, param) in [
        (json!({"target": "prompt:support@9"}), StatusCode::NOT_FOUND, "target_not_found", Some("target")),
        (json!({"target": "prompt:support@latest"}), StatusCode::BAD_REQUEST, "invalid_target", Some("target")),
        (json!({"target": "model:nope"}), StatusCode::NOT_FOUND, "target_not_found", Some("target")),
        (
            json!({"target": "prompt:support@1", "model": "nope"}),
            StatusCode::NOT_FOUND,
            "model_not_found",
            Some("model"),
        ),
        (json!({"target": "prompt:support@1", "canary": 20}), StatusCode::CONFLICT, "not_deployed", None),
        (
            json!({"target": "prompt:support@1", "canary": 120}),
            StatusCode::BAD_REQUEST,
            "invalid_parameter",
            Some("canary"),
        ),
    ] {
        let (got, error) = error_of(server.post("/api/deployments/support-bot/promote", &body).await).await;
        assert_eq!(
            (got, error["code"].as_str(), error["param"].as_str()),
            (status, Some(code), param),
            "{body}: {error}"
        );
    }
    let (status, error) =
        error_of(server.post("/api/deployments/gpt/promote", &json!({"target": "prompt:support@1"})).await).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::BAD_REQUEST, Some("route_shadows_model")));
    let (status, error) = error_of(server.post("/api/deployments/nope/rollback", &json!({})).await).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_deployed")));
    server.shutdown().await;
}
