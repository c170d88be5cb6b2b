//! A generated store of realistic traces, for dashboard tests and benchmarks: calls arriving as
//! a Poisson process whose rate follows the time of day, over several models (log-normal
//! latencies of their own, streamed calls with a time to first token), registered prompts and
//! API keys, with some errors and cancellations, and priced tokens. The same seed gives the
//! same traces.

use chrono::{DateTime, Duration, Utc};
use gantry_store::{Store, StoreError};
use gantry_types::{Attempt, PromptUse, TraceError, TraceId, TraceKind, TraceRecord, TraceStatus};
use serde_json::json;

/// Traces written per transaction.
const BATCH: usize = 5000;

/// A model the generator calls: name, provider, share of calls, median latency (ms), spread
/// (sigma of ln latency), error rate, USD per million input and output tokens.
struct ModelProfile {
    name: &'static str,
    provider: &'static str,
    upstream: &'static str,
    weight: f64,
    median_ms: f64,
    sigma: f64,
    error_rate: f64,
    price_in: f64,
    price_out: f64,
    embeddings: bool,
}

const MODELS: [ModelProfile; 5] = [
    ModelProfile {
        name: "gpt-4o",
        provider: "openai",
        upstream: "gpt-4o-2024-08-06",
        weight: 0.35,
        median_ms: 900.0,
        sigma: 0.5,
        error_rate: 0.015,
        price_in: 2.5,
        price_out: 10.0,
        embeddings: false,
    },
    ModelProfile {
        name: "gpt-4o-mini",
        provider: "openai",
        upstream: "gpt-4o-mini",
        weight: 0.40,
        median_ms: 450.0,
        sigma: 0.45,
        error_rate: 0.01,
        price_in: 0.15,
        price_out: 0.6,
        embeddings: false,
    },
    ModelProfile {
        name: "claude-sonnet",
        provider: "anthropic",
        upstream: "claude-sonnet-4-5",
        weight: 0.15,
        median_ms: 1300.0,
        sigma: 0.55,
        error_rate: 0.04,
        price_in: 3.0,
        price_out: 15.0,
        embeddings: false,
    },
    ModelProfile {
        name: "smollm2-135m-instruct",
        provider: "local",
        upstream: "smollm2-135m-instruct",
        weight: 0.07,
        median_ms: 300.0,
        sigma: 0.3,
        error_rate: 0.005,
        price_in: 0.0,
        price_out: 0.0,
        embeddings: false,
    },
    ModelProfile {
        name: "text-embedding-3-small",
        provider: "openai",
        upstream: "text-embedding-3-small",
        weight: 0.03,
        median_ms: 60.0,
        sigma: 0.4,
        error_rate: 0.005,
        price_in: 0.02,
        price_out: 0.0,
        embeddings: true,
    },
];

/// Registered prompts and their shares; the rest of the calls use none.
const PROMPTS: [(&str, f64); 5] = [
    ("support-answer", 0.2),
    ("summarize", 0.12),
    ("classify-intent", 0.08),
    ("extract-fields", 0.06),
    ("sql-writer", 0.04),
];
/// API keys and their shares; the rest of the calls use none.
const KEYS: [(&str, f64); 4] = [("key-web", 0.45), ("key-mobile", 0.25), ("key-batch", 0.15), ("key-internal", 0.1)];

const QUESTIONS: [&str; 4] = [
    "My order #4411 arrived damaged, the box was crushed and two glasses are broken. What can I do?",
    "Summarize the attached meeting notes in three bullet points for the weekly report.",
    "Which of our plans includes single sign-on, and can we switch mid-cycle without losing data?",
    "Write a SQL query that lists customers with more than three orders in the last 30 days.",
];
const ANSWERS: [&str; 4] = [
    "I'm sorry about the damage. I've opened a replacement request; you'll get a prepaid return label by email.",
    "- Launch moved to May 12\n- Hiring two engineers\n- Budget review next Tuesday",
    "Single sign-on is part of the Business plan. You can switch at any time; your data stays as it is.",
    "SELECT customer_id FROM orders WHERE created_at > now() - interval '30 days' GROUP BY 1 HAVING count(*) > 3;",
];

/// splitmix64: small, fast and good enough for synthetic data.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let u = self.unit().max(f64::MIN_POSITIVE);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }

    fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// An index into `weights` (which need not sum to 1: the remainder picks `None`).
    fn pick(&mut self, weights: impl Iterator<Item = f64>) -> Option<usize> {
        let mut x = self.unit();
        for (i, w) in weights.enumerate() {
            if x < w {
                return Some(i);
            }
            x -= w;
        }
        None
    }
}

/// The start times of `count` calls over `[end - span, end)`, in order: a Poisson process whose
/// rate peaks at 15:00 UTC at three times its 03:00 low. Uniform order statistics are mapped
/// through the inverse of the cumulative rate.
fn arrival_times(rng: &mut Rng, count: usize, span: Duration, end: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let span_ms = span.num_milliseconds().max(1) as f64;
    let start = end - span;
    let day = 86_400_000.0;
    let offset = (start.timestamp_millis() as f64).rem_euclid(day);
    let angle = |t: f64| std::f64::consts::TAU * ((offset + t) / day - 0.125);
    let rate = |t: f64| 2.0 - angle(t).cos();
    let cumulative = |t: f64| 2.0 * t - day / std::f64::consts::TAU * (angle(t).sin() - angle(0.0).sin());
    let total = cumulative(span_ms);
    let mut sums = Vec::with_capacity(count + 1);
    let mut sum = 0.0;
    for _ in 0..=count {
        sum += -(1.0 - rng.unit()).ln();
        sums.push(sum);
    }
    let mut t = 0.0f64;
    let mut times = Vec::with_capacity(count);
    for s in &sums[..count] {
        let target = s / sum * total;
        // The rate is at least 1, so Newton's steps from the previous time converge quickly.
        for _ in 0..8 {
            t = (t - (cumulative(t) - target) / rate(t)).clamp(0.0, span_ms);
        }
        times.push(start + Duration::microseconds((t * 1000.0) as i64));
    }
    times
}

fn trace(rng: &mut Rng, started_at: DateTime<Utc>) -> TraceRecord {
    let model = &MODELS[rng.pick(MODELS.iter().map(|m| m.weight)).unwrap_or(0)];
    let prompt = rng.pick(PROMPTS.iter().map(|p| p.1)).filter(|_| !model.embeddings).map(|i| PromptUse {
        name: PROMPTS[i].0.to_string(),
        version: 1 + (rng.next_u64() % 3) as u32,
        label: Some("production".into()),
        variables: json!({"customer": "acme"}),
    });
    let api_key_id = rng.pick(KEYS.iter().map(|k| k.1)).map(|i| KEYS[i].0.to_string());
    let question = QUESTIONS[(rng.next_u64() % 4) as usize];
    let stream = !model.embeddings && rng.unit() < 0.4;
    let latency_ms = rng.log_normal(model.median_ms, model.sigma).max(1.0);
    let roll = rng.unit();
    let status = if roll < model.error_rate {
        TraceStatus::Error
    } else if roll < model.error_rate + 0.005 {
        TraceStatus::Cancelled
    } else {
        TraceStatus::Ok
    };
    let ok = status == TraceStatus::Ok;
    let prompt_tokens = rng.log_normal(if model.embeddings { 40.0 } else { 420.0 }, 0.6).ceil() as u32;
    let completion_tokens = if model.embeddings { 0 } else { rng.log_normal(160.0, 0.7).ceil() as u32 };
    let cost = f64::from(prompt_tokens) * model.price_in / 1e6 + f64::from(completion_tokens) * model.price_out / 1e6;
    let mut random = [0u8; 10];
    random.iter_mut().for_each(|b| *b = (rng.next_u64() & 0xff) as u8);
    let millis = u64::try_from(started_at.timestamp_millis()).unwrap_or(0);
    let id = TraceId(uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid());
    TraceRecord {
        id,
        parent_id: None,
        name: None,
        started_at,
        kind: if model.embeddings { TraceKind::Embeddings } else { TraceKind::Chat },
        requested_model: model.name.to_string(),
        provider: Some(model.provider.to_string()),
        upstream_model: Some(model.upstream.to_string()),
        attempts: vec![Attempt {
            provider: model.provider.to_string(),
            upstream_model: model.upstream.to_string(),
            started_at,
            latency_ms: latency_ms * 0.97,
            status: Some(if ok { 200 } else { 503 }),
            error: (!ok).then(|| "upstream returned 503".to_string()),
        }],
        status,
        http_status: match status {
            TraceStatus::Ok => 200,
            TraceStatus::Error => 502,
            TraceStatus::Cancelled => 499,
        },
        error: (status == TraceStatus::Error)
            .then(|| TraceError { code: "upstream_error".into(), message: "upstream returned 503".into() }),
        stream,
        request: json!({"model": model.name, "messages": [
            {"role": "system", "content": "You are a helpful assistant for Acme Inc. Answer briefly and politely."},
            {"role": "user", "content": question}
        ], "temperature": 0.2}),
        response: ok.then(|| json!({"role": "assistant", "content": ANSWERS[(rng.next_u64() % 4) as usize]})),
        finish_reason: ok.then(|| "stop".to_string()),
        prompt_tokens: ok.then_some(prompt_tokens),
        completion_tokens: ok.then_some(completion_tokens),
        total_tokens: ok.then_some(prompt_tokens + completion_tokens),
        latency_ms,
        ttft_ms: (stream && ok).then(|| latency_ms * (0.1 + 0.25 * rng.unit())),
        cost_usd: ok.then_some(cost),
        prompt,
        output_check: None,
        api_key_id,
        guardrails: vec![],
        deployment: None,
    }
}

/// Writes `count` root traces started over the `span` before now into `store`, in batches,
/// oldest first. The same `seed` gives the same traces (relative to now).
pub async fn generate_traces(store: &dyn Store, count: usize, span: Duration, seed: u64) -> Result<(), StoreError> {
    let mut rng = Rng(seed);
    let times = arrival_times(&mut rng, count, span, Utc::now());
    let mut batch = Vec::with_capacity(BATCH.min(count));
    for started_at in times {
        batch.push(trace(&mut rng, started_at));
        if batch.len() == BATCH {
            store.insert_traces(&batch).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        store.insert_traces(&batch).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_fill_the_span_in_order_and_follow_the_day() {
        let mut rng = Rng(7);
        let end = Utc::now();
        let times = arrival_times(&mut rng, 20_000, Duration::days(2), end);
        assert!(times.windows(2).all(|w| w[0] <= w[1]));
        assert!(times[0] >= end - Duration::days(2) && *times.last().unwrap() <= end);
        let by_hour = |h: u32| times.iter().filter(|t| chrono::Timelike::hour(*t) == h).count();
        assert!(by_hour(15) > 2 * by_hour(3), "{} vs {}", by_hour(15), by_hour(3));
    }
}
