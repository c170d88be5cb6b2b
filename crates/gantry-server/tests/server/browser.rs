//! The web UI in real headless Chromium (Debian's `chromium`, driven over the DevTools
//! protocol): every page loads without console errors or failed requests, the charts draw, a
//! prompt runs from the playground with its answer streamed in, and a review is submitted.
//! A screenshot of each page is kept under `target/ui-screenshots/` as the test's artefact.
//! Without a Chromium binary the test says so and passes, unless `GANTRY_REQUIRE_BROWSER` is
//! set (as `.ci/run` does), so a machine without one can still run the suite.

use crate::ui::{seed, ui_config, Seeded};
use crate::*;
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::log::{EnableParams as LogEnable, EventEntryAdded, LogEntryLevel};
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::cdp::js_protocol::runtime::{ConsoleApiCalledType, EventConsoleApiCalled, EventExceptionThrown};
use chromiumoxide::page::{Page, ScreenshotParams};
use futures::StreamExt;
use std::sync::{Arc, Mutex};

fn chromium() -> Option<PathBuf> {
    let path = std::env::var("GANTRY_TEST_CHROMIUM").map(PathBuf::from).unwrap_or_else(|_| "/usr/bin/chromium".into());
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("GANTRY_REQUIRE_BROWSER").is_none(),
        "GANTRY_REQUIRE_BROWSER is set but there is no Chromium at {}",
        path.display()
    );
    eprintln!("skipping the browser test: no Chromium at {} (apt-get install chromium)", path.display());
    None
}

fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Console errors, uncaught exceptions and failed loads a page reported.
#[derive(Default, Clone)]
struct Problems(Arc<Mutex<Vec<String>>>);

impl Problems {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    async fn watch(&self, page: &Page) {
        page.execute(LogEnable::default()).await.unwrap();
        let mut console = page.event_listener::<EventConsoleApiCalled>().await.unwrap();
        let mut exceptions = page.event_listener::<EventExceptionThrown>().await.unwrap();
        let mut log = page.event_listener::<EventEntryAdded>().await.unwrap();
        let sink = self.0.clone();
        tokio::spawn(async move {
            loop {
                let problem = tokio::select! {
                    Some(event) = console.next() => (event.r#type == ConsoleApiCalledType::Error)
                        .then(|| format!("console.error: {:?}", event.args.iter().map(|a| a.value.clone()).collect::<Vec<_>>())),
                    Some(event) = exceptions.next() => Some(format!("exception: {}", event.exception_details.text)),
                    Some(event) = log.next() => (event.entry.level == LogEntryLevel::Error)
                        .then(|| format!("{}: {}", event.entry.url.clone().unwrap_or_default(), event.entry.text)),
                    else => break,
                };
                if let Some(problem) = problem {
                    sink.lock().unwrap().push(problem);
                }
            }
        });
    }
}

async fn js<T: serde::de::DeserializeOwned>(page: &Page, expression: &str) -> T {
    page.evaluate(expression).await.unwrap_or_else(|e| panic!("{expression}: {e}")).into_value().unwrap()
}

/// Polls `expression` until it is true; while the page is navigating (a form reloads it) the
/// evaluation fails, which counts as not yet.
async fn wait_until(page: &Page, expression: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let done = match page.evaluate(expression).await {
            Ok(result) => result.into_value::<bool>().unwrap_or(false),
            Err(_) => false,
        };
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {expression}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Opens `path`, checks it loaded cleanly with `marker` on it, and keeps a screenshot.
async fn visit(page: &Page, server: &TestServer, problems: &Problems, path: &str, marker: &str, shot: &str) {
    page.goto(server.url(path)).await.unwrap_or_else(|e| panic!("{path}: {e}"));
    wait_until(page, "document.readyState === 'complete'").await;
    let found: bool = js(page, &format!("document.querySelector({marker:?}) !== null")).await;
    let title: String = js(page, "document.title").await;
    assert!(found, "{path} ({title}) has no {marker}");
    assert!(!title.starts_with("Error"), "{path} shows an error page: {title}");
    page.save_screenshot(
        ScreenshotParams::builder().format(CaptureScreenshotFormat::Png).full_page(true).build(),
        screenshot_dir().join(format!("{shot}.png")),
    )
    .await
    .unwrap();
    let seen = problems.take();
    assert!(seen.is_empty(), "{path}: {seen:?}");
}

#[tokio::test]
async fn the_ui_works_in_a_real_browser() {
    let Some(chromium) = chromium() else { return };
    let mock = MockUpstream::start(Flavor::OpenAi, vec![]).await;
    let server = TestServer::start(&ui_config(&mock)).await;
    let Seeded { trace, run_a, run_b } = seed(&server, &mock).await;

    let profile = tempfile::tempdir().unwrap();
    let config = BrowserConfig::builder()
        .chrome_executable(chromium)
        .no_sandbox()
        .user_data_dir(profile.path())
        .window_size(1280, 900)
        .args(["--headless", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage"])
        .build()
        .unwrap();
    let (mut browser, mut handler) = Browser::launch(config).await.unwrap();
    let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
    let page = browser.new_page("about:blank").await.unwrap();
    let problems = Problems::default();
    problems.watch(&page).await;

    visit(&page, &server, &problems, "/", "svg.chart", "dashboard").await;
    // The charts draw: lines with real extent, one point per minute with calls.
    let drawn: f64 = js(
        &page,
        "Math.max(...[...document.querySelectorAll('svg.chart .line, svg.chart .dot')].map(e => e.getBBox().width + e.getBBox().height))",
    )
    .await;
    assert!(drawn > 0.0, "the dashboard's charts have nothing drawn");
    visit(&page, &server, &problems, "/ui/traces", "#traces", "traces").await;
    visit(&page, &server, &problems, &format!("/ui/traces/{trace}"), "#messages .message", "trace").await;
    visit(&page, &server, &problems, "/ui/prompts", "#prompts", "prompts").await;
    visit(&page, &server, &problems, "/ui/datasets", "#datasets", "datasets").await;
    visit(&page, &server, &problems, "/ui/datasets/sums", "svg.chart rect.bar", "dataset").await;
    visit(&page, &server, &problems, "/ui/evals", "#runs", "evals").await;
    visit(&page, &server, &problems, &format!("/ui/evals/{run_a}"), "#items", "eval-run").await;
    visit(&page, &server, &problems, &format!("/ui/evals/compare?a={run_a}&b={run_b}"), "#deltas", "eval-compare")
        .await;
    visit(&page, &server, &problems, "/ui/review", "#queues", "review").await;

    // The playground renders version 2 with a variable and streams the model's answer in.
    visit(&page, &server, &problems, "/ui/prompts/greet", "#playground", "prompt").await;
    page.find_element("#playground textarea[data-variable=who]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str("Ada")
        .await
        .unwrap();
    page.find_element("#playground button[type=submit]").await.unwrap().click().await.unwrap();
    wait_until(&page, "document.getElementById('playground-output').dataset.done === 'true'").await;
    let answer: String = js(&page, "document.getElementById('playground-output').textContent").await;
    assert_eq!(answer, "Hello, Ada! Nice to meet you.");
    let status: String = js(&page, "document.querySelector('#playground .status-line').textContent").await;
    assert!(status.contains("12 prompt + 8 completion tokens"), "{status}");
    let sent = mock.requests().last().unwrap().body.clone();
    assert_eq!(sent["messages"][1]["content"], "Say hello to Ada.", "version 2 rendered with the variable");
    assert_eq!(sent["messages"][0]["content"], "Be brief and warm.");
    page.save_screenshot(ScreenshotParams::builder().full_page(true).build(), screenshot_dir().join("playground.png"))
        .await
        .unwrap();

    // A label moves from the prompt page, and the move is in its history.
    js::<Value>(&page, "document.querySelector('#label-form select[name=version]').value = '1'").await;
    page.find_element("#label-form button[type=submit]").await.unwrap().click().await.unwrap();
    wait_until(&page, "document.querySelector('#label-history') && document.querySelector('#label-history').textContent.includes('production')").await;
    let (_, label) = server.get("/api/prompts/greet/labels/production").await;
    assert_eq!((label["label"].as_str(), label["version"].as_u64()), (Some("production"), Some(1)), "{label}");

    // A reviewer claims the queued trace and submits the rubric; the queue is then empty.
    visit(&page, &server, &problems, "/ui/review/answers?reviewer=ana", "#review-form", "review-queue").await;
    page.find_element("#review-form input[data-criterion=correct][value=false]").await.unwrap().click().await.unwrap();
    page.find_element("#review-form textarea[name=comment]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str("too short")
        .await
        .unwrap();
    page.find_element("#review-form button[type=submit]").await.unwrap().click().await.unwrap();
    wait_until(&page, "document.getElementById('queue-empty') !== null").await;
    let (_, exported) = {
        let response = server.http.get(server.url("/api/review/queues/answers")).send().await.unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(exported["counts"]["done"], 1, "{exported}");
    let body =
        server.http.get(server.url("/api/review/queues/answers/export")).send().await.unwrap().text().await.unwrap();
    assert!(body.contains("too short") || body.contains("Paris"), "{body}");

    // Feedback from the trace page lands on the trace.
    visit(&page, &server, &problems, &format!("/ui/traces/{trace}"), "#feedback-form", "trace-feedback").await;
    page.find_element("#feedback-form input[name=value]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str("5")
        .await
        .unwrap();
    page.find_element("#feedback-form button[type=submit]").await.unwrap().click().await.unwrap();
    wait_until(&page, "document.querySelector('#feedback-form .status-line').textContent === 'Feedback saved.'").await;
    let (_, feedback) = server.get(&format!("/api/traces/{trace}/feedback")).await;
    let scores: Vec<f64> = feedback["data"].as_array().unwrap().iter().filter_map(|f| f["value"].as_f64()).collect();
    assert_eq!(scores, vec![4.0, 5.0], "{feedback}");

    let seen = problems.take();
    assert!(seen.is_empty(), "{seen:?}");
    browser.close().await.unwrap();
    let _ = browser.wait().await;
    events.abort();
    server.shutdown().await;
}
