use super::objectives::{trend, validate, DEFAULT_WINDOW};
use super::*;
use crate::config::{parse, validate as validate_config, Overrides};
use chrono::TimeZone;
use gantry_store::histogram::MAX_RELATIVE_ERROR;
use gantry_types::{
    EvalRun, EvalRunStatus, EvaluatorSummary, Feedback, FeedbackValue, PromptUse, TraceId, TraceKind, TraceRecord,
    TraceStatus,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 30).unwrap()
}

fn call(minutes_ago: f64, model: &str, status: TraceStatus, latency_ms: f64) -> TraceRecord {
    TraceRecord {
        id: TraceId::new(),
        parent_id: None,
        name: None,
        started_at: now() - ChronoDuration::milliseconds((minutes_ago * 60_000.0) as i64),
        kind: TraceKind::Chat,
        requested_model: model.into(),
        provider: Some("oa".into()),
        upstream_model: Some("up".into()),
        attempts: vec![],
        status,
        http_status: if status == TraceStatus::Ok { 200 } else { 502 },
        error: None,
        stream: false,
        request: json!({}),
        response: None,
        finish_reason: None,
        prompt_tokens: Some(100),
        completion_tokens: Some(20),
        total_tokens: Some(120),
        latency_ms,
        ttft_ms: None,
        cost_usd: Some(0.002),
        prompt: None,
        output_check: None,
        api_key_id: None,
        guardrails: vec![],
        deployment: None,
    }
}

async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = gantry_store::open_store(None, dir.path()).await.unwrap();
    (dir, store)
}

fn query(window: &str, buckets: u32) -> AnalyticsQuery {
    let until = now();
    let since = until - ChronoDuration::from_std(parse_window(window).unwrap()).unwrap();
    AnalyticsQuery { since, until, model: None, prompt: None, api_key_id: None, buckets }
}

fn close(estimate: Option<f64>, exact: f64) -> bool {
    estimate.is_some_and(|e| (e - exact).abs() / exact <= MAX_RELATIVE_ERROR)
}

#[test]
fn windows_parse_and_print_back() {
    for (text, seconds) in
        [("15m", 900), ("1h", 3600), ("24h", 86_400), ("7d", 604_800), ("30d", 2_592_000), ("2w", 1_209_600)]
    {
        assert_eq!(parse_window(text).unwrap(), Duration::from_secs(seconds), "{text}");
    }
    assert_eq!(format_window(parse_window("24h").unwrap()), "24h");
    assert_eq!(format_window(parse_window("7d").unwrap()), "7d");
    assert_eq!(format_window(parse_window("90m").unwrap()), "90m");
    for bad in ["", "h", "0m", "10", "5s", "1y", "-1h", "1.5h", "999999d"] {
        let err = parse_window(bad).unwrap_err();
        assert_eq!((err.code(), err.param(), err.http_status()), ("invalid_window", Some("window"), 400), "{bad}");
    }
}

#[test]
fn the_grid_is_whole_minutes_and_ends_with_the_current_minute() {
    let q = query("24h", 60);
    let (start, step) = grid(q.since, q.until, q.buckets);
    assert_eq!(step, 24 * 60);
    assert_eq!(start, Utc.with_ymd_and_hms(2026, 2, 28, 12, 1, 0).unwrap());
    // 60 minutes in 7 points: 9-minute points covering 63 minutes.
    let q = query("1h", 7);
    let (start, step) = grid(q.since, q.until, q.buckets);
    assert_eq!((step, (now() - start).num_minutes()), (540, 62));
    assert_eq!(ceil_minute(Utc.with_ymd_and_hms(2026, 3, 1, 12, 1, 0).unwrap()).timestamp() % 60, 0);
}

#[tokio::test]
async fn the_dashboard_buckets_counts_and_percentiles_of_known_calls() {
    let (_dir, store) = store().await;
    let mut traces = Vec::new();
    // 200 calls to "fast" over the last hour with latencies 1..=200 ms, one call a 18 s apart.
    for i in 0..200 {
        let mut t = call(59.5 - f64::from(i) * 0.295, "fast", TraceStatus::Ok, f64::from(i + 1));
        t.api_key_id = Some(if i % 4 == 0 { "k-ops".into() } else { "k-app".into() });
        if i % 2 == 0 {
            t.prompt = Some(PromptUse { name: "qa".into(), version: 1, label: None, variables: json!({}) });
        }
        traces.push(t);
    }
    // 10 slow streamed calls 10 minutes ago, 4 of them failed.
    for i in 0..10 {
        let status = if i < 4 { TraceStatus::Error } else { TraceStatus::Ok };
        let mut t = call(10.2, "slow", status, 2000.0 + f64::from(i) * 100.0);
        t.stream = true;
        t.ttft_ms = Some(300.0 + f64::from(i));
        traces.push(t);
    }
    // Outside the window, and a span: neither counts.
    traces.push(call(61.0, "fast", TraceStatus::Ok, 5.0));
    let mut span = call(5.0, "fast", TraceStatus::Ok, 5.0);
    span.parent_id = Some(traces[0].id);
    traces.push(span);
    store.insert_traces(&traces).await.unwrap();

    let d = dashboard(store.as_ref(), &[], &query("1h", 60)).await.unwrap();
    assert_eq!((d.bucket_seconds, d.series.len()), (60, 60));
    assert_eq!(d.until, Utc.with_ymd_and_hms(2026, 3, 1, 12, 1, 0).unwrap());
    assert_eq!(d.since, d.until - ChronoDuration::hours(1));
    for (i, point) in d.series.iter().enumerate() {
        assert_eq!(point.start, d.since + ChronoDuration::minutes(i as i64));
    }
    let s = &d.summary;
    assert_eq!((s.requests, s.errors), (210, 4));
    assert!((s.error_rate - 4.0 / 210.0).abs() < 1e-12);
    assert_eq!((s.prompt_tokens, s.completion_tokens), (21_000, 4200));
    assert!((s.cost_usd - 0.42).abs() < 1e-9);
    let mut latencies: Vec<f64> = traces[..210].iter().map(|t| t.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let exact = |q: f64| latencies[((q * 210.0).ceil() as usize).max(1) - 1];
    assert!(close(s.latency_p50_ms, exact(0.5)), "{:?} vs {}", s.latency_p50_ms, exact(0.5));
    assert!(close(s.latency_p95_ms, exact(0.95)), "{:?} vs {}", s.latency_p95_ms, exact(0.95));
    assert!(close(s.latency_p99_ms, exact(0.99)), "{:?} vs {}", s.latency_p99_ms, exact(0.99));
    assert!(close(s.ttft_p50_ms, 304.0) && close(s.ttft_p95_ms, 309.0), "{s:?}");

    // The slow calls started 10.2 minutes before 12:00:30, at 11:50:18: the point from 11:50.
    let slow_point = d.series.iter().find(|p| p.start == Utc.with_ymd_and_hms(2026, 3, 1, 11, 50, 0).unwrap()).unwrap();
    assert!(slow_point.requests >= 10 && slow_point.errors == 4, "{slow_point:?}");
    assert!(close(slow_point.ttft_p50_ms, 304.0));
    assert_eq!(d.series.iter().map(|p| p.requests).sum::<u64>(), 210);
    assert_eq!(d.series.iter().map(|p| p.tokens).sum::<u64>(), 210 * 120);
    let last = d.series.last().unwrap();
    assert_eq!((last.requests, last.latency_p50_ms, last.cost_usd), (0, None, 0.0), "an empty point");

    let names = |entries: &[TopEntry]| entries.iter().map(|e| (e.name.clone(), e.requests)).collect::<Vec<_>>();
    assert_eq!(names(&d.top_models), vec![("fast".into(), 200), ("slow".into(), 10)]);
    assert_eq!(d.top_models[1].errors, 4);
    assert!(close(d.top_models[1].latency_p95_ms, 2900.0));
    assert_eq!(names(&d.top_prompts), vec![("qa".into(), 100)]);
    assert_eq!(names(&d.top_keys), vec![("k-app".into(), 150), ("k-ops".into(), 50)]);

    let mut filtered = query("1h", 4);
    filtered.model = Some("slow".into());
    let d = dashboard(store.as_ref(), &[], &filtered).await.unwrap();
    assert_eq!((d.summary.requests, d.bucket_seconds, d.series.len()), (10, 900, 4));
    assert_eq!(d.series.iter().map(|p| p.requests).collect::<Vec<_>>(), vec![0, 0, 0, 10]);

    let mut bad = query("1h", 0);
    assert_eq!(dashboard(store.as_ref(), &[], &bad).await.unwrap_err().param(), Some("buckets"));
    bad.buckets = 10;
    bad.since = bad.until;
    assert_eq!(dashboard(store.as_ref(), &[], &bad).await.unwrap_err().param(), Some("window"));
}

fn objective(name: &str, metric: ObjectiveMetric, target: f64, window: &str) -> Objective {
    Objective {
        name: name.into(),
        metric,
        target,
        window: parse_window(window).unwrap(),
        model: None,
        prompt: None,
        key: None,
    }
}

fn eval_run(id: &str, minutes_ago: i64, accuracy: f64) -> EvalRun {
    EvalRun {
        id: id.into(),
        suite: "qa-suite".into(),
        dataset: "qa".into(),
        dataset_version: 1,
        target: "model:fast".into(),
        config: json!({}),
        status: EvalRunStatus::Completed,
        created_at: now() - ChronoDuration::minutes(minutes_ago),
        finished_at: Some(now() - ChronoDuration::minutes(minutes_ago)),
        items_total: 20,
        items_done: 20,
        items_failed: 0,
        summaries: vec![EvaluatorSummary {
            evaluator: "exact".into(),
            kind: "exact_match".into(),
            metrics: BTreeMap::from([("accuracy".to_string(), accuracy), ("count".to_string(), 20.0)]),
            main: "accuracy".into(),
            scored: 20,
            unscored: 0,
        }],
        gate: None,
        baseline_run_id: None,
    }
}

#[tokio::test]
async fn objectives_are_met_or_missed_with_their_trend() {
    let (_dir, store) = store().await;
    let mut traces = Vec::new();
    // The hour before: 100 calls at 100 ms, 10 errors. This hour: 100 calls at 300 ms, 1 error.
    for i in 0..100 {
        let before = if i < 10 { TraceStatus::Error } else { TraceStatus::Ok };
        traces.push(call(119.0 - f64::from(i) * 0.5, "fast", before, 100.0));
        let this = if i < 1 { TraceStatus::Error } else { TraceStatus::Ok };
        traces.push(call(59.0 - f64::from(i) * 0.5, "fast", this, 300.0));
    }
    let rated = traces[1].id;
    store.insert_traces(&traces).await.unwrap();
    // Feedback: 2.0 on average the hour before, 4.5 this hour.
    for (minutes_ago, value) in [(90, 1.0), (80, 3.0), (30, 4.0), (20, 5.0)] {
        let feedback = Feedback {
            id: uuid::Uuid::now_v7(),
            trace_id: rated,
            name: "rating".into(),
            value: FeedbackValue::Number(value),
            comment: None,
            author: "t".into(),
            created_at: now() - ChronoDuration::minutes(minutes_ago),
        };
        store.insert_feedback(&feedback).await.unwrap();
    }
    for run in [eval_run("r1", 300, 0.8), eval_run("r2", 100, 0.7)] {
        store.create_eval_run(&run).await.unwrap();
        store.finish_eval_run(&run).await.unwrap();
    }

    let mut scoped = objective("slow-model latency", ObjectiveMetric::LatencyP95Ms, 1000.0, "1h");
    scoped.model = Some("slow".into());
    let objectives = vec![
        objective("p95", ObjectiveMetric::LatencyP95Ms, 250.0, "1h"),
        objective("errors", ObjectiveMetric::ErrorRate, 0.05, "1h"),
        objective("cost", ObjectiveMetric::CostPer1kRequests, 2.5, "1h"),
        objective("rating", ObjectiveMetric::FeedbackAvg { feedback: "rating".into() }, 4.0, "1h"),
        objective(
            "accuracy",
            ObjectiveMetric::EvalMetric { suite: "qa-suite".into(), metric: "exact".into() },
            0.75,
            "24h",
        ),
        scoped,
        objective("ttft", ObjectiveMetric::TtftP95Ms, 500.0, "1h"),
    ];
    let statuses = objective_statuses(store.as_ref(), &objectives, now()).await.unwrap();
    let by_name = |name: &str| statuses.iter().find(|s| s.name == name).unwrap();

    let p95 = by_name("p95");
    assert!(close(p95.value, 300.0) && close(p95.previous_value, 100.0), "{p95:?}");
    assert_eq!(
        (p95.met, p95.trend, p95.samples, p95.direction.as_str()),
        (Some(false), Trend::Worsening, 100, "at_most")
    );
    let errors = by_name("errors");
    assert_eq!((errors.value, errors.previous_value), (Some(0.01), Some(0.1)));
    assert_eq!((errors.met, errors.trend), (Some(true), Trend::Improving));
    let cost = by_name("cost");
    assert!((cost.value.unwrap() - 2.0).abs() < 1e-9, "0.002 USD a call is 2 USD per 1000: {cost:?}");
    assert_eq!((cost.met, cost.trend), (Some(true), Trend::Flat));
    let rating = by_name("rating");
    assert_eq!((rating.value, rating.previous_value, rating.met), (Some(4.5), Some(2.0), Some(true)));
    assert_eq!(
        (rating.trend, rating.direction.as_str(), rating.feedback.as_deref()),
        (Trend::Improving, "at_least", Some("rating"))
    );
    let accuracy = by_name("accuracy");
    assert_eq!((accuracy.value, accuracy.previous_value, accuracy.met), (Some(0.7), Some(0.8), Some(false)));
    assert_eq!((accuracy.trend, accuracy.samples), (Trend::Worsening, 20));
    let nothing = by_name("slow-model latency");
    assert_eq!((nothing.value, nothing.met, nothing.trend, nothing.samples), (None, None, Trend::Unknown, 0));
    assert_eq!(nothing.model.as_deref(), Some("slow"));
    assert_eq!(by_name("ttft").met, None, "no streamed calls");
    assert_eq!(statuses.iter().map(|s| s.name.as_str()).collect::<Vec<_>>()[..2], ["p95", "errors"]);

    let json = serde_json::to_value(by_name("p95")).unwrap();
    for field in
        ["name", "metric", "target", "window", "model", "prompt", "key", "value", "met", "previous_value", "trend"]
    {
        assert!(json.get(field).is_some(), "{field} missing: {json}");
    }
    assert_eq!((json["trend"].as_str(), json["window"].as_str()), (Some("worsening"), Some("1h")));

    // The dashboard carries the same statuses.
    let d = dashboard(store.as_ref(), &objectives, &query("24h", 24)).await.unwrap();
    assert_eq!(d.objectives, statuses);
    assert_eq!(d.summary.requests, 200);
}

#[test]
fn trends_follow_the_direction_of_the_metric() {
    assert_eq!(trend(Some(90.0), Some(100.0), false), Trend::Improving);
    assert_eq!(trend(Some(90.0), Some(100.0), true), Trend::Worsening);
    assert_eq!(trend(Some(101.0), Some(100.0), true), Trend::Flat);
    assert_eq!(trend(Some(0.0), Some(0.0), false), Trend::Flat);
    assert_eq!(trend(None, Some(1.0), false), Trend::Unknown);
    assert_eq!(trend(Some(1.0), None, false), Trend::Unknown);
}

#[test]
fn objectives_in_the_config_are_validated_all_at_once() {
    let raw = parse(
        r#"
        [local]
        enabled = false
        [[objectives]]
        name = "p95"
        metric = "latency_p95_ms"
        target = 800
        model = "gpt"
        [[objectives]]
        name = "happy"
        metric = "feedback_avg"
        feedback = "thumbs"
        target = 0.8
        window = "7d"
        [[objectives]]
        name = "quality"
        metric = "eval_metric"
        suite = "qa"
        eval_metric = "exact.accuracy"
        target = 0.9
        "#,
    )
    .unwrap();
    let config = validate_config(raw, Overrides::default()).unwrap();
    assert_eq!(config.objectives.len(), 3);
    assert_eq!(config.objectives[0].window, parse_window(DEFAULT_WINDOW).unwrap());
    assert_eq!(config.objectives[0].model.as_deref(), Some("gpt"));
    assert_eq!(config.objectives[1].metric, ObjectiveMetric::FeedbackAvg { feedback: "thumbs".into() });
    assert_eq!(
        config.objectives[2].metric,
        ObjectiveMetric::EvalMetric { suite: "qa".into(), metric: "exact.accuracy".into() }
    );

    let raw = parse(
        r#"
        [local]
        enabled = false
        [[objectives]]
        name = "a"
        metric = "latency_p50"
        target = 1
        [[objectives]]
        name = "a"
        metric = "error_rate"
        target = 5
        window = "1y"
        [[objectives]]
        metric = "feedback_avg"
        target = 4
        [[objectives]]
        name = "e"
        metric = "eval_metric"
        suite = "qa"
        model = "gpt"
        target = 0.5
        [[objectives]]
        name = "f"
        metric = "error_rate"
        feedback = "thumbs"
        [[objectives]]
        name = "g"
        metric = "latency_p99_ms"
        target = -1
        "#,
    )
    .unwrap();
    let err = validate_config(raw, Overrides::default()).unwrap_err();
    let text = err.to_string();
    for needle in [
        "objectives[0] ('a').metric 'latency_p50' is unknown",
        "objectives[1] ('a'): the name is defined twice",
        "error_rate is a fraction from 0 to 1, got 5",
        "objectives[1] ('a').window: '1y' is not a window",
        "objectives[2].name is missing",
        "objectives[2]: metric = \"feedback_avg\" needs feedback",
        "objectives[3] ('e'): metric = \"eval_metric\" needs eval_metric",
        "objectives[3] ('e').model: an eval_metric objective is scoped by its suite",
        "objectives[4] ('f').feedback applies only to metric = \"feedback_avg\"",
        "objectives[4] ('f').target is missing",
        "objectives[5] ('g').target must not be negative",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(err.problems.len(), 11, "{text}");
    let mut problems = Vec::new();
    assert!(validate(&[RawObjective::default()], &mut problems).is_empty());
    assert_eq!(problems.len(), 3, "name, metric and target: {problems:?}");
}
