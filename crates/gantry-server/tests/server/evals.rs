//! `/api/evals`: runs listed, one run with its items, two runs compared, and the error paths.

use crate::*;
use gantry_core::prompts::FileFormat;
use gantry_evals::runs::{Baseline, Evaluation, NoProgress, Suite};

pub(crate) const SUITE: &str = r#"
name = "sums"
dataset = "sums"
concurrency = 1
[target]
model = "gpt"
[[evaluators]]
name = "answer"
type = "numeric_match"
threshold = 0.5
"#;

#[tokio::test]
async fn runs_are_listed_shown_and_compared() {
    let mock =
        MockUpstream::start(Flavor::OpenAi, vec![Reply::text("#### 4", 5, 2), Reply::text("#### 7", 5, 2)]).await;
    let server = TestServer::start(&mock_config(
        &[("oa", &mock)],
        "[[models]]\nname = \"gpt\"\ntargets = [{ provider = \"oa\", model = \"gpt-4o-mini\" }]\n",
    ))
    .await;
    let items = json!([
        {"input": [{"role": "user", "content": "2+2?"}], "expected": "#### 4"},
        {"input": [{"role": "user", "content": "3+3?"}], "expected": "#### 6"},
    ]);
    assert_eq!(server.post("/api/datasets/sums/versions", &items).await.status(), StatusCode::CREATED);
    let suite = Suite::parse(SUITE, FileFormat::Toml, "suite").unwrap();
    let evaluation = Evaluation::new(server.service.gateway.clone(), server.service.chains.clone());
    let first = evaluation.run(&suite, Baseline::Previous, None, &NoProgress).await.unwrap().run;
    mock.set_script(vec![Reply::text("#### 4", 5, 2), Reply::text("#### 6", 5, 2)]);
    let second = evaluation.run(&suite, Baseline::Previous, None, &NoProgress).await.unwrap().run;

    let (status, list) = server.get("/api/evals/runs?suite=sums&limit=10").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let ids: Vec<&str> = list["data"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![second.id.as_str(), first.id.as_str()]);
    assert_eq!(list["data"][1]["summaries"][0]["metrics"]["mean"], 0.5);
    assert_eq!(list["data"][0]["gate"]["passed"], true);
    let (_, other_suite) = server.get("/api/evals/runs?suite=nope").await;
    assert_eq!(other_suite["data"], json!([]));

    let (status, run) = server.get(&format!("/api/evals/runs/{}", first.id)).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!((run["items_done"].as_u64(), run["status"].as_str()), (Some(2), Some("completed")));
    assert_eq!(run["items"][1]["output"], "#### 7");
    assert_eq!(run["items"][1]["scores"]["answer"]["value"], 0.0);
    // Each item links to its trace.
    let trace = server.trace(run["items"][0]["trace_id"].as_str().unwrap()).await;
    assert_eq!(trace["requested_model"], "gpt");

    let (status, comparison) = server.get(&format!("/api/evals/compare?a={}&b={}", first.id, second.id)).await;
    assert_eq!(status, StatusCode::OK, "{comparison}");
    let delta = comparison["deltas"].as_array().unwrap().iter().find(|d| d["metric"] == "mean").unwrap();
    assert_eq!(
        (delta["value"].as_f64(), delta["baseline"].as_f64(), delta["delta"].as_f64()),
        (Some(1.0), Some(0.5), Some(0.5))
    );
    assert_eq!(comparison["changes"]["answer"], json!({"improved": 1, "regressed": 0, "unchanged": 1}));
    assert_eq!(comparison["items"][1]["a"]["output"], "#### 7");
    assert_eq!(comparison["items"][1]["b"]["output"], "#### 6");

    // The items the first run got wrong go to a review queue, with the dataset's context.
    let queue = json!({"name": "sums", "rubric": {"criteria": [{"name": "ok", "scale": {"type": "boolean"}}]}});
    assert_eq!(server.post("/api/review/queues", &queue).await.status(), StatusCode::CREATED);
    let selection = json!({"eval_run": {"run_id": first.id, "evaluator": "answer", "below": 1}});
    let response = server.post("/api/review/queues/sums/items", &selection).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let added: Value = response.json().await.unwrap();
    assert_eq!(added["data"].as_array().unwrap().len(), 1, "{added}");
    assert_eq!(
        (added["data"][0]["output"].as_str(), added["data"][0]["expected"].as_str()),
        (Some("#### 7"), Some("#### 6"))
    );
    assert_eq!(added["data"][0]["eval_item_index"], 1);
    let missing = json!({"eval_run": {"run_id": "nope"}});
    let (status, body) = error_of(server.post("/api/review/queues/sums/items", &missing).await).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::NOT_FOUND, Some("eval_run_not_found")));

    let (status, body) = server.get("/api/evals/runs/no-such-run").await;
    assert_eq!((status, openai_error(&body)["code"].as_str()), (StatusCode::NOT_FOUND, Some("eval_run_not_found")));
    let (status, body) = server.get(&format!("/api/evals/compare?a={}", first.id)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (openai_error(&body)["code"].as_str(), openai_error(&body)["param"].as_str()),
        (Some("invalid_parameter"), Some("b"))
    );
    let (status, body) = server.get("/api/evals/runs?limit=0").await;
    assert_eq!((status, openai_error(&body)["param"].as_str()), (StatusCode::BAD_REQUEST, Some("limit")));
}
