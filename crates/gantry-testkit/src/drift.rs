//! Synthetic traffic of a deployed route for drift tests: customer-support questions with
//! answers, and the shifts a drift check must notice (another topic, longer answers, refusals
//! of the same length, failures). Deterministic: the same shape and index give the same call.

use chrono::{DateTime, Duration, Utc};
use gantry_store::{NewRelease, Store};
use gantry_types::{
    Deployment, DeploymentAction, DeploymentEvent, DeploymentUse, Release, ReleaseTarget, TraceId, TraceKind,
    TraceRecord, TraceStatus,
};
use serde_json::json;

const SUPPORT_TOPICS: [&str; 10] = [
    "password",
    "order",
    "refund",
    "invoice",
    "subscription",
    "account email",
    "delivery date",
    "payment method",
    "shipping address",
    "discount coupon",
];
const SUPPORT_FORMS: [&str; 5] = [
    "How do I change my {}?",
    "I have a problem with my {}, can you help me please?",
    "Why was my {} not updated after I contacted you yesterday?",
    "Where can I see the details of my {}?",
    "My {} looks wrong, what should I do now?",
];
const COOKING_TOPICS: [&str; 10] = [
    "tomato pasta sauce",
    "sourdough bread",
    "roast chicken",
    "chocolate cake",
    "vegetable soup",
    "beef stew",
    "apple pie",
    "fried rice",
    "banana pancakes",
    "lentil curry",
];
const COOKING_FORMS: [&str; 5] = [
    "What is the best recipe for {}?",
    "How long should I bake or cook {}?",
    "Which spices go well with {} for dinner?",
    "Can I freeze {} and reheat it later?",
    "How do I make {} without an oven?",
];
const FILLER: &str = "You can find this under Settings on your account page. ";

/// How the synthetic calls of a window look; the default is plain support traffic.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrafficShape {
    /// Cooking questions instead of support ones.
    pub cooking: bool,
    /// Filler sentences added to every answer.
    pub longer: usize,
    /// Every n-th answer is a refusal of the same length as the answer it replaces (0: none).
    pub refuse_every: usize,
    /// Every n-th call fails (0: none).
    pub fail_every: usize,
    /// Which stream of calls: windows with other seeds are other samples of the same traffic.
    pub seed: usize,
}

const GREETINGS: [&str; 4] = ["", "Hi, ", "Hello team, ", "Good morning. "];

/// Pseudo-random digits of call `n` (a multiplicative hash), so the topic, phrasing, greeting
/// and answer length vary independently and two windows are two samples of one distribution.
fn digits(n: usize) -> u64 {
    let mut z = (n as u64).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The user's question of call `i`.
pub fn question(shape: TrafficShape, i: usize) -> String {
    let (topics, forms) = if shape.cooking { (COOKING_TOPICS, COOKING_FORMS) } else { (SUPPORT_TOPICS, SUPPORT_FORMS) };
    let n = i + shape.seed * 1_000_000;
    let d = digits(n);
    let text = forms[(d / 10 % 5) as usize].replace("{}", topics[(d % 10) as usize]);
    format!("{}{text} (ticket {})", GREETINGS[(d / 50 % 4) as usize], 1000 + (d / 200) % 9000)
}

/// The answer of call `i`.
pub fn answer(shape: TrafficShape, i: usize) -> String {
    let n = i + shape.seed * 1_000_000;
    let d = digits(n);
    let topic = SUPPORT_TOPICS[(d % 10) as usize];
    let sentences = 1 + (d / 7 % 4) as usize + shape.longer;
    let normal = format!("Thanks for reaching out about your {topic}. {}", FILLER.repeat(sentences));
    if shape.refuse_every > 0 && i.is_multiple_of(shape.refuse_every) {
        let refusal = format!("I'm sorry, but I can't help with that. {}", "Please contact support. ".repeat(40));
        return refusal.chars().take(normal.chars().count()).collect();
    }
    normal
}

/// Call `i` of `route` (production, `release`) started at `at`.
pub fn route_call(route: &str, at: DateTime<Utc>, shape: TrafficShape, i: usize, release: u32) -> TraceRecord {
    let failed = shape.fail_every > 0 && i.is_multiple_of(shape.fail_every);
    TraceRecord {
        id: TraceId::new(),
        parent_id: None,
        name: None,
        started_at: at,
        kind: TraceKind::Chat,
        requested_model: route.into(),
        provider: Some("oa".into()),
        upstream_model: Some("gpt-4o-mini".into()),
        attempts: vec![],
        status: if failed { TraceStatus::Error } else { TraceStatus::Ok },
        http_status: if failed { 502 } else { 200 },
        error: None,
        stream: false,
        request: json!({"model": route, "messages": [
            {"role": "system", "content": "You are a helpful support agent."},
            {"role": "user", "content": question(shape, i)}]}),
        response: (!failed).then(|| json!({"role": "assistant", "content": answer(shape, i)})),
        finish_reason: Some("stop".into()),
        prompt_tokens: Some(40),
        completion_tokens: Some(60),
        total_tokens: Some(100),
        latency_ms: 500.0,
        ttft_ms: None,
        cost_usd: None,
        prompt: None,
        output_check: None,
        api_key_id: None,
        guardrails: vec![],
        deployment: Some(DeploymentUse {
            route: route.into(),
            environment: "production".into(),
            release,
            variant: "stable".into(),
        }),
    }
}

/// `n` calls of `route` spread evenly over `[since, since + span)`.
pub fn route_window(
    route: &str,
    since: DateTime<Utc>,
    span: Duration,
    n: usize,
    shape: TrafficShape,
    release: u32,
) -> Vec<TraceRecord> {
    let step = span / i32::try_from(n.max(1)).unwrap();
    (0..n).map(|i| route_call(route, since + step * i32::try_from(i).unwrap(), shape, i, release)).collect()
}

/// Deploys `route` in production as release 1 of `model:gpt-4o-mini`; returns the release.
pub async fn deploy_route(store: &dyn Store, route: &str) -> Release {
    let target: ReleaseTarget = "model:gpt-4o-mini".parse().unwrap();
    let new = NewRelease {
        route,
        environment: "production",
        target: &target,
        model: None,
        promoted_by: "ana",
        gate: None,
        note: None,
    };
    let release = store.create_release(new).await.unwrap();
    let deployment = Deployment {
        route: route.into(),
        environment: "production".into(),
        current: release.number,
        canary: None,
        experiment: None,
        updated_by: "ana".into(),
        updated_at: release.created_at,
    };
    let event = DeploymentEvent {
        route: route.into(),
        environment: "production".into(),
        action: DeploymentAction::Promote,
        from_release: None,
        to_release: Some(release.number),
        actor: "ana".into(),
        at: release.created_at,
        reason: None,
    };
    assert!(store.replace_deployment(None, &deployment, &event).await.unwrap());
    release
}
