//! `gantry feedback` and `gantry review` as a user runs them: on the local store, and with
//! `--url` against a running server. Traces are written straight into the store (a chat call
//! is covered by the server tests); everything after that goes through the binary.

use chrono::Utc;
use gantry_types::{PromptUse, TraceId, TraceKind, TraceRecord, TraceStatus};
use serde_json::{json, Value};

const RUBRIC: &str = include_str!("../../../../examples/review/helpfulness.toml");

use super::{refused as fails, succeeds as ok};

fn chat_trace(model: &str, question: &str, answer: &str, prompt: Option<(&str, u32)>) -> TraceRecord {
    TraceRecord {
        id: TraceId::new(),
        parent_id: None,
        name: None,
        started_at: Utc::now(),
        kind: TraceKind::Chat,
        requested_model: model.to_string(),
        provider: Some("oa".into()),
        upstream_model: Some(model.to_string()),
        attempts: Vec::new(),
        status: TraceStatus::Ok,
        http_status: 200,
        error: None,
        stream: false,
        request: json!({"model": model, "messages": [{"role": "user", "content": question}]}),
        response: Some(json!({"role": "assistant", "content": answer})),
        finish_reason: Some("stop".into()),
        prompt_tokens: Some(5),
        completion_tokens: Some(3),
        total_tokens: Some(8),
        latency_ms: 12.0,
        ttft_ms: None,
        cost_usd: None,
        prompt: prompt.map(|(name, version)| PromptUse {
            name: name.into(),
            version,
            label: None,
            variables: json!({}),
        }),
        output_check: None,
        api_key_id: None,
        guardrails: Vec::new(),
        deployment: None,
    }
}

/// The id that follows `label` in a line of `text`.
fn id_after<'a>(text: &'a str, label: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no '{label}' line in:\n{text}"))
        .split_whitespace()
        .next()
        .unwrap()
}

#[test]
fn feedback_and_a_review_round_on_the_local_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("gantry.toml"), "data_dir = \"data\"\n[local]\nenabled = false\n").unwrap();
    std::fs::write(d.join("helpfulness.toml"), RUBRIC).unwrap();
    let first = chat_trace("gpt", "What is 2+2?", "5", Some(("math", 3)));
    let second = chat_trace("mini", "Say hi", "Hello!", None);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = gantry_store::open_store(None, &d.join("data")).await.unwrap();
        store.insert_traces(&[first.clone(), second.clone()]).await.unwrap();
    });
    let (t1, t2) = (first.id.to_string(), second.id.to_string());

    let out = ok(d, &["feedback", "add", &t1, "thumbs", "false", "--comment", "wrong sum"]);
    assert!(
        out.starts_with("feedback ") && out.ends_with(&format!(": thumbs = false on trace {t1} (wrong sum)\n")),
        "{out}"
    );
    ok(d, &["feedback", "add", &t1, "rating", "-1"]);
    ok(d, &["feedback", "add", &t2, "thumbs", "true"]);
    ok(d, &["feedback", "add", &t2, "category", "greeting"]);
    let list = ok(d, &["feedback", "list", &t1]);
    let lines: Vec<&str> = list.lines().collect();
    assert!(lines[0].starts_with("TIME (UTC)") && lines[0].contains("NAME") && lines[0].contains("AUTHOR"), "{list}");
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[1].contains("thumbs  false  ci-bot  wrong sum"), "{list}");
    assert!(lines[2].contains("rating  -1     ci-bot  -"), "{list}");
    let summary = ok(d, &["feedback", "summary"]);
    assert_eq!(
        summary,
        "MODEL  NAME      COUNT  MEAN    CATEGORIES\n\
         gpt    rating    1      -1.000  -\n\
         gpt    thumbs    1      0.000   -\n\
         mini   category  1      -       greeting=1\n\
         mini   thumbs    1      1.000   -\n"
    );
    let summary = ok(d, &["feedback", "summary", "--group-by", "prompt", "--name", "thumbs"]);
    assert_eq!(
        summary,
        "PROMPT  NAME    COUNT  MEAN   CATEGORIES\nmath@3  thumbs  1      0.000  -\n-       thumbs  1      1.000  -\n"
    );
    assert!(fails(d, &["feedback", "add", "not-an-id", "thumbs", "true"]).contains("not a trace id"));
    let ghost = TraceId::new().to_string();
    assert!(fails(d, &["feedback", "add", &ghost, "thumbs", "true"]).contains(&format!("no trace with id {ghost}")));
    assert!(fails(d, &["feedback", "summary", "--group-by", "provider"]).contains("group_by must be prompt or model"));

    let out = ok(d, &["review", "create", "support", "--rubric", "helpfulness.toml"]);
    assert_eq!(
        out,
        "review queue 'support' created: helpful (1..5), correct (true|false), tone (friendly|neutral|rude)\n"
    );
    assert!(fails(d, &["review", "create", "support", "--rubric", "helpfulness.toml"]).contains("already exists"));
    let out = ok(d, &["review", "add", "support", "--trace", &t1, "--trace", &t2]);
    assert!(out.starts_with("added 2 item(s) to 'support'\n") && out.contains(&format!("  trace {t1}\n")), "{out}");
    let list = ok(d, &["review", "list"]);
    assert_eq!(
        list,
        "NAME     CRITERIA  PENDING  CLAIMED  DONE  DESCRIPTION\nsupport  3         2        0        0     Answers of the support assistant\n"
    );

    let next = ok(d, &["review", "next", "support", "--reviewer", "ana"]);
    let item = id_after(&next, "item:     ").to_string();
    assert!(next.contains(&format!("trace:    {t1}\n")), "{next}");
    assert!(next.contains("input:\n  user: What is 2+2?\noutput:\n  5\n"), "{next}");
    assert!(
        next.contains(&format!(
            "submit:   gantry review submit support {item} --reviewer ana --score helpful=<1..5> --score correct=<true|false> --score tone=<friendly|neutral|rude>"
        )),
        "{next}"
    );
    assert_eq!(id_after(&ok(d, &["review", "next", "support", "--reviewer", "ana"]), "item:     "), item);
    let err = fails(
        d,
        &[
            "review",
            "submit",
            "support",
            &item,
            "--reviewer",
            "bo",
            "--score",
            "helpful=2",
            "--score",
            "correct=false",
            "--score",
            "tone=neutral",
        ],
    );
    assert!(err.contains("is claimed by ana until"), "{err}");
    let err = fails(
        d,
        &[
            "review",
            "submit",
            "support",
            &item,
            "--reviewer",
            "ana",
            "--score",
            "helpful=9",
            "--score",
            "correct=false",
            "--score",
            "tone=neutral",
        ],
    );
    assert!(err.contains("score for 'helpful' must be a whole number from 1 to 5, got 9"), "{err}");
    let out = ok(
        d,
        &[
            "review",
            "submit",
            "support",
            &item,
            "--reviewer",
            "ana",
            "--score",
            "helpful=1",
            "--score",
            "correct=false",
            "--score",
            "tone=neutral",
            "--correction",
            "4",
            "--comment",
            "basic arithmetic",
        ],
    );
    assert_eq!(
        out,
        format!(
            "review of {item} stored in 'support' by ana: correct=false helpful=1 tone=neutral (with a correction)\n"
        )
    );
    let show = ok(d, &["review", "show", "support"]);
    assert!(show.contains("items:        1 pending, 0 claimed, 1 done\n"), "{show}");
    assert!(show.contains("  helpful: 1..5 - Does the answer solve"), "{show}");
    assert!(show.contains("instructions:\n  Read the conversation"), "{show}");

    ok(d, &["review", "export", "support", "-o", "reviewed.jsonl"]);
    let exported = std::fs::read_to_string(d.join("reviewed.jsonl")).unwrap();
    let lines: Vec<Value> = exported.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{exported}");
    assert_eq!(lines[0]["input"], json!([{"role": "user", "content": "What is 2+2?"}]));
    assert_eq!(lines[0]["expected"], "4");
    assert_eq!(lines[0]["metadata"]["scores"], json!({"correct": false, "helpful": 1, "tone": "neutral"}));
    assert_eq!(lines[0]["metadata"]["trace_id"], t1.as_str());
    assert_eq!(ok(d, &["review", "export", "support"]), exported, "stdout holds the same JSONL");
    assert!(fails(d, &["review", "show", "ghost"]).contains("no review queue named 'ghost'"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_mode_talks_to_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let raw = gantry_core::config::parse("[local]\nenabled = false\n").unwrap();
    let overrides = gantry_core::Overrides { data_dir: Some(dir.path().join("server")), ..Default::default() };
    let config = gantry_core::config::validate(raw, overrides).unwrap();
    let service = gantry_core::Service::with_providers(&config, &Default::default()).await.unwrap();
    let trace = chat_trace("gpt", "Capital of Peru?", "Quito", None);
    service.gateway.store().insert_traces(std::slice::from_ref(&trace)).await.unwrap();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server =
        tokio::spawn(gantry_server::serve(listener, gantry_server::AppState::from_service(&service), async move {
            let _ = stopped.await;
        }));

    let work = dir.path().to_path_buf();
    std::fs::write(work.join("helpfulness.toml"), RUBRIC).unwrap();
    let t = trace.id.to_string();
    let trace_text = t.clone();
    let outputs = tokio::task::spawn_blocking(move || {
        let run = |args: &[&str]| {
            let mut all = args.to_vec();
            all.extend(["--url", &url]);
            ok(&work, &all)
        };
        let mut outputs = vec![
            run(&["feedback", "add", &t, "rating", "2", "--author", "ana"]),
            run(&["feedback", "list", &t]),
            run(&["feedback", "summary", "--name", "rating"]),
            run(&["review", "create", "answers", "--rubric", "helpfulness.toml"]),
            run(&["review", "add", "answers", "--trace", &t]),
            run(&["review", "next", "answers", "--reviewer", "bo"]),
        ];
        let item = id_after(&outputs[5], "item:     ").to_string();
        outputs.push(run(&[
            "review",
            "submit",
            "answers",
            &item,
            "--reviewer",
            "bo",
            "--score",
            "helpful=2",
            "--score",
            "correct=false",
            "--score",
            "tone=friendly",
            "--correction",
            "Lima",
        ]));
        outputs.push(run(&["review", "next", "answers", "--reviewer", "bo"]));
        outputs.push(run(&["review", "export", "answers"]));
        outputs.push(run(&["review", "show", "answers"]));
        let mut all = vec!["review", "show", "ghost", "--url"];
        all.push(&url);
        outputs.push(fails(&work, &all));
        outputs
    })
    .await
    .unwrap();
    assert!(outputs[0].ends_with(&format!(": rating = 2 on trace {trace_text}\n")), "{}", outputs[0]);
    assert!(outputs[1].lines().nth(1).unwrap().contains("rating  2      ana"), "{}", outputs[1]);
    assert_eq!(outputs[2], "MODEL  NAME    COUNT  MEAN   CATEGORIES\ngpt    rating  1      2.000  -\n");
    assert!(outputs[3].starts_with("review queue 'answers' created: helpful (1..5)"), "{}", outputs[3]);
    assert!(outputs[4].starts_with("added 1 item(s) to 'answers'\n"), "{}", outputs[4]);
    assert!(outputs[5].contains("output:\n  Quito\n"), "{}", outputs[5]);
    assert!(
        outputs[6].contains("stored in 'answers' by bo: correct=false helpful=2 tone=friendly (with a correction)"),
        "{}",
        outputs[6]
    );
    assert_eq!(outputs[7], "no item is free in 'answers'\n");
    let line: Value = serde_json::from_str(outputs[8].trim()).unwrap();
    assert_eq!((line["expected"].as_str(), line["metadata"]["reviewer"].as_str()), (Some("Lima"), Some("bo")));
    assert!(outputs[9].contains("items:        0 pending, 0 claimed, 1 done"), "{}", outputs[9]);
    assert!(outputs[10].contains("404 Not Found: no review queue named 'ghost'"), "{}", outputs[10]);
    // The server's store has it; the local one was never touched.
    assert!(!dir.path().join(".gantry").exists());

    let _ = stop.send(());
    server.await.unwrap().unwrap();
    service.shutdown().await;
}
