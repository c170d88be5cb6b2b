use super::rules::{parse_for, validate_with_env};
use super::*;
use crate::config::{parse, validate as validate_config, Overrides};
use chrono::{Duration as ChronoDuration, TimeZone};
use gantry_types::{TraceId, TraceKind, TraceRecord, TraceStatus};
use serde_json::json;
use std::sync::Mutex;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn minutes(n: i64) -> ChronoDuration {
    ChronoDuration::minutes(n)
}

#[test]
fn pending_fires_only_after_the_for_duration() {
    let wait = Duration::from_secs(120);
    let s = step(AlertState::Inactive, None, true, t0(), wait);
    assert_eq!((s.state, s.since, s.transition), (AlertState::Pending, Some(t0()), Some(AlertEventKind::Pending)));
    let s = step(s.state, s.since, true, t0() + minutes(1), wait);
    assert_eq!((s.state, s.transition), (AlertState::Pending, None), "1m of 2m");
    let s = step(s.state, s.since, true, t0() + minutes(2), wait);
    assert_eq!((s.state, s.since, s.transition), (AlertState::Firing, Some(t0()), Some(AlertEventKind::Firing)));
    let s = step(s.state, s.since, true, t0() + minutes(3), wait);
    assert_eq!((s.state, s.transition), (AlertState::Firing, None), "no second firing while it holds");
    let s = step(s.state, s.since, false, t0() + minutes(4), wait);
    assert_eq!((s.state, s.since, s.transition), (AlertState::Inactive, None, Some(AlertEventKind::Resolved)));
    let s = step(s.state, s.since, false, t0() + minutes(5), wait);
    assert_eq!((s.state, s.transition), (AlertState::Inactive, None));
}

#[test]
fn a_zero_for_fires_at_once_and_flapping_inside_for_never_fires() {
    let s = step(AlertState::Inactive, None, true, t0(), Duration::ZERO);
    assert_eq!((s.state, s.transition), (AlertState::Firing, Some(AlertEventKind::Firing)));

    let wait = Duration::from_secs(300);
    let (mut state, mut since) = (AlertState::Inactive, None);
    let mut transitions = Vec::new();
    for i in 0..10 {
        // Holds every other minute: never for 5 minutes in a row.
        let s = step(state, since, i % 2 == 0, t0() + minutes(i), wait);
        (state, since) = (s.state, s.since);
        transitions.extend(s.transition);
    }
    assert!(!transitions.contains(&AlertEventKind::Firing), "{transitions:?}");
    assert_eq!(transitions.iter().filter(|k| **k == AlertEventKind::Pending).count(), 5);
    assert_eq!(transitions.iter().filter(|k| **k == AlertEventKind::Cancelled).count(), 5);
}

#[test]
fn for_durations_parse() {
    assert_eq!(parse_for("0"), Ok(Duration::ZERO));
    assert_eq!(parse_for("30s"), Ok(Duration::from_secs(30)));
    assert_eq!(parse_for("5m"), Ok(Duration::from_secs(300)));
    assert_eq!(parse_for("1h"), Ok(Duration::from_secs(3600)));
    for bad in ["", "5", "m", "5y", "-1m", "1.5m"] {
        assert!(parse_for(bad).is_err(), "{bad}");
    }
}

#[test]
fn every_problem_of_the_alert_config_is_reported_at_once() {
    let raw = parse(
        r#"
        [alerting]
        interval_s = 0
        [alerting.webhooks.ops]
        url = "https://hooks.example.com/services/T000/B000/sekrit"
        format = "teams"
        headers = { Authorization = "env:NOT SET" }
        [alerting.webhooks.plain]
        url = "ftp://example.com/hook"
        [[alerts]]
        name = "errors"
        metric = "error_rate"
        op = "=>"
        threshold = 0.1
        window = "5s"
        for = "soon"
        webhooks = ["pager"]
        [[alerts]]
        name = "errors"
        metric = "drift:"
        op = ">"
        threshold = 0.5
        webhooks = ["ops"]
        [[alerts]]
        name = "slo"
        metric = "objective:missing"
        op = ">="
        severity = "urgent"
        webhooks = []
        [[alerts]]
        name = "thumbs"
        metric = "feedback:thumbs"
        op = "<"
        threshold = 0.5
        route = "support"
        webhooks = ["ops"]
        "#,
    )
    .unwrap();
    let err = validate_config(raw, Overrides::default()).unwrap_err();
    let text = err.to_string();
    for needle in [
        "alerting.interval_s must be at least 1",
        "alerting.webhooks.ops.format 'teams' is unknown",
        "alerting.webhooks.ops.headers.Authorization: 'env:' must be followed by the NAME",
        "alerting.webhooks.plain.url must be an http:// or https:// URL",
        "alerts[0] ('errors').op '=>' is unknown",
        "alerts[0] ('errors').window: '5s'",
        "alerts[0] ('errors').for: 'soon'",
        "alerts[0] ('errors').webhooks: 'pager' is not defined",
        "alerts[1] ('errors'): the name is defined twice",
        "alerts[1] ('errors').metric 'drift:': drift:ROUTE names the route",
        "alerts[2] ('slo').metric 'objective:missing' names no objective",
        "alerts[2] ('slo').threshold is missing",
        "alerts[2] ('slo').severity 'urgent' is unknown",
        "alerts[2] ('slo').webhooks is empty",
        "alerts[3] ('thumbs').route: feedback rules can be scoped by model, prompt or key only",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    assert_eq!(err.problems.len(), 15, "{text}");
    assert!(!text.contains("sekrit"), "a webhook URL's path must not be echoed:\n{text}");
}

#[test]
fn a_valid_config_reads_webhooks_rules_and_secret_headers() {
    let raw: RawAlerting = toml::from_str(
        r#"
        retries = 5
        backoff_base_ms = 10
        [webhooks.slack]
        url = "https://hooks.example.com/services/x"
        format = "slack"
        [webhooks.plain]
        url = "http://127.0.0.1:9/alerts"
        headers = { Authorization = "env:ALERT_TOKEN" }
        "#,
    )
    .unwrap();
    let rules: Vec<RawAlertRule> = vec![toml::from_str(
        r#"
        name = "slow"
        metric = "latency_p95_ms"
        model = "gpt-4o"
        op = ">"
        threshold = 2000
        window = "15m"
        for = "2m"
        severity = "critical"
        webhooks = ["slack", "plain"]
        "#,
    )
    .unwrap()];
    let mut problems = Vec::new();
    let env = |name: &str| (name == "ALERT_TOKEN").then(|| "Bearer s3cret".to_string());
    let settings = validate_with_env(&raw, &rules, &[], &mut problems, &env);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(settings.delivery.retries, 5);
    assert_eq!(settings.delivery.backoff_base, Duration::from_millis(10));
    assert_eq!(settings.webhooks["slack"].format, WebhookFormat::Slack);
    assert_eq!(settings.webhooks["plain"].format, WebhookFormat::Json);
    assert_eq!(settings.webhooks["plain"].headers[0].1.expose(), "Bearer s3cret");
    assert!(!format!("{:?}", settings.webhooks).contains("s3cret"), "header values are never printed");
    let rule = &settings.rules[0];
    assert_eq!(rule.metric, AlertMetric::Traffic(rules::TrafficMetric::LatencyP95Ms));
    assert_eq!((rule.op, rule.threshold), (CompareOp::Above, 2000.0));
    assert_eq!((rule.window, rule.for_duration), (Duration::from_secs(900), Duration::from_secs(120)));
    assert_eq!(rule.filter.model.as_deref(), Some("gpt-4o"));
}

fn call(at: DateTime<Utc>, status: TraceStatus) -> TraceRecord {
    TraceRecord {
        id: TraceId::new(),
        parent_id: None,
        name: None,
        started_at: at,
        kind: TraceKind::Chat,
        requested_model: "m".into(),
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
        prompt_tokens: Some(10),
        completion_tokens: Some(5),
        total_tokens: Some(15),
        latency_ms: 100.0,
        ttft_ms: None,
        cost_usd: Some(0.001),
        prompt: None,
        output_check: None,
        api_key_id: None,
        guardrails: vec![],
        deployment: None,
    }
}

/// Keeps every notification instead of sending it.
#[derive(Default)]
struct Recorder(Mutex<Vec<Notification>>);

impl Notify for Recorder {
    fn notify(&self, notification: Notification) {
        self.0.lock().unwrap().push(notification);
    }
}

impl Recorder {
    fn kinds(&self) -> Vec<AlertEventKind> {
        self.0.lock().unwrap().iter().map(|n| n.event.kind).collect()
    }
}

fn error_rule(for_duration: &str) -> Vec<AlertRule> {
    let raw = parse(&format!(
        r#"
        [alerting.webhooks.ops]
        url = "http://127.0.0.1:9/hook"
        [[alerts]]
        name = "errors"
        metric = "error_rate"
        op = ">"
        threshold = 0.2
        window = "5m"
        for = "{for_duration}"
        webhooks = ["ops"]
        "#
    ))
    .unwrap();
    validate_config(raw, Overrides::default()).unwrap().alerting.rules
}

#[tokio::test]
async fn the_engine_notifies_once_while_firing_resolves_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = gantry_store::open_store(None, dir.path()).await.unwrap();
    // Half of the calls fail between 12:00 and 12:03, then every call succeeds.
    let mut traces = Vec::new();
    for i in 0..6 {
        let status = if i % 2 == 0 { TraceStatus::Error } else { TraceStatus::Ok };
        traces.push(call(t0() + ChronoDuration::seconds(30 * i), status));
    }
    for i in 0..20 {
        traces.push(call(t0() + minutes(8) + ChronoDuration::seconds(i), TraceStatus::Ok));
    }
    store.insert_traces(&traces).await.unwrap();

    let rules: Arc<[AlertRule]> = error_rule("1m").into();
    let recorder = Arc::new(Recorder::default());
    let mut engine = AlertEngine::load(store.clone(), rules.clone(), recorder.clone()).await.unwrap();
    let at = |m: i64| t0() + minutes(m) + ChronoDuration::seconds(10);

    let outcome = engine.tick(at(2)).await;
    assert_eq!(outcome[0].value, Some(0.5));
    assert_eq!((outcome[0].state, outcome[0].transition), (AlertState::Pending, Some(AlertEventKind::Pending)));
    assert!(recorder.kinds().is_empty(), "nobody is told while pending");
    let outcome = engine.tick(at(3)).await;
    assert_eq!((outcome[0].state, outcome[0].transition), (AlertState::Firing, Some(AlertEventKind::Firing)));
    engine.tick(at(4)).await;
    assert_eq!(recorder.kinds(), vec![AlertEventKind::Firing], "one notification while firing");
    let firing = recorder.0.lock().unwrap()[0].clone();
    assert_eq!((firing.event.value, firing.event.started_at), (Some(0.5), Some(at(2))));
    assert_eq!(firing.window, "5m");

    // A restart carries on from the stored state: still firing, not notified again.
    let restarted = Arc::new(Recorder::default());
    let mut engine = AlertEngine::load(store.clone(), rules.clone(), restarted.clone()).await.unwrap();
    let outcome = engine.tick(at(5)).await;
    assert_eq!((outcome[0].state, outcome[0].transition), (AlertState::Firing, None));
    assert!(restarted.kinds().is_empty());

    // 12:10: the window holds only successful calls.
    let outcome = engine.tick(at(10)).await;
    assert_eq!(outcome[0].value, Some(0.0));
    assert_eq!((outcome[0].state, outcome[0].transition), (AlertState::Inactive, Some(AlertEventKind::Resolved)));
    assert_eq!(restarted.kinds(), vec![AlertEventKind::Resolved]);
    assert_eq!(restarted.0.lock().unwrap()[0].event.started_at, Some(at(2)), "resolved says since when it fired");

    let history = history(store.as_ref(), Some("errors"), 10).await.unwrap();
    let kinds: Vec<_> = history.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![AlertEventKind::Resolved, AlertEventKind::Firing, AlertEventKind::Pending]);
    let settings = AlertingSettings { rules: rules.to_vec(), ..AlertingSettings::default() };
    let status = statuses(store.as_ref(), &settings).await.unwrap();
    assert_eq!(
        (status[0].state, status[0].value, status[0].evaluated_at),
        (AlertState::Inactive, Some(0.0), Some(at(10)))
    );
}

#[tokio::test]
async fn a_rule_without_data_does_not_fire_and_a_route_is_read_from_the_traces() {
    let dir = tempfile::tempdir().unwrap();
    let store = gantry_store::open_store(None, dir.path()).await.unwrap();
    let rules: Arc<[AlertRule]> = error_rule("0").into();
    let recorder = Arc::new(Recorder::default());
    let mut engine = AlertEngine::load(store.clone(), rules, recorder.clone()).await.unwrap();
    let outcome = engine.tick(t0()).await;
    assert_eq!((outcome[0].value, outcome[0].state), (None, AlertState::Inactive));

    let mut routed = call(t0() - minutes(1), TraceStatus::Error);
    routed.deployment = Some(gantry_types::DeploymentUse {
        route: "support".into(),
        environment: "staging".into(),
        release: 2,
        variant: "canary".into(),
    });
    store.insert_traces(&[routed, call(t0() - minutes(1), TraceStatus::Ok)]).await.unwrap();
    let window = |route: &str, environment: Option<&str>| gantry_store::TraceWindow {
        since: t0() - minutes(5),
        until: t0(),
        model: None,
        prompt: None,
        api_key_id: None,
        route: Some(route.to_string()),
        environment: environment.map(str::to_string),
    };
    let cell = store.trace_window_totals(&window("support", Some("staging"))).await.unwrap();
    assert_eq!((cell.requests, cell.errors, cell.prompt_tokens), (1, 1, 10));
    assert_eq!(store.trace_window_totals(&window("support", Some("production"))).await.unwrap().requests, 0);
    assert_eq!(store.trace_window_totals(&window("other", None)).await.unwrap().requests, 0);
}

#[tokio::test]
async fn a_drift_rule_fires_when_the_route_shifts_and_has_no_value_without_traffic() {
    use gantry_testkit::drift::{deploy_route, route_window, TrafficShape};
    let raw = parse(
        r#"
        [alerting.webhooks.ops]
        url = "http://127.0.0.1:9/hook"
        [[alerts]]
        name = "support drift"
        metric = "drift:support"
        op = ">"
        threshold = 0.25
        window = "1h"
        environment = "production"
        webhooks = ["ops"]
        "#,
    )
    .unwrap();
    let rules = validate_config(raw, Overrides::default()).unwrap().alerting.rules;
    assert_eq!(rules[0].metric, AlertMetric::Drift { route: "support".into() });
    let dir = tempfile::tempdir().unwrap();
    let store = gantry_store::open_store(None, dir.path()).await.unwrap();
    deploy_route(store.as_ref(), "support").await;
    let rule = &rules[0];
    assert_eq!(measure::measure(store.as_ref(), rule, t0()).await.unwrap(), None, "no traffic: no value");

    // A week of support traffic, then an hour in which every third answer is a refusal.
    let baseline = route_window(
        "support",
        t0() - ChronoDuration::days(7),
        ChronoDuration::days(6),
        200,
        TrafficShape::default(),
        1,
    );
    let refusing = TrafficShape { refuse_every: 3, ..TrafficShape::default() };
    let recent = route_window("support", t0() - minutes(60), minutes(59), 200, refusing, 1);
    store.insert_traces(&baseline).await.unwrap();
    store.insert_traces(&recent).await.unwrap();
    let score = measure::measure(store.as_ref(), rule, t0()).await.unwrap().unwrap();
    assert!(score > 0.25, "refusals in a third of the answers drift by {score}");
    let mut engine = AlertEngine::load(store.clone(), rules.into(), Arc::new(Recorder::default())).await.unwrap();
    assert_eq!(engine.tick(t0()).await[0].state, AlertState::Firing);

    let bad = parse(
        "[alerting.webhooks.ops]\nurl = \"http://127.0.0.1:9/h\"\n[[alerts]]\nname = \"d\"\nmetric = \"drift:x\"\nop = \">\"\nthreshold = 0.1\nmodel = \"gpt\"\nwebhooks = [\"ops\"]\n",
    )
    .unwrap();
    let text = validate_config(bad, Overrides::default()).unwrap_err().to_string();
    assert!(text.contains("alerts[0] ('d').model: a drift rule names its route in the metric"), "{text}");
}
