//! API keys end to end: the route/role matrix walked from the route table, revocation, rate
//! limits, a budget under concurrent requests, and the audit log.

use crate::*;
use gantry_server::Roles;
use gantry_types::KeyRole;
use reqwest::Method;

impl TestServer {
    /// Sends `method path` with `key` (and a `{}` body for methods that take one).
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut request = self.http.request(method, self.url(path));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.unwrap()
    }

    /// The trace `id` read with `key`, polled until the writer has committed it.
    pub(crate) async fn trace_as(&self, key: &str, id: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let response = self.send(Method::GET, &format!("/api/traces/{id}"), Some(key), None).await;
            if response.status() == StatusCode::OK {
                return response.json().await.unwrap();
            }
            assert_eq!(response.status(), StatusCode::NOT_FOUND);
            assert!(Instant::now() < deadline, "trace {id} was not written within {WAIT:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Creates a key through the API (with `admin`, or without a key while none exists).
    pub(crate) async fn create_key(&self, admin: Option<&str>, body: Value) -> (String, String) {
        let response = self.send(Method::POST, "/api/keys", admin, Some(&body)).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let created: Value = response.json().await.unwrap();
        assert!(created.get("secret_sha256").is_none() && created.get("hash").is_none(), "{created}");
        (created["id"].as_str().unwrap().to_string(), created["secret"].as_str().unwrap().to_string())
    }
}

fn role_key(role: KeyRole) -> Value {
    json!({"name": format!("{role}-key"), "role": role.as_str()})
}

/// A concrete path for a route pattern: every `{param}` becomes `x`.
fn concrete(pattern: &str) -> String {
    pattern.split('/').map(|part| if part.starts_with('{') { "x" } else { part }).collect::<Vec<_>>().join("/")
}

#[tokio::test]
async fn every_route_admits_exactly_the_roles_the_table_names() {
    let server = TestServer::start(&mock_config(&[], "")).await;
    // No key yet: loopback clients are served without one.
    let (status, _) = server.get("/api/traces").await;
    assert_eq!(status, StatusCode::OK);
    let (_, admin) = server.create_key(None, role_key(KeyRole::Admin)).await;
    let mut keys = vec![(KeyRole::Admin, admin.clone())];
    for role in [KeyRole::Developer, KeyRole::Reviewer, KeyRole::App, KeyRole::Viewer] {
        keys.push((role, server.create_key(Some(&admin), role_key(role)).await.1));
    }

    let routes = gantry_server::route_access();
    assert!(routes.len() > 50, "{}", routes.len());
    let mut refusals = 0;
    for route in &routes {
        let path = concrete(route.path);
        let body = (route.method != Method::GET && route.method != Method::DELETE).then(|| json!({}));
        let what = format!("{} {}", route.method, route.path);
        let anonymous = server.send(route.method.clone(), &path, None, body.as_ref()).await;
        if route.roles == Roles::Public {
            let status = anonymous.status();
            assert!(status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN, "{what} is public");
            continue;
        }
        if route.path == "/" || route.path.starts_with("/ui/") {
            // A page sends a browser without a key to the login (the redirect is followed here).
            assert_eq!((anonymous.status(), anonymous.url().path()), (StatusCode::OK, "/ui/login"), "{what}");
        } else {
            let (status, error) = error_of(anonymous).await;
            assert_eq!((status, error["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")), "{what}");
            assert_eq!(error["type"], "invalid_request_error", "{what}");
        }
        for (role, key) in &keys {
            let response = server.send(route.method.clone(), &path, Some(key), body.as_ref()).await;
            let status = response.status();
            if route.roles.admits(*role) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{what} admits {role}, got {status}: {}",
                    response.text().await.unwrap()
                );
            } else {
                let (status, error) = error_of(response).await;
                assert_eq!(status, StatusCode::FORBIDDEN, "{what} refuses {role}");
                assert_eq!(error["code"], "insufficient_role", "{what}");
                assert!(error["message"].as_str().unwrap().contains(role.as_str()), "{error}");
                refusals += 1;
            }
        }
    }
    // The table is not trivially open: applications and viewers are refused most of /api.
    assert!(refusals > 80, "{refusals}");
    // Every role reaches /v1/models, only admins the keys.
    let admits = |method: Method, path: &str| {
        let route = routes.iter().find(|r| r.method == method && r.path == path).unwrap();
        KeyRole::ALL.into_iter().filter(|r| route.roles.admits(*r)).collect::<Vec<_>>()
    };
    assert_eq!(admits(Method::GET, "/v1/models"), KeyRole::ALL.to_vec());
    assert_eq!(admits(Method::POST, "/api/keys"), vec![KeyRole::Admin]);
    assert_eq!(admits(Method::POST, "/v1/chat/completions"), vec![KeyRole::Admin, KeyRole::Developer, KeyRole::App]);
    assert_eq!(
        admits(Method::POST, "/api/traces/{id}/feedback"),
        vec![KeyRole::Admin, KeyRole::Developer, KeyRole::Reviewer, KeyRole::App]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn keys_are_listed_without_secrets_revoked_at_once_and_audited() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("hi", 3, 1)]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        "[[models]]\nname = \"gpt\"\ntargets = [{ provider = \"oa\", model = \"gpt-up\" }]\n\
         [[models]]\nname = \"other\"\ntargets = [{ provider = \"oa\", model = \"other-up\" }]\n",
    ))
    .await;
    // Before any key exists, a local client's placeholder key (OpenAI SDKs always send one) is
    // no reason to refuse it.
    let chat = json!({"model": "gpt", "messages": user("hello")});
    let response = server.send(Method::POST, "/v1/chat/completions", Some("unused"), Some(&chat)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let (admin_id, admin) = server.create_key(None, role_key(KeyRole::Admin)).await;
    // Once one exists, the placeholder is refused.
    let response = server.send(Method::POST, "/v1/chat/completions", Some("unused"), Some(&chat)).await;
    assert_eq!(error_of(response).await.0, StatusCode::UNAUTHORIZED);
    let (app_id, app) =
        server.create_key(Some(&admin), json!({"name": "shop", "role": "app", "models": ["gpt"], "rpm": 100})).await;
    assert!(app.starts_with("gk-") && app.len() == 46, "{app}");

    // Both headers carry a key; a wrong or malformed one is 401.
    let chat = json!({"model": "gpt", "messages": user("hello")});
    let response = server.send(Method::POST, "/v1/chat/completions", Some(&app), Some(&chat)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let traced = server.trace_as(&admin, &trace_id(&response)).await;
    assert_eq!(traced["api_key_id"], app_id.as_str(), "{traced}");
    // A stream is traced under the key too.
    let streamed = json!({"model": "gpt", "stream": true, "messages": user("hello")});
    let response = server.send(Method::POST, "/v1/chat/completions", Some(&app), Some(&streamed)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let id = trace_id(&response);
    assert!(response.text().await.unwrap().ends_with("data: [DONE]\n\n"));
    let traced = server.trace_as(&admin, &id).await;
    assert_eq!((traced["api_key_id"].as_str(), traced["stream"].as_bool()), (Some(app_id.as_str()), Some(true)));
    let response = server
        .http
        .post(server.url("/v1/chat/completions"))
        .header("x-api-key", &app)
        .json(&chat)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    for header in [format!("Bearer {app}x"), "Basic abc".to_string(), "Bearer".to_string()] {
        let response =
            server.http.get(server.url("/v1/models")).header("authorization", header.as_str()).send().await.unwrap();
        let (status, error) = error_of(response).await;
        assert_eq!((status, error["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")), "{header}");
    }

    // The model allow-list: other models are 403 and hidden from the list.
    let other = json!({"model": "other", "messages": user("hello")});
    let (status, error) =
        error_of(server.send(Method::POST, "/v1/chat/completions", Some(&app), Some(&other)).await).await;
    assert_eq!(
        (status, error["code"].as_str(), error["param"].as_str()),
        (StatusCode::FORBIDDEN, Some("model_not_allowed"), Some("model"))
    );
    let models: Value = server.send(Method::GET, "/v1/models", Some(&app), None).await.json().await.unwrap();
    assert_eq!(models["data"].as_array().unwrap().len(), 1, "{models}");
    assert_eq!(models["data"][0]["id"], "gpt");

    let response = server.send(Method::GET, "/api/keys", Some(&admin), None).await;
    let text = response.text().await.unwrap();
    assert!(!text.contains(&app) && !text.contains(&admin), "no secret is ever listed: {text}");
    let listed: Value = serde_json::from_str(&text).unwrap();
    let listed = listed["data"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[1]["id"].as_str(), listed[1]["role"].as_str()), (Some(app_id.as_str()), Some("app")));
    assert_eq!(listed[1]["prefix"].as_str().unwrap(), &app[..9]);
    assert_eq!(listed[1]["rpm"], 100);

    let response = server.send(Method::DELETE, &format!("/api/keys/{app_id}"), Some(&admin), None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let revoked: Value = response.json().await.unwrap();
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let (status, error) =
        error_of(server.send(Method::POST, "/v1/chat/completions", Some(&app), Some(&chat)).await).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_api_key")));
    assert!(error["message"].as_str().unwrap().contains("revoked"), "{error}");
    let (status, error) = error_of(server.send(Method::DELETE, "/api/keys/nope", Some(&admin), None).await).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::NOT_FOUND, Some("key_not_found")));
    // Keys exist: a loopback client without one is refused now.
    let (status, _) = server.get("/api/traces").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let audit: Value = server.send(Method::GET, "/api/audit", Some(&admin), None).await.json().await.unwrap();
    let entries = audit["data"].as_array().unwrap();
    let summary: Vec<(String, String, String, u64)> = entries
        .iter()
        .map(|e| {
            let s = |f: &str| e[f].as_str().unwrap().to_string();
            (s("actor"), s("method"), s("path"), e["status"].as_u64().unwrap())
        })
        .collect();
    let revoke_path = format!("/api/keys/{app_id}");
    // Newest first: the failed revoke, the revoke, the app key, the admin key (made before any key).
    assert_eq!(
        summary,
        vec![
            (admin_id.clone(), "DELETE".into(), "/api/keys/nope".into(), 404),
            (admin_id.clone(), "DELETE".into(), revoke_path, 200),
            (admin_id.clone(), "POST".into(), "/api/keys".into(), 201),
            ("local".into(), "POST".into(), "/api/keys".into(), 201),
        ]
    );
    assert_eq!(entries[1]["resource_ids"], json!([format!("id={app_id}")]));
    assert_eq!(entries[2]["resource_ids"], json!([format!("id={app_id}")]));
    assert_eq!(entries[3]["resource_ids"], json!([format!("id={admin_id}")]));
    let limited: Value = server.send(Method::GET, "/api/audit?limit=1", Some(&admin), None).await.json().await.unwrap();
    assert_eq!(limited["data"].as_array().unwrap().len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn requests_per_minute_are_refused_with_retry_after() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("hi", 3, 1)]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        "[[models]]\nname = \"gpt\"\ntargets = [{ provider = \"oa\", model = \"gpt-up\" }]\n",
    ))
    .await;
    let (_, admin) = server.create_key(None, role_key(KeyRole::Admin)).await;
    let (_, app) = server.create_key(Some(&admin), json!({"name": "slow", "role": "app", "rpm": 2})).await;
    let chat = json!({"model": "gpt", "messages": user("hello")});
    for _ in 0..2 {
        let response = server.send(Method::POST, "/v1/chat/completions", Some(&app), Some(&chat)).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let response = server.send(Method::POST, "/v1/chat/completions", Some(&app), Some(&chat)).await;
    // One request comes back every 30 s at 2 a minute.
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((29..=30).contains(&retry_after), "{retry_after}");
    let (status, error) = error_of(response).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limit_exceeded")));
    assert_eq!(error["type"], "rate_limit_error");
    assert_eq!(mock.request_count(), 2, "a refused call never reaches the upstream");
    // Other keys have their own limits.
    let response = server.send(Method::POST, "/v1/chat/completions", Some(&admin), Some(&chat)).await;
    assert_eq!(response.status(), StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn concurrent_requests_overspend_a_budget_by_at_most_one_request() {
    // Every call costs 100 prompt + 50 completion tokens at $100/Mtok: $0.015.
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("fine", 100, 50).delayed(300)]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        "[[models]]\nname = \"gpt\"\ntargets = [{ provider = \"oa\", model = \"gpt-up\" }]\n\
         [prices.\"gpt-up\"]\ninput_per_mtok = 100.0\noutput_per_mtok = 100.0\n",
    ))
    .await;
    let (_, admin) = server.create_key(None, role_key(KeyRole::Admin)).await;
    let budget = json!({"name": "capped", "role": "app", "budget": {"usd": 0.05, "period": "day"}});
    let (key_id, app) = server.create_key(Some(&admin), budget).await;
    // About 430 characters of messages: an estimate of at least the 100 prompt tokens used.
    let chat = json!({"model": "gpt", "max_tokens": 50, "messages": user(&"word ".repeat(80))});
    let cost_per_call = 150.0 * 100.0 / 1e6;

    let mut succeeded: u32 = 0;
    for _round in 0..3 {
        let calls = (0..20).map(|_| server.send(Method::POST, "/v1/chat/completions", Some(&app), Some(&chat)));
        for response in futures::future::join_all(calls).await {
            match response.status() {
                StatusCode::OK => succeeded += 1,
                StatusCode::TOO_MANY_REQUESTS => {
                    assert!(response.headers().contains_key("retry-after"));
                    let (_, error) = error_of(response).await;
                    assert_eq!(
                        (error["type"].as_str(), error["code"].as_str()),
                        (Some("insufficient_quota"), Some("budget_exceeded"))
                    );
                }
                other => panic!("unexpected {other}: {}", response.text().await.unwrap()),
            }
        }
    }
    let spent = f64::from(succeeded) * cost_per_call;
    assert!(spent <= 0.05 + cost_per_call + 1e-9, "{succeeded} calls spent ${spent}");
    assert!(spent >= 0.05 - cost_per_call, "the budget is used, not just refused: {succeeded} calls");
    assert_eq!(mock.request_count(), succeeded as usize);

    // Spent: refused until the day ends, also once every trace is in the store.
    let (status, error) =
        error_of(server.send(Method::POST, "/v1/chat/completions", Some(&app), Some(&chat)).await).await;
    assert_eq!((status, error["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("budget_exceeded")));
    assert!(error["message"].as_str().unwrap().contains("used its budget"), "{error}");
    // The store holds every call under the key, with the same spend.
    let deadline = Instant::now() + WAIT;
    let recorded: Vec<f64> = loop {
        let traces: Value =
            server.send(Method::GET, "/api/traces?limit=100", Some(&admin), None).await.json().await.unwrap();
        let costs: Vec<f64> = traces["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["api_key_id"] == key_id.as_str())
            .map(|t| t["cost_usd"].as_f64().unwrap())
            .collect();
        if costs.len() == succeeded as usize || Instant::now() > deadline {
            break costs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(recorded.len(), succeeded as usize);
    assert!((recorded.iter().sum::<f64>() - spent).abs() < 1e-9, "{recorded:?}");
    server.shutdown().await;
}
