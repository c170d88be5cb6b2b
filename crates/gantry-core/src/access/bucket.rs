//! Token buckets for requests and tokens per minute, driven by an injected clock.

use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

/// Where time comes from; tests pass a fake one.
pub trait Clock: Send + Sync {
    /// A monotonic instant, for buckets.
    fn now(&self) -> Instant;
    /// Wall-clock time, for budget periods.
    fn utc_now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    fn utc_now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A bucket holding up to `capacity` units, refilled continuously at `capacity` per minute.
/// Charges after the fact may take it below zero: the next callers then wait for the debt.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    level: f64,
    updated: Instant,
}

impl TokenBucket {
    /// A full bucket of `per_minute` units.
    pub fn per_minute(per_minute: u32, now: Instant) -> Self {
        let capacity = f64::from(per_minute.max(1));
        Self { capacity, per_second: capacity / 60.0, level: capacity, updated: now }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.level = (self.level + elapsed * self.per_second).min(self.capacity);
        self.updated = now;
    }

    /// The largest amount one take can ask for.
    pub fn capacity(&self) -> f64 {
        self.capacity
    }

    /// Takes `amount` (capped at the capacity, so a large request can still pass once the bucket
    /// is full), or says how long until it would be there.
    pub fn try_take(&mut self, amount: f64, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        let amount = amount.min(self.capacity);
        if self.level >= amount {
            self.level -= amount;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((amount - self.level) / self.per_second))
        }
    }

    /// Adds `delta` units (negative: charges them), e.g. when the actual use differs from
    /// what was reserved.
    pub fn adjust(&mut self, delta: f64, now: Instant) {
        self.refill(now);
        self.level = (self.level + delta).min(self.capacity);
    }

    /// Units available now.
    pub fn level(&mut self, now: Instant) -> f64 {
        self.refill(now);
        self.level
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A clock that moves only when told.
    pub struct FakeClock {
        start: Instant,
        offset: Mutex<Duration>,
        utc: DateTime<Utc>,
    }

    impl FakeClock {
        pub fn new(utc: DateTime<Utc>) -> Self {
            Self { start: Instant::now(), offset: Mutex::new(Duration::ZERO), utc }
        }
        pub fn advance(&self, by: Duration) {
            *self.offset.lock().unwrap() += by;
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            self.start + *self.offset.lock().unwrap()
        }
        fn utc_now(&self) -> DateTime<Utc> {
            self.utc + chrono::Duration::from_std(*self.offset.lock().unwrap()).unwrap()
        }
    }

    #[test]
    fn a_bucket_empties_and_refills_at_its_rate() {
        let clock = FakeClock::new(Utc::now());
        let mut bucket = TokenBucket::per_minute(3, clock.now());
        for _ in 0..3 {
            bucket.try_take(1.0, clock.now()).unwrap();
        }
        // Empty: one unit comes back every 20 s.
        let wait = bucket.try_take(1.0, clock.now()).unwrap_err();
        assert!((wait.as_secs_f64() - 20.0).abs() < 1e-6, "{wait:?}");
        clock.advance(Duration::from_secs(10));
        let wait = bucket.try_take(1.0, clock.now()).unwrap_err();
        assert!((wait.as_secs_f64() - 10.0).abs() < 1e-6, "{wait:?}");
        clock.advance(Duration::from_secs(10));
        bucket.try_take(1.0, clock.now()).unwrap();
        // Never more than the capacity, however long it rests.
        clock.advance(Duration::from_secs(3600));
        assert!((bucket.level(clock.now()) - 3.0).abs() < 1e-9);
    }

    #[test]
    fn charges_after_the_fact_can_go_into_debt_and_refunds_are_capped() {
        let clock = FakeClock::new(Utc::now());
        let mut bucket = TokenBucket::per_minute(600, clock.now());
        bucket.try_take(100.0, clock.now()).unwrap();
        // The call used 700 tokens, not 100: the bucket owes 200.
        bucket.adjust(-600.0, clock.now());
        assert!((bucket.level(clock.now()) + 100.0).abs() < 1e-9);
        let wait = bucket.try_take(50.0, clock.now()).unwrap_err();
        assert!((wait.as_secs_f64() - 15.0).abs() < 1e-6, "{wait:?}");
        bucket.adjust(10_000.0, clock.now());
        assert!((bucket.level(clock.now()) - 600.0).abs() < 1e-9);
    }

    #[test]
    fn a_request_larger_than_the_bucket_passes_when_it_is_full() {
        let clock = FakeClock::new(Utc::now());
        let mut bucket = TokenBucket::per_minute(100, clock.now());
        bucket.try_take(5000.0, clock.now()).unwrap();
        assert!(bucket.try_take(1.0, clock.now()).is_err());
    }
}
