//! The web UI over HTTP: every page renders real stored values, bad ids get an HTML error
//! page with the right status, the key cookie signs a browser in, pages redirect to the login
//! once keys exist. `browser.rs` drives the same pages in headless Chromium.

use crate::evals::SUITE;
use crate::*;
use gantry_evals::runs::{Baseline, Evaluation, NoProgress, Suite};

/// What `seed` stored, for the pages to show.
pub(crate) struct Seeded {
    pub trace: String,
    pub run_a: String,
    pub run_b: String,
}

/// The model every seeded call goes to.
pub(crate) fn ui_config(mock: &MockUpstream) -> String {
    mock_config(
        &[("oa", mock)],
        "[[models]]\nname = \"gpt\"\ntargets = [{ provider = \"oa\", model = \"gpt-4o-mini\" }]\n\
         [prices.\"gpt-4o-mini\"]\ninput_per_mtok = 0.15\noutput_per_mtok = 0.6\n\
         [[objectives]]\nname = \"answers fast\"\nmetric = \"latency_p95_ms\"\ntarget = 5000\nwindow = \"1h\"\n\
         [[objectives]]\nname = \"no errors\"\nmetric = \"error_rate\"\ntarget = 0\nwindow = \"1h\"\nmodel = \"nope\"\n",
    )
}

/// A chat call, a prompt with two versions, a dataset with two eval runs over it, review
/// queues and feedback: something on every page.
pub(crate) async fn seed(server: &TestServer, mock: &MockUpstream) -> Seeded {
    mock.set_script(vec![Reply::text("Paris is the capital of France.", 14, 8)]);
    let response = server
        .chat(&json!({"model": "gpt", "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of France?"}]}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let trace = trace_id(&response);
    server.trace(&trace).await;
    let feedback = json!({"name": "quality", "value": 4, "comment": "correct and short"});
    assert_eq!(server.post(&format!("/api/traces/{trace}/feedback"), &feedback).await.status(), StatusCode::CREATED);

    let mut prompt = json!({
        "name": "greet", "model": "gpt", "variables": [{"name": "who"}],
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello to {{ who }}."}],
        "message": "first", "author": "ana"
    });
    assert_eq!(server.post("/api/prompts", &prompt).await.status(), StatusCode::CREATED);
    prompt["messages"][0]["content"] = json!("Be brief and warm.");
    prompt["message"] = json!("warmer");
    assert_eq!(server.post("/api/prompts", &prompt).await.status(), StatusCode::CREATED);

    let items = json!([
        {"input": [{"role": "user", "content": "2+2?"}], "expected": "#### 4", "metadata": {"label": "easy"}},
        {"input": [{"role": "user", "content": "3+3?"}], "expected": "#### 6", "metadata": {"label": "easy"}},
        {"input": [{"role": "user", "content": "12*12?"}], "expected": "#### 144", "metadata": {"label": "hard"}},
    ]);
    assert_eq!(server.post("/api/datasets/sums/versions", &items).await.status(), StatusCode::CREATED);
    let suite = Suite::parse(SUITE, gantry_core::prompts::FileFormat::Toml, "suite").unwrap();
    let evaluation = Evaluation::new(server.service.gateway.clone(), server.service.chains.clone());
    mock.set_script(vec![Reply::text("#### 4", 5, 2), Reply::text("#### 7", 5, 2), Reply::text("#### 144", 5, 2)]);
    let run_a = evaluation.run(&suite, Baseline::Previous, None, &NoProgress).await.unwrap().run.id;
    mock.set_script(vec![Reply::text("#### 4", 5, 2), Reply::text("#### 6", 5, 2), Reply::text("#### 144", 5, 2)]);
    let run_b = evaluation.run(&suite, Baseline::Previous, None, &NoProgress).await.unwrap().run.id;

    let queue = json!({"name": "answers", "instructions": "Is the answer right?", "rubric": {"criteria": [
        {"name": "correct", "scale": {"type": "boolean"}},
        {"name": "score", "scale": {"type": "numeric", "min": 1, "max": 5}},
    ]}});
    assert_eq!(server.post("/api/review/queues", &queue).await.status(), StatusCode::CREATED);
    let added = server.post("/api/review/queues/answers/items", &json!({"trace_ids": [trace]})).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    mock.set_script(vec![Reply::text("Hello, Ada! Nice to meet you.", 12, 8)]);
    Seeded { trace, run_a, run_b }
}

/// A page's status and HTML.
pub(crate) async fn page(server: &TestServer, path: &str) -> (StatusCode, String) {
    let response = server.http.get(server.url(path)).send().await.unwrap();
    let status = response.status();
    if status.is_success() {
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
    }
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn every_page_shows_what_is_stored() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![]).await;
    let server = TestServer::start(&ui_config(&mock)).await;
    let seeded = seed(&server, &mock).await;

    // The dashboard counts every root trace of the last hour, once the writer has them all.
    let deadline = Instant::now() + WAIT;
    let html = loop {
        let (_, traces) = server.get("/api/traces?limit=1000").await;
        let roots = traces["data"].as_array().unwrap().len();
        let (status, html) = page(&server, "/?window=1h").await;
        assert_eq!(status, StatusCode::OK, "{html}");
        let expected = format!(r#"<div class="label">Requests</div><div class="value">{roots}</div>"#);
        if roots >= 1 && html.contains(&expected) {
            break html;
        }
        assert!(Instant::now() < deadline, "the dashboard never showed {roots} requests: {html}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(html.matches(r#"<svg class="chart""#).count(), 5, "five charts");
    let objectives = &html[html.find(r#"id="objectives""#).unwrap()..];
    assert!(
        objectives.contains("answers fast") && objectives.contains(r#"<span class="badge met">met</span>"#),
        "{objectives}"
    );
    assert!(
        objectives.contains(r#"<span class="badge unknown">unknown</span>"#),
        "no calls to that model: {objectives}"
    );
    let (status, bad) = page(&server, "/?window=3y").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    let (status, html) = page(&server, "/ui/traces").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("What is the capital of France?"), "the list previews the question");
    assert!(html.contains(&format!("/ui/traces/{}", seeded.trace)));
    // 14 + 8 tokens at $0.15 / $0.6 per million.
    assert!(html.contains(">22<"), "total tokens");
    assert!(html.contains("$0.000007"), "cost: {}", (14.0 * 0.15 + 8.0 * 0.6) / 1e6);

    let (_, filtered) = page(&server, "/ui/traces?q=capital%20of").await;
    assert!(filtered.contains(&seeded.trace));
    let (_, none) = page(&server, "/ui/traces?q=no%20such%20words").await;
    assert!(none.contains("No traces match."));
    let (_, errors_only) = page(&server, "/ui/traces?status=error").await;
    assert!(errors_only.contains("No traces match."));
    let (status, bad) = page(&server, "/ui/traces?status=weird").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("status must be one of ok, error, cancelled"), "{bad}");

    let (status, html) = page(&server, &format!("/ui/traces/{}", seeded.trace)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Paris is the capital of France."), "the response");
    assert!(html.contains("Be brief."), "the system message");
    assert!(html.contains("correct and short"), "the feedback");
    assert!(html.contains("<option>answers</option>"), "the review queues to send to");
    assert!(html.contains("<option>sums</option>"), "the datasets to add to");

    let (status, html) = page(&server, "/ui/prompts/greet").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("warmer"));
    // The diff shows the edited line across one row: old on the left, new on the right.
    assert!(html.contains(r#"<div class="removed">  Be brief.</div>"#), "{html}");
    assert!(html.contains(r#"<div class="added">  Be brief and warm.</div>"#), "{html}");
    assert!(html.contains(r#"data-variable="who""#), "the playground asks for the variable");
    let (_, old) = page(&server, "/ui/prompts/greet?version=1").await;
    assert!(old.contains("<h2>Version 1</h2>"));
    let (status, _) = page(&server, "/ui/prompts/nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, html) = page(&server, "/ui/datasets/sums").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("12*12?"));
    assert_eq!(html.matches(r#"<svg class="chart""#).count(), 3, "characters, tokens and labels charts");
    assert!(html.contains("easy: 2"), "a bar per label with its count");

    let (status, html) = page(&server, &format!("/ui/evals/{}", seeded.run_a)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("#### 7"));
    let (status, html) = page(&server, &format!("/ui/evals/compare?a={}&b={}", seeded.run_a, seeded.run_b)).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("1 improved"), "{html}");
    let (status, _) = page(&server, "/ui/evals/compare?a=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, html) = page(&server, "/ui/review/answers?reviewer=ana").await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("Paris is the capital of France."), "the claimed item's output");
    assert!(html.contains(r#"data-criterion="score""#));

    let (status, html) = page(&server, "/ui/traces/not-an-id").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("is not a trace id"));
    let (status, _) = page(&server, "/ui/traces/0193a0e0-0000-7000-8000-000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.shutdown().await;
}

#[tokio::test]
async fn traces_page_on_with_a_cursor() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("ok", 1, 1)]).await;
    let server = TestServer::start(&ui_config(&mock)).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let response = server.chat(&json!({"model": "gpt", "messages": user(&format!("question {i}"))})).await;
        ids.push(trace_id(&response));
    }
    for id in &ids {
        server.trace(id).await;
    }
    let (status, first) = server.get("/api/traces?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    let mut seen: Vec<String> =
        first["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().into()).collect();
    let mut cursor = first["next_cursor"].as_str().unwrap().to_string();
    loop {
        let (_, page) = server.get(&format!("/api/traces?limit=2&before={cursor}")).await;
        seen.extend(page["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "every trace once, newest first");
    let (status, body) = server.get("/api/traces?before=garbage").await;
    assert_eq!((status, openai_error(&body)["param"].as_str()), (StatusCode::BAD_REQUEST, Some("before")));
    let (_, html) = page(&server, "/ui/traces?limit=2").await;
    assert!(html.contains(r#"id="next-page""#));
    server.shutdown().await;
}

#[tokio::test]
async fn a_browser_signs_in_with_a_key_cookie() {
    let mock = MockUpstream::start(Flavor::OpenAi, vec![Reply::text("ok", 1, 1)]).await;
    let server = TestServer::start(&ui_config(&mock)).await;
    let (status, created) = {
        let response = server.post("/api/keys", &json!({"name": "viewer", "role": "viewer"})).await;
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // Once a key exists, a page without one sends the browser to the login.
    let response = no_redirects.get(server.url("/ui/traces?status=ok")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/ui/login?next=/ui/traces%3Fstatus%3Dok");
    // The API still answers with an OpenAI error.
    let response = no_redirects.get(server.url("/api/traces")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

    let wrong = no_redirects
        .post(server.url("/ui/login"))
        .form(&[("key", "gk-wrong"), ("next", "/ui/traces")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.text().await.unwrap().contains("Incorrect API key provided."));

    let login = no_redirects
        .post(server.url("/ui/login"))
        .form(&[("key", secret.as_str()), ("next", "/ui/traces")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER);
    assert_eq!(login.headers()["location"], "/ui/traces");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let response = no_redirects.get(server.url("/ui/traces")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // A viewer reads, but may not call models even from the UI.
    let response = no_redirects
        .post(server.url("/v1/chat/completions"))
        .header("cookie", &pair)
        .json(&json!({"model": "gpt", "messages": user("hi")}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    server.shutdown().await;
}
