//! API keys and the audit log: round trips, lookup by hash, revocation, spend, filters.

use super::trace;
use chrono::{Duration, Utc};
use gantry_store::open_store;
use gantry_types::{ApiKey, AuditEntry, AuditFilter, Budget, BudgetPeriod, KeyRole, TraceStatus};

fn key(id: &str, role: KeyRole) -> ApiKey {
    ApiKey {
        id: id.into(),
        name: format!("{id}-name"),
        role,
        prefix: "gk-abcde".into(),
        models: vec!["gpt-4o".into()],
        rpm: Some(60),
        tpm: None,
        budget: Some(Budget { usd: 1.5, period: BudgetPeriod::Month }),
        environment: Some("staging".into()),
        created_at: Utc::now(),
        revoked_at: None,
    }
}

#[tokio::test]
async fn keys_round_trip_are_found_by_hash_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    assert_eq!(store.count_active_keys().await.unwrap(), 0);
    let a = key("k1", KeyRole::Admin);
    let b = key("k2", KeyRole::App);
    store.insert_key(&a, "hash-a").await.unwrap();
    store.insert_key(&b, "hash-b").await.unwrap();
    assert_eq!(store.count_active_keys().await.unwrap(), 2);

    let found = store.find_key_by_hash("hash-b").await.unwrap().unwrap();
    assert_eq!(found.id, "k2");
    assert_eq!(found.role, KeyRole::App);
    assert_eq!(found.models, vec!["gpt-4o".to_string()]);
    assert_eq!(found.rpm, Some(60));
    assert_eq!(found.budget, Some(Budget { usd: 1.5, period: BudgetPeriod::Month }));
    assert!(store.find_key_by_hash("nope").await.unwrap().is_none());
    // A second key with the same hash is refused (the column is unique).
    assert!(store.insert_key(&key("k3", KeyRole::Viewer), "hash-a").await.is_err());

    let listed: Vec<String> = store.list_keys().await.unwrap().into_iter().map(|k| k.id).collect();
    assert_eq!(listed, ["k1", "k2"]);

    let at = Utc::now();
    let revoked = store.revoke_key("k2", at).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at.map(|t| t.timestamp_micros()), Some(at.timestamp_micros()));
    // Revoking again keeps the first time.
    let again = store.revoke_key("k2", at + Duration::hours(1)).await.unwrap().unwrap();
    assert_eq!(again.revoked_at, revoked.revoked_at);
    assert!(store.revoke_key("missing", at).await.unwrap().is_none());
    assert_eq!(store.count_active_keys().await.unwrap(), 1);
}

#[tokio::test]
async fn spend_sums_the_cost_of_a_keys_traces_since_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let mut old = trace("m", TraceStatus::Ok, 120);
    old.api_key_id = Some("k1".into());
    old.cost_usd = Some(1.0);
    let mut recent = trace("m", TraceStatus::Ok, 5);
    recent.api_key_id = Some("k1".into());
    recent.cost_usd = Some(0.25);
    let mut unpriced = trace("m", TraceStatus::Ok, 4);
    unpriced.api_key_id = Some("k1".into());
    unpriced.cost_usd = None;
    let mut other = trace("m", TraceStatus::Ok, 3);
    other.api_key_id = Some("k2".into());
    other.cost_usd = Some(7.0);
    store.insert_traces(&[old, recent.clone(), unpriced, other]).await.unwrap();

    let since = Utc::now() - Duration::minutes(60);
    assert!((store.key_spend_since("k1", since).await.unwrap() - 0.25).abs() < 1e-12);
    assert!((store.key_spend_since("k1", since - Duration::hours(2)).await.unwrap() - 1.25).abs() < 1e-12);
    assert_eq!(store.key_spend_since("nobody", since).await.unwrap(), 0.0);
    assert_eq!(store.get_trace(recent.id).await.unwrap().unwrap().api_key_id.as_deref(), Some("k1"));
}

#[tokio::test]
async fn audit_entries_are_listed_newest_first_and_filtered() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let now = Utc::now();
    let entry = |id: &str, actor: &str, minutes_ago: i64| AuditEntry {
        id: id.into(),
        at: now - Duration::minutes(minutes_ago),
        actor: actor.into(),
        method: "POST".into(),
        path: "/api/prompts".into(),
        status: 201,
        resource_ids: vec!["name=greet".into(), "version=2".into()],
    };
    for e in [entry("a1", "k1", 30), entry("a2", "local", 20), entry("a3", "k1", 10)] {
        store.insert_audit(&e).await.unwrap();
    }
    let all = store.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["a3", "a2", "a1"]);
    assert_eq!(all[0].resource_ids, ["name=greet", "version=2"]);
    assert_eq!(all[0].status, 201);

    let by_actor = store.list_audit(&AuditFilter { actor: Some("k1".into()), ..Default::default() }).await.unwrap();
    assert_eq!(by_actor.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["a3", "a1"]);
    let since = store
        .list_audit(&AuditFilter { since: Some(now - Duration::minutes(25)), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(since.len(), 2);
    let limited = store.list_audit(&AuditFilter { limit: Some(1), ..Default::default() }).await.unwrap();
    assert_eq!(limited[0].id, "a3");
}
