//! The dataset functions end to end on a SQLite store.

use super::*;
use chrono::{Duration, Utc};
use gantry_types::{PromptUse, TraceId, TraceKind, TraceRecord, TraceStatus};
use serde_json::json;
use std::sync::Arc;

async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = gantry_store::open_store(None, dir.path()).await.unwrap();
    (dir, store)
}

const FILE: &str = concat!(
    "{\"input\": \"How do I reset my password? Mail me at ada@example.com\", \"expected\": \"Use the reset link.\", \"metadata\": {\"category\": \"account\"}}\n",
    "{\"input\": \"Refund for order 1234\", \"expected\": \"Refunds take 5 days.\", \"metadata\": {\"category\": \"billing\"}}\n",
    "{\"input\": \"Refund for order 1234\", \"expected\": \"Refunds take 5 days.\", \"metadata\": {\"category\": \"billing\"}}\n",
    "{\"input\": \"   \", \"expected\": \"?\"}\n",
);

#[tokio::test]
async fn import_clean_stats_and_export_keep_versions_apart() {
    let (_dir, store) = store().await;
    let store = store.as_ref();
    let v1 = import(
        store,
        "support",
        FILE.as_bytes(),
        FileFormat::Jsonl,
        &ColumnMapping::default(),
        "import support.jsonl",
        "ada",
    )
    .await
    .unwrap();
    assert_eq!((v1.version, v1.items, v1.source.as_str()), (1, 4, "import support.jsonl"));

    let request = CleanRequest {
        version: None,
        steps: vec![CleanStep::Empty, CleanStep::ExactDuplicates, CleanStep::RedactPii],
        author: None,
    };
    let outcome = clean(store, "support", &request, "ada").await.unwrap();
    assert_eq!((outcome.version.version, outcome.version.parent_version, outcome.version.items), (2, Some(1), 2));
    assert_eq!(outcome.version.source, "clean of v1: empty, exact_duplicates, redact_pii");
    assert_eq!((outcome.report.items_before, outcome.report.items_after), (4, 2));
    let (_, cleaned) = load_items(store, "support", None).await.unwrap();
    assert_eq!(text::input_text(&cleaned[0].item), "How do I reset my password? Mail me at <EMAIL_1>");
    // The parent is untouched.
    let (info, original) = load_items(store, "support", Some(1)).await.unwrap();
    assert_eq!((info.version, original.len()), (1, 4));
    assert!(text::input_text(&original[0].item).contains("ada@example.com"));

    let stats = stats(store, "support", Some(1), Some("category")).await.unwrap();
    assert_eq!((stats.items, stats.duplicates, stats.missing_expected), (4, 1, 0));
    assert_eq!(stats.labels.unwrap().counts[0], LabelCount { label: "billing".into(), count: 2 });

    let chat = export(store, "support", None, ExportFormat::Chat, None).await.unwrap();
    assert_eq!((chat.exported, chat.skipped_without_expected), (2, 0));
    let first: serde_json::Value = serde_json::from_str(chat.text.lines().next().unwrap()).unwrap();
    assert_eq!(first["messages"][1], json!({"role": "assistant", "content": "Use the reset link."}));
    let jsonl = export(store, "support", Some(1), ExportFormat::Jsonl, None).await.unwrap();
    assert_eq!(jsonl.text.lines().count(), 4);
    let reread = parse_items(jsonl.text.as_bytes(), FileFormat::Jsonl, &ColumnMapping::default()).unwrap();
    assert_eq!(reread, original.into_iter().map(|s| s.item).collect::<Vec<_>>(), "export then import is lossless");

    let list = list(store).await.unwrap();
    assert_eq!((list[0].name.as_str(), list[0].latest_version, list[0].items, list[0].versions), ("support", 2, 2, 2));
    let page = items_page(store, "support", Some(1), 1, Some(2)).await.unwrap();
    assert_eq!(page.items.iter().map(|i| i.index).collect::<Vec<_>>(), vec![1, 2]);
}

#[tokio::test]
async fn failures_store_nothing_and_say_why() {
    let (_dir, store) = store().await;
    let store = store.as_ref();
    let broken = format!("{FILE}{{\"input\": \"x\"\n");
    let err = import(store, "s", broken.as_bytes(), FileFormat::Jsonl, &ColumnMapping::default(), "f", "a")
        .await
        .unwrap_err();
    assert_eq!((err.code(), err.http_status()), ("invalid_dataset_file", 400));
    assert!(err.to_string().starts_with("line 5: "), "{err}");
    assert!(list(store).await.unwrap().is_empty());

    assert_eq!(load_items(store, "s", None).await.unwrap_err().code(), "dataset_not_found");
    create_version(
        store,
        "s",
        &parse_items(FILE.as_bytes(), FileFormat::Jsonl, &ColumnMapping::default()).unwrap(),
        "x",
        "a",
    )
    .await
    .unwrap();
    let err = load_items(store, "s", Some(9)).await.unwrap_err();
    assert_eq!((err.code(), err.to_string().as_str()), ("dataset_version_not_found", "dataset 's' has no version 9"));
    assert_eq!(validate_name("a/b").unwrap_err().code(), "invalid_dataset_name");
    assert_eq!(parse_reference("qa@3").unwrap(), ("qa".to_string(), Some(3)));
    assert_eq!(parse_reference("qa@x").unwrap_err().code(), "invalid_parameter");

    let all = CleanRequest {
        version: Some(1),
        steps: vec![CleanStep::Length { min_chars: Some(1000), max_chars: None, min_tokens: None, max_tokens: None }],
        author: None,
    };
    assert_eq!(clean(store, "s", &all, "a").await.unwrap_err().code(), "empty_dataset");
    assert_eq!(versions(store, "s").await.unwrap().len(), 1, "a failed clean stores nothing");

    let vars = vec![serde_json::from_value::<DatasetItem>(json!({"input": {"q": "hi"}, "expected": "yo"})).unwrap()];
    create_version(store, "vars", &vars, "x", "a").await.unwrap();
    let err = export(store, "vars", None, ExportFormat::Chat, None).await.unwrap_err();
    assert_eq!((err.code(), err.param()), ("prompt_required", Some("prompt".to_string())));
    let err = export(store, "vars", None, ExportFormat::Chat, Some("missing-prompt")).await.unwrap_err();
    assert_eq!(err.http_status(), 404, "{err}");
}

fn trace(model: &str, minutes_ago: i64, status: TraceStatus, question: &str, answer: Option<&str>) -> TraceRecord {
    TraceRecord {
        id: TraceId::new(),
        parent_id: None,
        name: None,
        started_at: Utc::now() - Duration::minutes(minutes_ago),
        kind: TraceKind::Chat,
        requested_model: model.into(),
        provider: None,
        upstream_model: None,
        attempts: Vec::new(),
        status,
        http_status: 200,
        error: None,
        stream: false,
        request: json!({"messages": [{"role": "user", "content": question}], "temperature": 0}),
        response: answer.map(|a| json!({"role": "assistant", "content": a})),
        finish_reason: None,
        prompt_tokens: None,
        completion_tokens: None,
        total_tokens: None,
        latency_ms: 1.0,
        ttft_ms: None,
        cost_usd: None,
        prompt: (model == "m1").then(|| PromptUse { name: "qa".into(), version: 2, label: None, variables: json!({}) }),
        output_check: None,
        api_key_id: None,
        guardrails: Vec::new(),
        deployment: None,
    }
}

#[tokio::test]
async fn traces_become_items_with_their_origin() {
    let (_dir, store) = store().await;
    let mut embeddings = trace("m1", 1, TraceStatus::Ok, "x", None);
    embeddings.kind = TraceKind::Embeddings;
    let traces = vec![
        trace("m1", 5, TraceStatus::Ok, "old question", Some("old answer")),
        trace("m1", 3, TraceStatus::Ok, "new question", Some("new answer")),
        trace("m2", 2, TraceStatus::Ok, "other model", Some("x")),
        trace("m1", 1, TraceStatus::Error, "failed", None),
        embeddings,
    ];
    store.insert_traces(&traces).await.unwrap();
    let store = store.as_ref();

    let selection = TraceSelection { model: Some("m1".into()), status: Some(TraceStatus::Ok), ..Default::default() };
    let outcome = from_traces(store, "live", &selection, "ada").await.unwrap();
    assert_eq!((outcome.version.items, outcome.traces_read, outcome.skipped), (2, 3, 1), "{outcome:?}");
    assert_eq!(outcome.version.source, "traces: model=m1 status=ok");
    let (_, items) = load_items(store, "live", None).await.unwrap();
    // Newest first, as traces are listed.
    assert_eq!(text::input_text(&items[0].item), "new question");
    assert_eq!(items[0].item.expected, Some(json!("new answer")));
    assert_eq!(items[0].item.metadata["trace_id"], json!(traces[1].id.to_string()));
    assert_eq!(
        (items[0].item.metadata["model"].as_str(), items[0].item.metadata["prompt"].as_str()),
        (Some("m1"), Some("qa"))
    );

    let window = TraceSelection {
        since: Some(Utc::now() - Duration::minutes(4)),
        until: Some(Utc::now() - Duration::seconds(90)),
        ..Default::default()
    };
    let outcome = from_traces(store, "live", &window, "ada").await.unwrap();
    let (_, items) = load_items(store, "live", Some(outcome.version.version)).await.unwrap();
    let texts: Vec<String> = items.iter().map(|i| text::input_text(&i.item)).collect();
    assert_eq!(texts, vec!["other model", "new question"]);

    let limited =
        from_traces(store, "live", &TraceSelection { limit: Some(1), ..Default::default() }, "a").await.unwrap();
    assert_eq!(limited.version.items, 1);
    let none = TraceSelection { model: Some("nobody".into()), ..Default::default() };
    assert_eq!(from_traces(store, "live", &none, "a").await.unwrap_err().code(), "empty_dataset");
    let bad = TraceSelection { limit: Some(0), ..Default::default() };
    assert_eq!(from_traces(store, "live", &bad, "a").await.unwrap_err().param(), Some("limit".into()));
}

#[tokio::test]
async fn traces_can_be_chosen_by_their_user_feedback() {
    use crate::review::add_feedback;
    use gantry_types::{FeedbackValue, NewFeedback};
    let (_dir, store) = store().await;
    let traces = vec![
        trace("m2", 4, TraceStatus::Ok, "liked", Some("a")),
        trace("m2", 3, TraceStatus::Ok, "disliked", Some("b")),
        trace("m2", 2, TraceStatus::Ok, "mixed", Some("c")),
        trace("m2", 1, TraceStatus::Ok, "unrated", Some("d")),
    ];
    store.insert_traces(&traces).await.unwrap();
    let store = store.as_ref();
    let rate = |i: usize, name: &str, value: FeedbackValue| {
        let feedback = NewFeedback { name: name.into(), value, comment: None, author: Some("u".into()) };
        add_feedback(store, traces[i].id, feedback)
    };
    rate(0, "thumbs", FeedbackValue::Bool(true)).await.unwrap();
    rate(1, "thumbs", FeedbackValue::Bool(false)).await.unwrap();
    rate(2, "thumbs", FeedbackValue::Bool(true)).await.unwrap();
    rate(2, "thumbs", FeedbackValue::Bool(false)).await.unwrap();
    rate(1, "reason", FeedbackValue::Category("wrong facts".into())).await.unwrap();

    let chosen = |condition: FeedbackCondition| {
        let selection = TraceSelection { feedback: Some(condition), ..Default::default() };
        async move {
            let outcome = from_traces(store, "fb", &selection, "a").await?;
            let (_, items) = load_items(store, "fb", Some(outcome.version.version)).await?;
            Ok::<Vec<String>, DatasetError>(items.iter().map(|i| text::input_text(&i.item)).collect())
        }
    };
    let down = FeedbackCondition { name: "thumbs".into(), max: Some(0.0), ..Default::default() };
    assert_eq!(chosen(down).await.unwrap(), vec!["disliked"]);
    let up = FeedbackCondition { name: "thumbs".into(), min: Some(0.5), ..Default::default() };
    assert_eq!(chosen(up).await.unwrap(), vec!["mixed", "liked"], "the mean of true and false is 0.5");
    let category =
        FeedbackCondition { name: "reason".into(), category: Some("wrong facts".into()), ..Default::default() };
    assert_eq!(chosen(category).await.unwrap(), vec!["disliked"]);
    let nobody = FeedbackCondition { name: "stars".into(), ..Default::default() };
    assert_eq!(chosen(nobody).await.unwrap_err().code(), "empty_dataset");
    let unnamed = FeedbackCondition { name: " ".into(), ..Default::default() };
    assert_eq!(chosen(unnamed).await.unwrap_err().param(), Some("feedback.name".into()));
}
