//! Budgets: period boundaries, cost estimates before a call, and the per-key ledger of spend.

use crate::config::{Config, Price};
use chrono::{DateTime, Datelike, TimeZone, Utc};
use gantry_types::{BudgetPeriod, ChatCompletionRequest, EmbeddingInput, EmbeddingRequest};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// Output tokens assumed for a chat call that sets no limit.
pub const DEFAULT_COMPLETION_ESTIMATE: u32 = 512;

/// When the period containing `now` started (midnight UTC, or the 1st of the month).
pub fn period_start(period: BudgetPeriod, now: DateTime<Utc>) -> DateTime<Utc> {
    let day = now.date_naive();
    let first = match period {
        BudgetPeriod::Day => day,
        BudgetPeriod::Month => day.with_day(1).unwrap_or(day),
    };
    Utc.from_utc_datetime(&first.and_time(chrono::NaiveTime::MIN))
}

/// When the period containing `now` ends.
pub fn period_end(period: BudgetPeriod, now: DateTime<Utc>) -> DateTime<Utc> {
    let start = period_start(period, now);
    match period {
        BudgetPeriod::Day => start + chrono::Duration::days(1),
        BudgetPeriod::Month => start.checked_add_months(chrono::Months::new(1)).unwrap_or(start),
    }
}

/// Time until the period containing `now` ends.
pub fn until_period_end(period: BudgetPeriod, now: DateTime<Utc>) -> Duration {
    (period_end(period, now) - now).to_std().unwrap_or(Duration::ZERO)
}

/// What a call is expected to use, reserved before it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
}

// About four characters a token in English text; the JSON around messages makes it an
// over-estimate, which is the safe side for a reservation.
fn tokens_of_chars(chars: usize) -> u32 {
    u32::try_from(chars.div_ceil(4)).unwrap_or(u32::MAX)
}

impl Estimate {
    /// A chat call: the messages' size, plus the output limit or a default.
    pub fn chat(request: &ChatCompletionRequest) -> Self {
        let chars = serde_json::to_string(&request.messages).map(|s| s.len()).unwrap_or(0);
        Self {
            model: request.model.clone(),
            prompt_tokens: tokens_of_chars(chars),
            completion_tokens: request.output_token_limit().unwrap_or(DEFAULT_COMPLETION_ESTIMATE),
        }
    }

    /// An embeddings call: the inputs' size.
    pub fn embeddings(request: &EmbeddingRequest) -> Self {
        let tokens = match &request.input {
            EmbeddingInput::One(s) => tokens_of_chars(s.len()),
            EmbeddingInput::Many(v) => tokens_of_chars(v.iter().map(String::len).sum()),
            EmbeddingInput::Tokens(t) => u32::try_from(t.len()).unwrap_or(u32::MAX),
            EmbeddingInput::TokenBatches(b) => u32::try_from(b.iter().map(Vec::len).sum::<usize>()).unwrap_or(u32::MAX),
        };
        Self { model: request.model.clone(), prompt_tokens: tokens, completion_tokens: 0 }
    }

    /// Prompt and completion tokens together.
    pub fn total_tokens(&self) -> u32 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// Prices by model, to estimate a call's cost before it is known which target answers.
#[derive(Debug, Clone, Default)]
pub struct Pricing {
    prices: BTreeMap<String, Price>,
    targets: HashMap<String, Vec<String>>,
}

impl Pricing {
    /// The `[prices]` table and each model's upstream names.
    pub fn from_config(config: &Config) -> Self {
        let targets = config
            .models
            .iter()
            .map(|m| (m.name.clone(), m.targets.iter().map(|t| t.model.clone()).collect()))
            .collect();
        Self { prices: config.prices.clone(), targets }
    }

    /// The highest cost any target of the model could charge for `estimate`; 0 when unpriced
    /// (an unpriced call records no cost, so it never counts against a budget either).
    pub fn estimate_usd(&self, estimate: &Estimate) -> f64 {
        let usage = gantry_types::Usage::new(estimate.prompt_tokens, estimate.completion_tokens);
        let upstream = self.targets.get(&estimate.model).into_iter().flatten();
        std::iter::once(&estimate.model)
            .chain(upstream)
            .filter_map(|m| crate::recorder::cost_usd(&self.prices, &[m.as_str()], Some(usage)))
            .fold(0.0, f64::max)
    }
}

/// One key's spend in the current period: what the store held when the ledger was seeded, plus
/// the cost of the calls finished since (their traces may not be written yet), plus what the
/// calls in flight have reserved.
#[derive(Debug, Clone)]
pub struct Ledger {
    pub period_start: DateTime<Utc>,
    pub stored: f64,
    pub observed: f64,
    pub reserved: f64,
    pub in_flight: u32,
}

/// Why a ledger refuses a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refusal {
    /// The budget is spent.
    Spent { spent: f64 },
    /// Calls in flight may use what is left.
    Busy { spent: f64 },
}

impl Ledger {
    /// A ledger for the period starting at `period_start`, with `stored` spent already.
    pub fn seeded(period_start: DateTime<Utc>, stored: f64) -> Self {
        Self { period_start, stored, observed: 0.0, reserved: 0.0, in_flight: 0 }
    }

    /// Spent so far, in-flight calls not counted.
    pub fn spent(&self) -> f64 {
        self.stored + self.observed
    }

    /// Admits a call expected to cost `cost` under `limit`. A call is always admitted when
    /// nothing is in flight and money is left, so the budget is overspent by at most that one
    /// call; with calls in flight, only when every reservation fits in what is left.
    pub fn try_reserve(&mut self, cost: f64, limit: f64) -> Result<(), Refusal> {
        let spent = self.spent();
        if spent >= limit {
            return Err(Refusal::Spent { spent });
        }
        if self.in_flight > 0 && spent + self.reserved + cost > limit {
            return Err(Refusal::Busy { spent });
        }
        self.reserved += cost;
        self.in_flight += 1;
        Ok(())
    }

    /// A reserved call ended (its cost is counted by [`Ledger::observe`]).
    pub fn release(&mut self, cost: f64) {
        self.reserved = (self.reserved - cost).max(0.0);
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Counts the cost of a finished call that started at `started_at`.
    pub fn observe(&mut self, started_at: DateTime<Utc>, cost: f64) {
        if started_at >= self.period_start {
            self.observed += cost;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn periods_start_at_midnight_and_on_the_first() {
        let now = at("2024-02-29T13:45:00Z");
        assert_eq!(period_start(BudgetPeriod::Day, now), at("2024-02-29T00:00:00Z"));
        assert_eq!(period_end(BudgetPeriod::Day, now), at("2024-03-01T00:00:00Z"));
        assert_eq!(period_start(BudgetPeriod::Month, now), at("2024-02-01T00:00:00Z"));
        assert_eq!(period_end(BudgetPeriod::Month, now), at("2024-03-01T00:00:00Z"));
        assert_eq!(until_period_end(BudgetPeriod::Day, now), Duration::from_secs(10 * 3600 + 15 * 60));
    }

    #[test]
    fn the_ledger_admits_one_call_at_a_time_near_the_limit() {
        let mut ledger = Ledger::seeded(at("2024-02-01T00:00:00Z"), 0.6);
        // 0.6 spent of 1.0: two calls of 0.15 fit, the third does not while they run.
        ledger.try_reserve(0.15, 1.0).unwrap();
        ledger.try_reserve(0.15, 1.0).unwrap();
        assert_eq!(ledger.try_reserve(0.15, 1.0), Err(Refusal::Busy { spent: 0.6 }));
        ledger.observe(at("2024-02-02T00:00:00Z"), 0.2);
        ledger.release(0.15);
        ledger.observe(at("2024-02-02T00:00:00Z"), 0.2);
        ledger.release(0.15);
        // 1.0 spent: nothing more.
        assert!(matches!(ledger.try_reserve(0.01, 1.0), Err(Refusal::Spent { .. })));
        // A cost from before the period is not this period's.
        let mut fresh = Ledger::seeded(at("2024-03-01T00:00:00Z"), 0.0);
        fresh.observe(at("2024-02-29T23:59:59Z"), 5.0);
        assert_eq!(fresh.spent(), 0.0);
        // With nothing in flight one call is admitted even if its estimate exceeds what is left.
        fresh.stored = 0.95;
        fresh.try_reserve(0.5, 1.0).unwrap();
        assert!(fresh.try_reserve(0.01, 1.0).is_err());
    }

    #[test]
    fn estimates_use_the_output_limit_and_the_dearest_target() {
        let request: ChatCompletionRequest = serde_json::from_value(serde_json::json!({
            "model": "m", "max_tokens": 100, "messages": [{"role": "user", "content": "x".repeat(400)}]
        }))
        .unwrap();
        let estimate = Estimate::chat(&request);
        assert_eq!(estimate.completion_tokens, 100);
        assert!(estimate.prompt_tokens >= 100, "{estimate:?}");
        let mut pricing = Pricing::default();
        pricing.prices.insert("cheap".into(), Price { input_per_mtok: 1.0, output_per_mtok: 1.0 });
        pricing.prices.insert("dear".into(), Price { input_per_mtok: 10.0, output_per_mtok: 10.0 });
        pricing.targets.insert("m".into(), vec!["cheap".into(), "dear".into()]);
        let usd = pricing.estimate_usd(&Estimate { model: "m".into(), prompt_tokens: 1_000_000, completion_tokens: 0 });
        assert!((usd - 10.0).abs() < 1e-9);
        assert_eq!(
            pricing.estimate_usd(&Estimate { model: "free".into(), prompt_tokens: 5, completion_tokens: 5 }),
            0.0
        );
    }
}
