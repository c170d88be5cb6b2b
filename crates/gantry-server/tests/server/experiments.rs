//! Live canary watching and A/B experiments through the running server: a canary whose error
//! rate crosses its bound is stopped by the watcher by itself; `/compare` shows the arms with
//! intervals and tests; an adaptive experiment moves traffic toward the variant users like,
//! and stopping it with a winner makes that variant current.

use crate::deploy::ask;
use crate::*;

/// `gpt` answers; `gpt-bad` always fails (500, no retries); the watcher runs every 100 ms.
fn config(good: &MockUpstream, bad: &MockUpstream) -> String {
    mock_config(
        &[("oa", good), ("broken", bad)],
        "[routing]\nretries = 0\n\n[deploy]\nwatch_interval_ms = 100\n\n\
         [[models]]\nname = \"gpt\"\ntargets = [{ provider = \"oa\", model = \"gpt-4o-mini\" }]\n\
         [[models]]\nname = \"gpt-big\"\ntargets = [{ provider = \"oa\", model = \"gpt-4o\" }]\n\
         [[models]]\nname = \"gpt-bad\"\ntargets = [{ provider = \"broken\", model = \"gpt-4o-broken\" }]\n",
    )
}

/// The route's deployment, polled until `done` holds for it.
async fn wait_for_deployment(server: &TestServer, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, list) = server.get("/api/deployments?route=support-bot").await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let deployment = list["data"][0].clone();
        if done(&deployment) {
            return deployment;
        }
        assert!(Instant::now() < deadline, "the deployment did not change in time: {deployment}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_canary_over_its_error_bound_is_stopped_by_the_watcher_and_compare_shows_why() {
    let good = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("On its way.", 9, 3)]).await;
    let bad = MockUpstream::start(Flavor::OpenAi, vec![Reply::error(500, "upstream exploded")]).await;
    let server = TestServer::start(&config(&good, &bad)).await;
    let api = &server;
    let promote = |body: Value| async move { api.post("/api/deployments/support-bot/promote", &body).await };
    assert_eq!(promote(json!({"target": "model:gpt"})).await.status(), StatusCode::CREATED);

    // Bounds are checked before anything is stored.
    let (status, body) =
        error_of(promote(json!({"target": "model:gpt-bad", "canary": 50, "guard": {"max_error_rate": 1.5}})).await)
            .await;
    assert_eq!((status, body["param"].as_str()), (StatusCode::BAD_REQUEST, Some("guard")));

    let (status, body) = error_of(promote(json!({"target": "model:gpt", "canary": 10})).await).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("same_as_current")));
    let canary = json!({"target": "model:gpt-bad", "canary": 50, "guard": {"max_error_rate": 0.2, "min_requests": 10}});
    assert_eq!(promote(canary).await.status(), StatusCode::CREATED);
    let mut failed = 0;
    let mut trace_ids = Vec::new();
    for i in 0..40 {
        let response = ask(&server, &format!("user-{i}")).await;
        failed += usize::from(response.status() == StatusCode::BAD_GATEWAY);
        trace_ids.push(trace_id(&response));
    }
    assert!(failed >= 10, "the canary arm got {failed} of 40 requests");
    for id in &trace_ids {
        server.trace(id).await;
    }

    let deployment = wait_for_deployment(&server, |d| d["canary"].is_null()).await;
    assert_eq!((deployment["current"].as_u64(), deployment["updated_by"].as_str()), (Some(1), Some("gantry-watch")));
    let (_, history) = server.get("/api/deployments/support-bot/history?environment=production").await;
    let last = &history["data"][0];
    assert_eq!((last["action"].as_str(), last["actor"].as_str()), (Some("abort_canary"), Some("gantry-watch")));
    // The watcher acts as soon as ten canary requests have failed, maybe before all 40 are in.
    let reason = last["reason"].as_str().unwrap();
    assert!(reason.starts_with("error rate 100.0% (") && reason.ends_with("crossed the bound 20.0%"), "{reason}");
    // Everyone is back on the stable release.
    for i in 0..10 {
        assert_eq!(ask(&server, &format!("user-{i}")).await.status(), StatusCode::OK);
    }

    let since = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let url = format!("/api/deployments/support-bot/compare?since={}", since.replace('+', "%2B"));
    let (status, comparison) = server.get(&url).await;
    assert_eq!(status, StatusCode::OK, "{comparison}");
    assert_eq!(comparison["baseline"], "1/stable");
    let arms = comparison["arms"].as_array().unwrap();
    let canary = arms.iter().find(|a| a["variant"] == "canary").unwrap();
    let stable = arms.iter().find(|a| a["variant"] == "stable").unwrap();
    assert_eq!(canary["requests"].as_u64(), Some(failed as u64));
    assert_eq!(canary["error_rate"]["value"], 1.0);
    assert!(canary["error_rate"]["low"].as_f64().unwrap() > 0.6, "{canary}");
    assert_eq!(stable["error_rate"]["value"], 0.0);
    assert!(stable.get("vs_baseline").is_none());
    let test = &canary["vs_baseline"]["error_rate"];
    assert_eq!(test["significant"], true, "{test}");
    assert!(test["p_value"].as_f64().unwrap() < 1e-6, "{test}");

    // The same on the UI: the route's row, then its arms (since the last day: the canary is
    // over) and the watcher's entry in the history.
    let (status, html) = crate::ui::page(&server, "/ui/deployments").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(r#"<a href="/ui/deployments/support-bot?environment=production">support-bot</a>"#), "{html}");
    let (status, html) = crate::ui::page(&server, "/ui/deployments/support-bot").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Baseline: 1&#x2f;stable"), "{html}");
    let arms = &html[html.find(r#"id="arms""#).unwrap()..html.find(r#"id="history""#).unwrap()];
    assert!(
        arms.contains("#2 canary") && arms.contains("100.00%") && arms.contains(r#"<span class="badge">p=0"#),
        "{arms}"
    );
    assert!(html[html.find(r#"id="history""#).unwrap()..].contains("gantry-watch"), "{html}");
    let (status, _) = crate::ui::page(&server, "/ui/deployments/nowhere").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bad query strings and bodies get OpenAI-shaped errors too.
    let bad_limit = server.http.get(server.url("/api/deployments/support-bot/history?limit=abc")).send();
    let (status, body) = error_of(bad_limit.await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_parameter")));
    let (status, _) =
        error_of(server.post("/api/deployments/support-bot/abort-canary", &json!({"reason": 5})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let bad_since = server.http.get(server.url("/api/deployments/support-bot/compare?since=yesterday")).send();
    let (status, body) = error_of(bad_since.await.unwrap()).await;
    assert_eq!((status, body["param"].as_str()), (StatusCode::BAD_REQUEST, Some("since")));
    server.shutdown().await;
}

#[tokio::test]
async fn an_adaptive_experiment_moves_traffic_to_the_liked_variant_and_stops_with_a_winner() {
    let good = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("On its way.", 9, 3)]).await;
    let bad = MockUpstream::start(Flavor::OpenAi, vec![Reply::error(500, "unused")]).await;
    let server = TestServer::start(&config(&good, &bad)).await;
    assert_eq!(
        server.post("/api/deployments/support-bot/promote", &json!({"target": "model:gpt"})).await.status(),
        StatusCode::CREATED
    );
    for (body, code) in [
        (json!({"variants": [{"name": "a", "target": "current"}]}), "invalid_parameter"),
        (
            json!({"variants": [{"name": "a", "target": "current"}, {"name": "a", "target": "model:gpt-big"}]}),
            "invalid_parameter",
        ),
        (
            json!({"variants": [{"name": "a", "target": "current"}, {"name": "b", "target": "release:9"}]}),
            "release_not_found",
        ),
        (json!({"variants": [{"name": "a", "target": "current"}, {"name": "b", "target": "bogus"}]}), "invalid_target"),
    ] {
        let (_, error) = error_of(server.post("/api/deployments/support-bot/experiment", &body).await).await;
        assert_eq!(error["code"].as_str(), Some(code), "{body} -> {error}");
    }

    let experiment = json!({
        "variants": [{"name": "control", "target": "current"}, {"name": "big", "target": "model:gpt-big"}],
        "adaptive": {"metric": "thumbs", "min_samples": 5, "min_weight": 0.1}
    });
    let response = server.post("/api/deployments/support-bot/experiment", &experiment).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let started: Value = response.json().await.unwrap();
    assert_eq!(started["experiment"]["variants"][1]["release"], 2);
    // A canary cannot start while the experiment runs.
    let (status, body) = error_of(
        server.post("/api/deployments/support-bot/promote", &json!({"target": "model:gpt-big", "canary": 10})).await,
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("experiment_running")));

    // Users like the big model's answers and not control's.
    let mut per_variant = std::collections::HashMap::new();
    for i in 0..40 {
        let response = ask(&server, &format!("user-{i}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let trace = server.trace(&trace_id(&response)).await;
        let variant = trace["deployment"]["variant"].as_str().unwrap().to_string();
        let liked = variant == "big";
        let feedback = json!({"name": "thumbs", "value": liked});
        let path = format!("/api/traces/{}/feedback", trace["id"].as_str().unwrap());
        assert_eq!(server.post(&path, &feedback).await.status(), StatusCode::CREATED);
        *per_variant.entry(variant).or_insert(0) += 1;
    }
    assert!(per_variant["control"] >= 5 && per_variant["big"] >= 5, "{per_variant:?}");

    let deployment =
        wait_for_deployment(&server, |d| d["experiment"]["variants"][1]["weight"].as_f64().is_some_and(|w| w > 0.85))
            .await;
    let control_weight = deployment["experiment"]["variants"][0]["weight"].as_f64().unwrap();
    assert!((control_weight - 0.1).abs() < 0.02, "control keeps its floor: {deployment}");
    let (_, history) = server.get("/api/deployments/support-bot/history?environment=production").await;
    let reweight = history["data"].as_array().unwrap().iter().find(|e| e["action"] == "reweight").unwrap();
    assert!(reweight["reason"].as_str().unwrap().starts_with("Thompson sampling on thumbs"), "{reweight}");

    let (status, comparison) = server.get("/api/deployments/support-bot/compare").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(comparison["baseline"], "1/control");
    let big = comparison["arms"].as_array().unwrap().iter().find(|a| a["variant"] == "big").unwrap();
    assert_eq!(big["scores"]["thumbs"]["value"], 1.0);
    assert_eq!(big["vs_baseline"]["scores"]["thumbs"]["significant"], true, "{big}");

    let (status, body) =
        error_of(server.post("/api/deployments/support-bot/experiment/stop", &json!({"winner": "nobody"})).await).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_parameter")));
    let response = server.post("/api/deployments/support-bot/experiment/stop", &json!({"winner": "big"})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let stopped: Value = response.json().await.unwrap();
    assert_eq!((stopped["current"].as_u64(), stopped.get("experiment")), (Some(2), None));
    ask(&server, "anyone").await;
    assert_eq!(good.requests().last().unwrap().body["model"], "gpt-4o");
    // The winner came in like a promotion: one step back returns to release 1.
    let response = server.post("/api/deployments/support-bot/rollback", &json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = error_of(server.post("/api/deployments/support-bot/experiment/stop", &json!({})).await).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("no_experiment")));
    server.shutdown().await;
}

#[tokio::test]
async fn a_key_of_an_environment_runs_its_calls_there_and_may_not_ask_for_another() {
    let good = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("ok", 1, 1)]).await;
    let bad = MockUpstream::start(Flavor::OpenAi, vec![Reply::error(500, "unused")]).await;
    let server = TestServer::start(&config(&good, &bad)).await;
    let (_, admin) = server.create_key(None, json!({"name": "admin", "role": "admin"})).await;
    let (_, staging) =
        server.create_key(Some(&admin), json!({"name": "ci", "role": "app", "environment": "staging"})).await;
    let response = server
        .send(
            reqwest::Method::POST,
            "/api/keys",
            Some(&admin),
            Some(&json!({"name": "x", "role": "app", "environment": "no way"})),
        )
        .await;
    let (status, body) = error_of(response).await;
    assert_eq!((status, body["param"].as_str()), (StatusCode::BAD_REQUEST, Some("environment")));
    for (environment, target) in [("production", "model:gpt"), ("staging", "model:gpt-big")] {
        let body = json!({"target": target, "environment": environment});
        let response =
            server.send(reqwest::Method::POST, "/api/deployments/support-bot/promote", Some(&admin), Some(&body)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let chat = json!({"model": "support-bot", "messages": user("hi")});
    let call = |key: &str, header: Option<&str>| {
        let mut request = server.http.post(server.url("/v1/chat/completions")).bearer_auth(key).json(&chat);
        if let Some(environment) = header {
            request = request.header("x-gantry-environment", environment);
        }
        request.send()
    };
    // The staging key lands in staging without saying so, and on the header's agreement.
    for header in [None, Some("staging")] {
        let response = call(&staging, header).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(good.requests().last().unwrap().body["model"], "gpt-4o");
        let trace = server.trace_as(&admin, &trace_id(&response)).await;
        assert_eq!(trace["deployment"]["environment"], "staging");
    }
    let (status, body) = error_of(call(&staging, Some("production")).await.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("environment_not_allowed")));
    // A key without an environment follows the header, else production.
    assert_eq!(call(&admin, None).await.unwrap().status(), StatusCode::OK);
    assert_eq!(good.requests().last().unwrap().body["model"], "gpt-4o-mini");
    server.shutdown().await;
}
