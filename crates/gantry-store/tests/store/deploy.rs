//! Releases numbered per route and environment, deployments replaced only from the state the
//! caller saw, and the history newest first.

use chrono::Utc;
use gantry_store::{open_store, NewRelease};
use gantry_types::{Canary, Deployment, DeploymentAction, DeploymentEvent, GateReport, ReleaseGate, ReleaseTarget};

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
        updated_by: "ana".into(),
        updated_at: first.created_at,
    };
    assert!(store.replace_deployment(None, &deployed, &event(DeploymentAction::Promote, None, 1)).await.unwrap());
    // A second first promotion (another process) does not overwrite it.
    assert!(!store.replace_deployment(None, &deployed, &event(DeploymentAction::Promote, None, 1)).await.unwrap());
    let read = store.get_deployment("bot", "production").await.unwrap().unwrap();
    assert_eq!(read, deployed);

    let canary =
        Deployment { canary: Some(Canary { release: 2, percent: 20.0 }), updated_at: Utc::now(), ..read.clone() };
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
    assert_eq!(now.canary, Some(Canary { release: 2, percent: 20.0 }));

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
