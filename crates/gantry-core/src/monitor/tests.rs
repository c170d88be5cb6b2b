//! Drift on synthetic traffic written to a real SQLite store: unshifted traffic reads as no
//! drift, and each kind of shift is the component that tops the report.

use super::*;
use async_trait::async_trait;
use chrono::Duration as ChronoDuration;
use gantry_store::{NewDatasetVersion, Store};
use gantry_testkit::drift::{answer, deploy_route, question, route_window, TrafficShape};
use gantry_types::{
    DatasetItem, Feedback, FeedbackValue, GuardAction, GuardHit, GuardStage, ItemInput, TraceRecord, TraceStatus,
};
use serde_json::{json, Map, Value};
use std::sync::Arc;

const ROUTE: &str = "support-bot";

type Shape = TrafficShape;

fn window(since: DateTime<Utc>, span: ChronoDuration, n: usize, shape: Shape, release: u32) -> Vec<TraceRecord> {
    route_window(ROUTE, since, span, n, shape, release)
}

async fn store_with_route() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = gantry_store::open_store(None, dir.path()).await.unwrap();
    deploy_route(store.as_ref(), ROUTE).await;
    (dir, store)
}

/// A deterministic stand-in for MiniLM: words hashed into 64 dimensions, L2-normalised, so
/// texts that share words lie close and other topics lie far.
struct BagOfWords;

#[async_trait]
impl TextEmbedder for BagOfWords {
    fn model(&self) -> String {
        "bag-of-words".into()
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0f32; 64];
                for word in t.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 2) {
                    let h = word
                        .bytes()
                        .fold(1469598103934665603u64, |h, b| (h ^ u64::from(b)).wrapping_mul(1099511628211));
                    v[(h % 64) as usize] += 1.0;
                }
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                v.iter().map(|x| x / norm).collect()
            })
            .collect())
    }
}

/// Baseline: 300 support calls over the 7 days before the last 24h; recent: 300 of `recent`
/// (another sample of the generator than the baseline's, unless `recent.seed` is 0).
async fn report_for(recent: Shape, embedder: &dyn TextEmbedder) -> DriftReport {
    report_with_seed(Shape { seed: 5, ..recent }, embedder).await
}

async fn report_with_seed(recent: Shape, embedder: &dyn TextEmbedder) -> DriftReport {
    let (_dir, store) = store_with_route().await;
    let now = Utc::now();
    let day = ChronoDuration::days(1);
    store.insert_traces(&window(now - day * 8, day * 7, 300, Shape::default(), 1)).await.unwrap();
    store.insert_traces(&window(now - day, day, 300, recent, 1)).await.unwrap();
    drift_report(store.as_ref(), Some(embedder), &DriftQuery::last_day(ROUTE, now)).await.unwrap()
}

fn component<'a>(report: &'a DriftReport, name: &str) -> &'a DriftComponent {
    report.components.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no {name} in {report:#?}"))
}

#[tokio::test]
async fn unshifted_traffic_shows_no_drift() {
    let report = report_for(Shape::default(), &BagOfWords).await;
    assert_eq!(report.target_kind, "route");
    assert_eq!((report.baseline.samples, report.recent.traces), (300, 300));
    assert!(report.score < MODERATE_DRIFT, "score {} in {report:#?}", report.score);
    assert_eq!(report.level, DriftLevel::None);
    for name in ["input_topics", "input_centroid", "input_length", "output_length", "refusal_rate", "error_rate"] {
        assert!(component(&report, name).contribution < MODERATE_DRIFT, "{name}: {report:#?}");
    }
    // No answer here is JSON, and there is no feedback: both are reported as skipped.
    assert!(report.skipped.iter().any(|s| s.name == "json_validity"), "{:?}", report.skipped);
    // Other samples of the same traffic: chance alone must not raise the level.
    for seed in 6..14 {
        let report = report_with_seed(Shape { seed, ..Shape::default() }, &BagOfWords).await;
        assert_eq!(report.level, DriftLevel::None, "seed {seed}: {report:#?}");
    }
}

#[tokio::test]
async fn a_new_topic_tops_the_report_with_the_embeddings() {
    let report = report_for(Shape { cooking: true, ..Shape::default() }, &BagOfWords).await;
    assert_eq!(report.level, DriftLevel::Significant, "{report:#?}");
    let top = report.top_component.as_deref().unwrap();
    assert!(top == "input_topics" || top == "input_centroid", "top {top}: {report:#?}");
    assert!(component(&report, "input_topics").contribution >= SIGNIFICANT_DRIFT);
    assert!(component(&report, "refusal_rate").contribution < MODERATE_DRIFT);
}

#[tokio::test]
async fn longer_answers_top_the_report_with_output_length() {
    let report = report_for(Shape { longer: 6, ..Shape::default() }, &BagOfWords).await;
    assert_eq!(report.top_component.as_deref(), Some("output_length"), "{report:#?}");
    let c = component(&report, "output_length");
    assert!(c.recent.unwrap() > 2.0 * c.baseline.unwrap(), "{c:?}");
    assert_eq!(report.level, DriftLevel::Significant);
    assert!(component(&report, "input_length").contribution < MODERATE_DRIFT);
}

#[tokio::test]
async fn refusals_top_the_report_with_the_refusal_rate() {
    let report = report_for(Shape { refuse_every: 2, ..Shape::default() }, &BagOfWords).await;
    assert_eq!(report.top_component.as_deref(), Some("refusal_rate"), "{report:#?}");
    let c = component(&report, "refusal_rate");
    assert_eq!(c.baseline, Some(0.0));
    assert!((c.recent.unwrap() - 0.5).abs() < 0.01, "{c:?}");
    assert!(component(&report, "output_length").contribution < MODERATE_DRIFT, "{report:#?}");
}

#[tokio::test]
async fn errors_guardrails_json_and_scores_are_compared() {
    let (_dir, store) = store_with_route().await;
    let now = Utc::now();
    let day = ChronoDuration::days(1);
    let mut baseline = window(now - day * 8, day * 7, 100, Shape::default(), 1);
    let mut recent = window(now - day, day, 100, Shape { fail_every: 4, seed: 3, ..Shape::default() }, 1);
    // JSON answers: all valid before, a third broken now; guardrail hits only now.
    for (i, t) in baseline.iter_mut().enumerate() {
        t.request["response_format"] = json!({"type": "json_object"});
        t.response = Some(json!({"role": "assistant", "content": format!("{{\"ticket\": {i}}}")}));
    }
    for (i, t) in recent.iter_mut().enumerate().filter(|(_, t)| t.status == TraceStatus::Ok) {
        t.request["response_format"] = json!({"type": "json_object"});
        let content = if i % 3 == 0 { format!("{{\"ticket\": {i}") } else { format!("{{\"ticket\": {i}}}") };
        t.response = Some(json!({"role": "assistant", "content": content}));
        if i % 5 == 1 {
            t.guardrails = vec![GuardHit {
                guardrail: "pii".into(),
                scanner: "pii".into(),
                entity: "email".into(),
                stage: GuardStage::Input,
                action: GuardAction::Redact,
                message: Some(1),
                start: 0,
                end: 5,
                score: 1.0,
                reason: None,
            }];
        }
    }
    store.insert_traces(&baseline).await.unwrap();
    store.insert_traces(&recent).await.unwrap();
    let thumbs = |t: &TraceRecord, up: bool| Feedback {
        id: uuid::Uuid::now_v7(),
        trace_id: t.id,
        name: "thumbs".into(),
        value: FeedbackValue::Bool(up),
        comment: None,
        author: "user".into(),
        created_at: t.started_at,
    };
    for (i, t) in baseline.iter().enumerate() {
        store.insert_feedback(&thumbs(t, i % 10 != 0)).await.unwrap();
    }
    for (i, t) in recent.iter().enumerate() {
        store.insert_feedback(&thumbs(t, i % 2 == 0)).await.unwrap();
    }
    let report = drift_report(store.as_ref(), None, &DriftQuery::last_day(ROUTE, now)).await.unwrap();
    let errors = component(&report, "error_rate");
    assert_eq!((errors.baseline, errors.recent), (Some(0.0), Some(0.25)));
    assert!(errors.contribution >= SIGNIFICANT_DRIFT, "{errors:?}");
    let json = component(&report, "json_validity");
    assert_eq!(json.baseline, Some(1.0));
    assert!((json.recent.unwrap() - 2.0 / 3.0).abs() < 0.05, "{json:?}");
    let guard = component(&report, "guardrail_hit_rate");
    assert!(guard.recent.unwrap() > 0.1 && guard.baseline == Some(0.0), "{guard:?}");
    let scores = component(&report, "score:thumbs");
    assert!((scores.baseline.unwrap() - 0.9).abs() < 1e-9 && (scores.recent.unwrap() - 0.5).abs() < 1e-9);
    assert!(scores.contribution >= MODERATE_DRIFT, "{scores:?}");
    // Without an embedder the embeddings are skipped, not guessed.
    assert!(report.skipped.iter().any(|s| s.name == "input_topics"));
    assert!(report.embedding_model.is_none());
    let sorted = report.components.windows(2).all(|w| w[0].contribution >= w[1].contribution);
    assert!(sorted, "components are sorted by contribution");
}

#[tokio::test]
async fn too_little_data_and_unknown_names_are_clear_errors() {
    let (_dir, store) = store_with_route().await;
    let now = Utc::now();
    let day = ChronoDuration::days(1);
    store.insert_traces(&window(now - day * 8, day * 7, 100, Shape::default(), 1)).await.unwrap();
    store.insert_traces(&window(now - day, day, 5, Shape::default(), 1)).await.unwrap();
    let err = drift_report(store.as_ref(), None, &DriftQuery::last_day(ROUTE, now)).await.unwrap_err();
    assert!(matches!(err, DriftError::InsufficientData { window: "recent window", found: 5, needed: 20, .. }), "{err}");
    assert_eq!((err.code(), err.http_status()), ("insufficient_data", 422));
    // For a monitor, too little data is "no value", not a failure.
    assert_eq!(drift_score(store.as_ref(), None, &DriftQuery::last_day(ROUTE, now)).await.unwrap(), None);
    let week = DriftQuery::last(ROUTE, std::time::Duration::from_secs(7 * 86_400), now);
    assert_eq!(week.since, now - ChronoDuration::days(7));
    let err = drift_score(store.as_ref(), None, &DriftQuery::last_day("nobody", now)).await.unwrap_err();
    assert_eq!(err.code(), "route_not_found");

    let err = drift_report(store.as_ref(), None, &DriftQuery::last_day("nobody", now)).await.unwrap_err();
    assert_eq!((err.code(), err.http_status(), err.param()), ("route_not_found", 404, Some("route")));
    let query = DriftQuery { environment: Some("staging".into()), ..DriftQuery::last_day(ROUTE, now) };
    let err = drift_report(store.as_ref(), None, &query).await.unwrap_err();
    assert_eq!((err.http_status(), err.param()), (404, Some("env")));

    let params = |f: fn(&mut DriftParams)| {
        let mut p = DriftParams::default();
        f(&mut p);
        p.into_query(ROUTE, now)
    };
    let err = params(|p| p.window = Some("5s".into())).unwrap_err();
    assert_eq!((err.code(), err.http_status(), err.param()), ("invalid_window", 400, Some("window")));
    let err = params(|p| p.baseline_release = Some("two".into())).unwrap_err();
    assert_eq!(err.param(), Some("baseline_release"));
    let err = params(|p| {
        p.baseline_release = Some("1".into());
        p.baseline_dataset = Some("faq@1".into());
    })
    .unwrap_err();
    assert!(err.to_string().contains("name one baseline"), "{err}");
    let err = params(|p| p.baseline_since = Some("yesterday".into())).unwrap_err();
    assert_eq!(err.param(), Some("baseline_since"));
    let q = params(|p| {
        p.window = Some("1h".into());
        p.baseline_since = Some("8d".into());
        p.baseline_until = Some("2026-01-01T00:00:00Z".into());
    });
    assert!(q.unwrap_err().to_string().contains("must end after it starts"));
    let q = params(|p| p.baseline_dataset = Some("faq@3".into())).unwrap();
    assert_eq!(q.baseline, Baseline::Dataset { name: "faq".into(), version: Some(3) });
    let q = params(|p| p.window = Some("1h".into())).unwrap();
    assert_eq!(q.until - q.since, ChronoDuration::hours(1));
    assert_eq!(q.baseline, Baseline::Window { since: q.since - ChronoDuration::days(7), until: q.since });
}

#[tokio::test]
async fn a_plain_model_name_is_compared_too() {
    let (_dir, store) = store_with_route().await;
    let now = Utc::now();
    let day = ChronoDuration::days(1);
    let as_model = |mut t: TraceRecord| {
        t.requested_model = "gpt-4o-mini".into();
        t.deployment = None;
        t
    };
    let baseline: Vec<TraceRecord> =
        window(now - day * 8, day * 7, 60, Shape::default(), 1).into_iter().map(as_model).collect();
    let recent: Vec<TraceRecord> = window(now - day, day, 60, Shape::default(), 1).into_iter().map(as_model).collect();
    store.insert_traces(&baseline).await.unwrap();
    store.insert_traces(&recent).await.unwrap();
    let report =
        drift_report(store.as_ref(), Some(&BagOfWords), &DriftQuery::last_day("gpt-4o-mini", now)).await.unwrap();
    assert_eq!((report.target_kind.as_str(), report.recent.traces), ("model", 60));
    let score = drift_score(store.as_ref(), None, &DriftQuery::last_day("gpt-4o-mini", now)).await.unwrap();
    assert!(score.is_some_and(|s| (0.0..=1.0).contains(&s)), "{score:?}");
    let capped = DriftQuery { max_traces: 40, ..DriftQuery::last_day("gpt-4o-mini", now) };
    let report = drift_report(store.as_ref(), None, &capped).await.unwrap();
    assert_eq!((report.recent.traces, report.recent.capped, report.baseline.capped), (40, true, true));
}

#[tokio::test]
async fn a_release_first_day_and_a_dataset_serve_as_baselines() {
    let (_dir, store) = store_with_route().await;
    let now = Utc::now();
    let release = store.get_release(ROUTE, "production", 1).await.unwrap().unwrap();
    // Release 1's first day (its calls only), then release 2's calls, which answer at length.
    let first_day = window(release.created_at, ChronoDuration::hours(20), 80, Shape::default(), 1);
    let other_release =
        window(release.created_at, ChronoDuration::hours(20), 80, Shape { longer: 6, ..Shape::default() }, 2);
    let recent_since = release.created_at + ChronoDuration::days(2);
    let recent =
        window(recent_since, ChronoDuration::hours(20), 80, Shape { longer: 6, seed: 2, ..Shape::default() }, 2);
    for batch in [&first_day, &other_release, &recent] {
        store.insert_traces(batch).await.unwrap();
    }
    let query = DriftQuery {
        since: recent_since,
        until: recent_since + ChronoDuration::days(1),
        baseline: Baseline::Release(1),
        ..DriftQuery::last_day(ROUTE, now)
    };
    let report = drift_report(store.as_ref(), None, &query).await.unwrap();
    assert_eq!((report.baseline.kind.as_str(), report.baseline.samples), ("release", 80));
    assert_eq!(report.environment.as_deref(), Some("production"), "both sides in the release's environment");
    assert_eq!(report.top_component.as_deref(), Some("output_length"), "{report:#?}");
    let missing = DriftQuery { baseline: Baseline::Release(9), ..query.clone() };
    let err = drift_report(store.as_ref(), None, &missing).await.unwrap_err();
    assert_eq!((err.code(), err.http_status()), ("release_not_found", 404));

    // A dataset of the same support questions with short expected answers.
    let items: Vec<DatasetItem> = (0..50)
        .map(|i| {
            let mut vars = Map::new();
            vars.insert("question".into(), Value::String(question(Shape::default(), i)));
            DatasetItem {
                input: ItemInput::Variables(vars),
                expected: Some(json!(answer(Shape::default(), i))),
                metadata: Map::new(),
            }
        })
        .collect();
    store
        .create_dataset_version(NewDatasetVersion {
            name: "faq",
            source: "test",
            parent_version: None,
            author: "ana",
            items: &items,
        })
        .await
        .unwrap();
    let by_dataset =
        DriftQuery { baseline: Baseline::Dataset { name: "faq".into(), version: Some(1) }, ..query.clone() };
    let report = drift_report(store.as_ref(), Some(&BagOfWords), &by_dataset).await.unwrap();
    assert_eq!((report.baseline.kind.as_str(), report.baseline.samples), ("dataset", 50));
    assert_eq!(report.top_component.as_deref(), Some("output_length"), "{report:#?}");
    assert!(report.skipped.iter().any(|s| s.name == "error_rate"));
    let missing = DriftQuery { baseline: Baseline::Dataset { name: "faq".into(), version: Some(4) }, ..query };
    assert_eq!(drift_report(store.as_ref(), None, &missing).await.unwrap_err().code(), "dataset_not_found");
}

/// The real all-MiniLM-L6-v2 when `GANTRY_TEST_MODELS_DIR` points at a data directory with it.
fn real_minilm() -> Option<LocalEmbedder> {
    let dir = std::path::PathBuf::from(std::env::var_os("GANTRY_TEST_MODELS_DIR")?).join("models/all-MiniLM-L6-v2");
    let provider = gantry_local::LocalEmbeddingProvider::load(&dir).ok()?;
    Some(LocalEmbedder::new(provider, "all-MiniLM-L6-v2"))
}

#[tokio::test]
async fn real_minilm_tells_a_new_topic_from_the_same_one() {
    let Some(minilm) = real_minilm() else {
        println!("skipping: the real MiniLM was not found (set GANTRY_TEST_MODELS_DIR)");
        return;
    };
    let same = report_for(Shape::default(), &minilm).await;
    let shifted = report_for(Shape { cooking: true, ..Shape::default() }, &minilm).await;
    let show = |r: &DriftReport| {
        let c = |n: &str| component(r, n).clone();
        format!(
            "score {:.3} ({}), topics PSI {:.3}, centroid distance {:.4} (chance {:.4})",
            r.score,
            r.level.as_str(),
            c("input_topics").statistic,
            c("input_centroid").recent.unwrap_or_default(),
            c("input_centroid").chance * SIGNIFICANT_CENTROID_DISTANCE / SIGNIFICANT_DRIFT
        )
    };
    println!("MiniLM unshifted: {}\nMiniLM shifted:   {}", show(&same), show(&shifted));
    for c in &same.components {
        println!("  unshifted {:<20} {:.3}  {}", c.name, c.contribution, c.detail);
    }
    assert_eq!(same.level, DriftLevel::None, "{same:#?}");
    assert_eq!(shifted.level, DriftLevel::Significant);
    let top = shifted.top_component.as_deref().unwrap();
    assert!(top == "input_topics" || top == "input_centroid", "{shifted:#?}");
}
