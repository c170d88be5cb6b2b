//! Releases numbered per route and environment, deployments replaced only from the state the
//! caller saw, and the history newest first.

use crate::trace;
use chrono::Utc;
use gantry_store::{open_store, NewRelease};
use gantry_types::{
    AdaptivePolicy, Canary, CanaryGuard, Deployment, DeploymentAction, DeploymentEvent, DeploymentUse, Experiment,
    ExperimentVariant, Feedback, FeedbackValue, GateReport, ReleaseGate, ReleaseTarget, ScoreBound, TraceStatus,
};

fn event(action: DeploymentAction, from: Option<u32>, to: u32) -> DeploymentEvent {
    DeploymentEvent {
        route: "bot".into(),
        environment: "production".into(),
        action,
        from_release: from,
        to_release: Some(to),
        actor: "ana".into(),
        at: Utc::now(),
        reason: None,
    }
}

#[tokio::test]
async fn releases_deployments_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let v1: ReleaseTarget = "prompt:support@1".parse().unwrap();
    let gate = ReleaseGate {
        suite: "support".into(),
        run_id: "run-1".into(),
        baseline_run_id: None,
        report: GateReport { passed: true, checks: vec![] },
    };
    let new = |target| NewRelease {
        route: "bot",
        environment: "production",
        target,
        model: Some("gpt-4o-mini"),
        promoted_by: "ana",
        gate: None,
        note: None,
    };
    let first = store.create_release(NewRelease { gate: Some(&gate), ..new(&v1) }).await.unwrap();
    assert_eq!((first.number, first.target.to_string()), (1, "prompt:support@1".to_string()));
    let v2: ReleaseTarget = "prompt:support@2".parse().unwrap();
    let second = store.create_release(new(&v2)).await.unwrap();
    assert_eq!(second.number, 2);
    // Numbers count per environment.
    let staging = store.create_release(NewRelease { environment: "staging", ..new(&v2) }).await.unwrap();
    assert_eq!(staging.number, 1);
    assert_eq!(store.get_release("bot", "production", 1).await.unwrap(), Some(first.clone()));
    assert_eq!(store.list_releases("bot", "production").await.unwrap(), vec![first.clone(), second.clone()]);

    let deployed = Deployment {
        route: "bot".into(),
        environment: "production".into(),
        current: 1,
        canary: None,
        experiment: None,
        updated_by: "ana".into(),
        updated_at: first.created_at,
    };
    assert!(store.replace_deployment(None, &deployed, &event(DeploymentAction::Promote, None, 1)).await.unwrap());
    // A second first promotion (another process) does not overwrite it.
    assert!(!store.replace_deployment(None, &deployed, &event(DeploymentAction::Promote, None, 1)).await.unwrap());
    let read = store.get_deployment("bot", "production").await.unwrap().unwrap();
    assert_eq!(read, deployed);

    let guard = CanaryGuard {
        max_error_rate: Some(0.1),
        min_score: Some(ScoreBound { name: "thumbs".into(), min: 0.6 }),
        min_requests: 30,
    };
    let with_canary = Canary { release: 2, percent: 20.0, guard: Some(guard) };
    let canary = Deployment { canary: Some(with_canary.clone()), updated_at: Utc::now(), ..read.clone() };
    assert!(store
        .replace_deployment(Some(&read), &canary, &event(DeploymentAction::Canary, Some(1), 2))
        .await
        .unwrap());
    // The state the caller saw is gone: the change is refused and nothing is recorded.
    let stale = Deployment { current: 2, canary: None, ..read.clone() };
    assert!(!store
        .replace_deployment(Some(&read), &stale, &event(DeploymentAction::PromoteFull, Some(1), 2))
        .await
        .unwrap());
    let now = store.get_deployment("bot", "production").await.unwrap().unwrap();
    assert_eq!(now.canary, Some(with_canary));

    store
        .record_deployment_event(&DeploymentEvent {
            reason: Some("answer.mean 0.4 < 0.8".into()),
            ..event(DeploymentAction::GateRefused, Some(1), 3)
        })
        .await
        .unwrap();
    let history = store.deployment_history(Some("bot"), None, 10).await.unwrap();
    let actions: Vec<DeploymentAction> = history.iter().map(|e| e.action).collect();
    assert_eq!(actions, [DeploymentAction::GateRefused, DeploymentAction::Canary, DeploymentAction::Promote]);
    assert_eq!(history[0].reason.as_deref(), Some("answer.mean 0.4 < 0.8"));
    assert_eq!(store.deployment_history(Some("other"), None, 10).await.unwrap(), vec![]);
    assert_eq!(store.list_deployments().await.unwrap().len(), 1);
    assert_eq!(store.get_release("bot", "production", 1).await.unwrap().unwrap().gate, Some(gate));
}

fn routed(release: u32, variant: &str, status: TraceStatus, latency_ms: f64) -> gantry_types::TraceRecord {
    let mut t = trace("bot", status, 1);
    t.latency_ms = latency_ms;
    t.deployment =
        Some(DeploymentUse { route: "bot".into(), environment: "production".into(), release, variant: variant.into() });
    t
}

#[tokio::test]
async fn experiments_round_trip_and_arms_add_up_per_release_and_variant() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let experiment = Experiment {
        id: "e-1".into(),
        variants: vec![
            ExperimentVariant { name: "a".into(), release: 1, weight: 0.5 },
            ExperimentVariant { name: "b".into(), release: 2, weight: 0.5 },
        ],
        adaptive: Some(AdaptivePolicy { metric: "thumbs".into(), min_weight: 0.05, min_samples: 10 }),
        started_at: Utc::now(),
    };
    let deployed = Deployment {
        route: "bot".into(),
        environment: "production".into(),
        current: 1,
        canary: None,
        experiment: Some(experiment),
        updated_by: "ana".into(),
        updated_at: Utc::now(),
    };
    assert!(store.replace_deployment(None, &deployed, &event(DeploymentAction::Experiment, Some(1), 1)).await.unwrap());
    let read = store.get_deployment("bot", "production").await.unwrap().unwrap();
    // Microseconds are what the store keeps.
    assert_eq!(read.experiment.as_ref().map(|e| &e.variants), deployed.experiment.as_ref().map(|e| &e.variants));
    assert_eq!(read.experiment.as_ref().unwrap().adaptive, deployed.experiment.as_ref().unwrap().adaptive);

    let a = [routed(1, "a", TraceStatus::Ok, 10.0), routed(1, "a", TraceStatus::Ok, 30.0)];
    let b = [
        routed(2, "b", TraceStatus::Ok, 100.0),
        routed(2, "b", TraceStatus::Error, 200.0),
        routed(2, "b", TraceStatus::Ok, 300.0),
    ];
    let mut staging = routed(1, "a", TraceStatus::Error, 5.0);
    staging.deployment.as_mut().unwrap().environment = "staging".into();
    let mut old = routed(1, "a", TraceStatus::Error, 5.0);
    old.started_at = Utc::now() - chrono::Duration::days(3);
    let plain = trace("bot", TraceStatus::Error, 1);
    let all: Vec<_> = a.iter().chain(&b).cloned().chain([staging, old, plain]).collect();
    store.insert_traces(&all).await.unwrap();
    for (trace, value) in [(&a[0], true), (&a[1], false), (&b[0], true), (&b[2], true)] {
        let feedback = Feedback {
            id: uuid::Uuid::now_v7(),
            trace_id: trace.id,
            name: "thumbs".into(),
            value: FeedbackValue::Bool(value),
            comment: None,
            author: "u".into(),
            created_at: Utc::now(),
        };
        store.insert_feedback(&feedback).await.unwrap();
    }

    let arms = store.arm_totals("bot", "production", Utc::now() - chrono::Duration::hours(1)).await.unwrap();
    assert_eq!(arms.len(), 2, "{arms:?}");
    let (arm_a, arm_b) = (&arms[0], &arms[1]);
    assert_eq!((arm_a.release, arm_a.variant.as_str(), arm_a.requests, arm_a.errors), (1, "a", 2, 0));
    assert_eq!((arm_b.release, arm_b.variant.as_str(), arm_b.requests, arm_b.errors), (2, "b", 3, 1));
    assert_eq!(arm_b.latency_ms.mean(), Some(200.0));
    assert_eq!(arm_b.latency_ms.variance(), Some(10_000.0));
    assert_eq!(arm_a.scores["thumbs"].n, 2);
    assert_eq!(arm_a.scores["thumbs"].mean(), Some(0.5));
    assert_eq!(arm_b.scores["thumbs"].mean(), Some(1.0));
    assert!((arm_b.cost_usd.sum - 3.0 * 0.000_12).abs() < 1e-12);
    assert_eq!(store.arm_totals("bot", "staging", Utc::now() - chrono::Duration::hours(1)).await.unwrap()[0].errors, 1);
}
