//! Authentication, admission under limits with a fake clock, and the start-up decision.

use super::bucket::tests::FakeClock;
use super::*;
use crate::config::{parse, validate};
use crate::Overrides;
use chrono::Utc;
use gantry_types::{Budget, BudgetPeriod, NewApiKey, TraceId, TraceKind, TraceStatus};

struct Fixture {
    _dir: tempfile::TempDir,
    clock: Arc<FakeClock>,
    access: AccessControl,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let raw = parse(
        "[local]\nenabled = false\n[providers.up]\ntype = \"openai\"\nbase_url = \"http://127.0.0.1:9\"\n\
         [[models]]\nname = \"m\"\ntargets = [{ provider = \"up\", model = \"up-m\" }]\n\
         [prices.up-m]\ninput_per_mtok = 1000.0\noutput_per_mtok = 1000.0\n",
    )
    .unwrap();
    let config = validate(raw, Overrides { data_dir: Some(dir.path().to_path_buf()), ..Overrides::default() }).unwrap();
    let store = gantry_store::open_store(None, dir.path()).await.unwrap();
    let clock = Arc::new(FakeClock::new("2024-05-10T12:00:00Z".parse().unwrap()));
    let access = AccessControl::new(&config, store, clock.clone());
    Fixture { _dir: dir, clock, access }
}

async fn key(f: &Fixture, new: NewApiKey) -> (Principal, String) {
    let created = create_key(f.access.store().as_ref(), new, Utc::now()).await.unwrap();
    f.access.keys_changed();
    (Principal { key: Some(created.key) }, created.secret)
}

fn app(name: &str) -> NewApiKey {
    NewApiKey { name: name.into(), role: Some(KeyRole::App), ..Default::default() }
}

fn estimate(tokens: u32) -> Estimate {
    Estimate { model: "m".into(), prompt_tokens: tokens, completion_tokens: 0 }
}

fn finished(key: &Principal, tokens: u32, cost: f64, started_at: chrono::DateTime<Utc>) -> TraceRecord {
    TraceRecord {
        id: TraceId::new(),
        parent_id: None,
        name: None,
        started_at,
        kind: TraceKind::Chat,
        requested_model: "m".into(),
        provider: None,
        upstream_model: None,
        attempts: vec![],
        status: TraceStatus::Ok,
        http_status: 200,
        error: None,
        stream: false,
        request: serde_json::json!({}),
        response: None,
        finish_reason: None,
        prompt_tokens: Some(tokens),
        completion_tokens: Some(0),
        total_tokens: Some(tokens),
        latency_ms: 1.0,
        ttft_ms: None,
        cost_usd: Some(cost),
        prompt: None,
        output_check: None,
        api_key_id: key.key_id(),
        guardrails: Vec::new(),
        deployment: None,
    }
}

#[tokio::test]
async fn without_keys_only_loopback_is_served_and_then_every_request_needs_a_key() {
    let f = fixture().await;
    assert!(f.access.authenticate(None, true).await.unwrap().key.is_none());
    assert_eq!(f.access.authenticate(None, false).await.unwrap_err().code(), "invalid_api_key");
    f.access.set_insecure(true);
    assert_eq!(f.access.authenticate(None, false).await.unwrap().actor(), "local");

    let (principal, secret) = key(&f, app("svc")).await;
    assert_eq!(f.access.authenticate(None, true).await.unwrap_err().code(), "invalid_api_key");
    let found = f.access.authenticate(Some(&secret), false).await.unwrap();
    assert_eq!(found.key_id(), principal.key_id());
    assert_eq!(found.role(), KeyRole::App);
    let wrong = f.access.authenticate(Some("gk-not-a-key"), true).await.unwrap_err();
    assert_eq!((wrong.code(), wrong.http_status()), ("invalid_api_key", 401));

    let id = principal.key_id().unwrap();
    revoke_key(f.access.store().as_ref(), &id, Utc::now()).await.unwrap();
    f.access.keys_changed();
    let revoked = f.access.authenticate(Some(&secret), true).await.unwrap_err();
    assert!(revoked.to_string().contains("revoked"), "{revoked}");
    // The only key is revoked: loopback is open again.
    assert!(f.access.authenticate(None, true).await.is_ok());
}

#[tokio::test]
async fn requests_per_minute_are_limited_with_the_wait() {
    let f = fixture().await;
    let (principal, _) = key(&f, NewApiKey { rpm: Some(2), ..app("rpm") }).await;
    drop(f.access.admit(&principal, &estimate(1)).await.unwrap());
    drop(f.access.admit(&principal, &estimate(1)).await.unwrap());
    let refused = f.access.admit(&principal, &estimate(1)).await.err().unwrap();
    assert_eq!((refused.code(), refused.http_status()), ("rate_limit_exceeded", 429));
    assert_eq!(refused.retry_after(), Some(Duration::from_secs(30)));
    f.clock.advance(Duration::from_secs(30));
    drop(f.access.admit(&principal, &estimate(1)).await.unwrap());
}

#[tokio::test]
async fn tokens_per_minute_reserve_the_estimate_and_settle_the_actual_use() {
    let f = fixture().await;
    let (principal, _) = key(&f, NewApiKey { tpm: Some(600), ..app("tpm") }).await;
    let first = f.access.admit(&principal, &estimate(400)).await.unwrap();
    // 400 reserved: another 400 does not fit.
    let refused = f.access.admit(&principal, &estimate(400)).await.err().unwrap();
    assert_eq!(refused.code(), "rate_limit_exceeded");
    assert_eq!(refused.retry_after(), Some(Duration::from_secs(20)));
    // The call used only 100: 500 are back once it is settled.
    f.access.observe(&finished(&principal, 100, 0.0, f.clock.utc_now()));
    drop(first);
    drop(f.access.admit(&principal, &estimate(400)).await.unwrap());
}

#[tokio::test]
async fn a_key_restricted_to_models_is_refused_others() {
    let f = fixture().await;
    let (principal, _) = key(&f, NewApiKey { models: vec!["m".into()], ..app("models") }).await;
    drop(f.access.admit(&principal, &estimate(1)).await.unwrap());
    let other = Estimate { model: "other".into(), ..estimate(1) };
    let refused = f.access.admit(&principal, &other).await.err().unwrap();
    assert_eq!((refused.code(), refused.http_status(), refused.param()), ("model_not_allowed", 403, Some("model")));
}

#[tokio::test]
async fn budgets_count_stored_and_unwritten_spend_and_reset_with_the_period() {
    let f = fixture().await;
    let budget = Some(Budget { usd: 1.0, period: BudgetPeriod::Day });
    let (principal, _) = key(&f, NewApiKey { budget, ..app("budget") }).await;
    // Spent earlier today, already in the store.
    let mut stored = finished(&principal, 10, 0.7, f.clock.utc_now() - chrono::Duration::hours(1));
    stored.api_key_id = principal.key_id();
    f.access.store().insert_traces(&[stored]).await.unwrap();

    // 100 tokens at $1000/Mtok: $0.10 estimated a call.
    let a = f.access.admit(&principal, &estimate(100)).await.unwrap();
    let b = f.access.admit(&principal, &estimate(100)).await.unwrap();
    let c = f.access.admit(&principal, &estimate(100)).await.unwrap();
    let busy = f.access.admit(&principal, &estimate(100)).await.err().unwrap();
    assert_eq!(busy.code(), "budget_exceeded");
    for call in [a, b, c] {
        f.access.observe(&finished(&principal, 100, 0.1, f.clock.utc_now()));
        drop(call);
    }
    // 0.7 stored + 0.3 not yet written = 1.0: spent.
    let spent = f.access.admit(&principal, &estimate(1)).await.err().unwrap();
    assert_eq!((spent.code(), spent.http_status()), ("budget_exceeded", 429));
    assert_eq!(spent.retry_after(), Some(Duration::from_secs(12 * 3600)));
    // The next day starts from zero.
    f.clock.advance(Duration::from_secs(12 * 3600));
    drop(f.access.admit(&principal, &estimate(1)).await.unwrap());
}

#[test]
fn a_public_address_without_keys_needs_insecure() {
    let public: IpAddr = "0.0.0.0".parse().unwrap();
    let loopback: IpAddr = "127.0.0.1".parse().unwrap();
    let v6_loopback: IpAddr = "::1".parse().unwrap();
    assert_eq!(start_mode(loopback, 0, false).unwrap(), StartMode::LoopbackWithoutKeys);
    assert_eq!(start_mode(v6_loopback, 0, false).unwrap(), StartMode::LoopbackWithoutKeys);
    let refused = start_mode(public, 0, false).unwrap_err();
    assert!(refused.to_string().contains("gantry keys create --name admin --role admin"), "{refused}");
    assert_eq!(start_mode(public, 0, true).unwrap(), StartMode::InsecureWithoutKeys);
    assert_eq!(start_mode(public, 1, false).unwrap(), StartMode::Keys);
}
