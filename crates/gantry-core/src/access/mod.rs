//! Access control: who may call (API keys and roles), how much (rate limits and budgets), and
//! whether the server may run without keys. No HTTP types here; the server maps the errors.

mod bucket;
mod budget;
mod calls;
mod keys;

pub use bucket::{Clock, SystemClock, TokenBucket};
pub use budget::{period_end, period_start, until_period_end, Estimate, Ledger, Pricing, Refusal};
pub use calls::AdmittedStream;
pub use keys::{
    audit_entry, create_key, display_prefix, generate_secret, hash_secret, list_audit, list_keys, record_audit,
    revoke_key, verify_secret, SECRET_PREFIX,
};

use crate::config::Config;
use gantry_store::{Store, StoreError};
use gantry_types::{ApiKey, KeyRole, TraceRecord, LOCAL_ACTOR};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long the "does any key exist" answer is reused; create and revoke through this
/// process refresh it at once, the CLI working on the same store is seen within this time.
const KEYS_EXIST_TTL: Duration = Duration::from_secs(1);
/// What a client refused because calls in flight may use the rest of the budget should wait.
const BUSY_RETRY: Duration = Duration::from_secs(1);

/// Why a request is refused, or a key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("{0}")]
    InvalidKey(String),
    #[error("this API key's role '{role}' may not {action}")]
    InsufficientRole { role: KeyRole, action: String },
    #[error("this API key may not use the model '{0}'")]
    ModelNotAllowed(String),
    #[error("this API key belongs to the environment '{key}' and may not call '{requested}'")]
    EnvironmentNotAllowed { key: String, requested: String },
    #[error("{message}")]
    RateLimited { message: String, retry_after: Duration },
    #[error("{message}")]
    BudgetExceeded { message: String, retry_after: Duration },
    #[error("{message}")]
    InvalidInput { message: String, param: String },
    #[error("no API key with id '{0}'")]
    KeyNotFound(String),
    #[error(
        "refusing to serve on {0} without API keys: anyone who can reach it could use every model and \
         read every trace. Create an admin key first (`gantry keys create --name admin --role admin`), \
         listen on 127.0.0.1, or pass --insecure to serve without authentication"
    )]
    InsecureListen(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AccessError {
    /// Stable machine code, sent as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            AccessError::InvalidKey(_) => "invalid_api_key",
            AccessError::InsufficientRole { .. } => "insufficient_role",
            AccessError::ModelNotAllowed(_) => "model_not_allowed",
            AccessError::EnvironmentNotAllowed { .. } => "environment_not_allowed",
            AccessError::RateLimited { .. } => "rate_limit_exceeded",
            AccessError::BudgetExceeded { .. } => "budget_exceeded",
            AccessError::InvalidInput { .. } => "invalid_parameter",
            AccessError::KeyNotFound(_) => "key_not_found",
            AccessError::InsecureListen(_) => "insecure_listen",
            AccessError::Store(e) => e.code(),
        }
    }

    /// The HTTP status a client gets.
    pub fn http_status(&self) -> u16 {
        match self {
            AccessError::InvalidKey(_) => 401,
            AccessError::InsufficientRole { .. }
            | AccessError::ModelNotAllowed(_)
            | AccessError::EnvironmentNotAllowed { .. } => 403,
            AccessError::RateLimited { .. } | AccessError::BudgetExceeded { .. } => 429,
            AccessError::InvalidInput { .. } => 400,
            AccessError::KeyNotFound(_) => 404,
            AccessError::InsecureListen(_) | AccessError::Store(_) => 500,
        }
    }

    /// The request parameter at fault.
    pub fn param(&self) -> Option<&str> {
        match self {
            AccessError::ModelNotAllowed(_) => Some("model"),
            AccessError::EnvironmentNotAllowed { .. } => Some("x-gantry-environment"),
            AccessError::InvalidInput { param, .. } => Some(param),
            _ => None,
        }
    }

    /// How long a client should wait before trying again, for limits.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AccessError::RateLimited { retry_after, .. } | AccessError::BudgetExceeded { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }
}

impl crate::ErrorInfo for AccessError {
    fn code(&self) -> &'static str {
        AccessError::code(self)
    }
    fn http_status(&self) -> u16 {
        AccessError::http_status(self)
    }
    fn param(&self) -> Option<String> {
        AccessError::param(self).map(str::to_string)
    }
}

/// Who is calling: a key, or a local client served without one.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key: Option<ApiKey>,
}

impl Principal {
    /// A client served without a key (loopback before any key exists, or `--insecure`).
    pub fn local() -> Self {
        Self { key: None }
    }

    /// The role checked against routes; keyless clients are trusted as admins.
    pub fn role(&self) -> KeyRole {
        self.key.as_ref().map_or(KeyRole::Admin, |k| k.role)
    }

    /// The actor recorded in the audit log: the key id, or `local`.
    pub fn actor(&self) -> String {
        self.key.as_ref().map_or_else(|| LOCAL_ACTOR.to_string(), |k| k.id.clone())
    }

    /// Whether the principal may call `model` on `/v1`.
    pub fn may_use_model(&self, model: &str) -> bool {
        self.key.as_ref().is_none_or(|k| k.allows_model(model))
    }

    /// The key id a trace is recorded under.
    pub fn key_id(&self) -> Option<String> {
        self.key.as_ref().map(|k| k.id.clone())
    }
}

/// How the server authenticates, decided once at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartMode {
    /// Keys exist: every request needs one.
    Keys,
    /// No key yet and a loopback address: local clients are served without one (with a warning).
    LoopbackWithoutKeys,
    /// No key, a public address and `--insecure`: everyone is served without one.
    InsecureWithoutKeys,
}

/// Whether the server may start on `ip` with `active_keys` keys: a public address without any
/// key is refused unless `insecure`.
pub fn start_mode(ip: IpAddr, active_keys: u64, insecure: bool) -> Result<StartMode, AccessError> {
    if active_keys > 0 {
        Ok(StartMode::Keys)
    } else if ip.is_loopback() {
        Ok(StartMode::LoopbackWithoutKeys)
    } else if insecure {
        Ok(StartMode::InsecureWithoutKeys)
    } else {
        Err(AccessError::InsecureListen(ip.to_string()))
    }
}

/// A key's limiter state.
struct KeyState {
    rpm: Option<TokenBucket>,
    tpm: Option<TokenBucket>,
    ledger: Option<Ledger>,
}

type KeyStates = Arc<Mutex<HashMap<String, KeyState>>>;

fn lock(states: &KeyStates) -> MutexGuard<'_, HashMap<String, KeyState>> {
    // A panic while holding the lock cannot leave the counters half-updated in a way that
    // matters more than refusing every call would.
    states.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Authenticates requests and admits calls under each key's rate limits and budget.
pub struct AccessControl {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    pricing: Pricing,
    insecure: AtomicBool,
    keys_exist: Mutex<Option<(bool, Instant)>>,
    states: KeyStates,
    // Seeding a ledger reads the store; one at a time, so two first calls do not both seed.
    seeding: tokio::sync::Mutex<()>,
}

/// A call admitted under a key's limits; dropping it releases what it reserved. Keep it alive
/// until the call's trace is recorded (for a stream: until the stream ends).
#[must_use]
pub struct Admission {
    states: Option<KeyStates>,
    clock: Arc<dyn Clock>,
    key_id: String,
    tokens: f64,
    cost: f64,
}

impl Drop for Admission {
    fn drop(&mut self) {
        let Some(states) = &self.states else { return };
        let now = self.clock.now();
        if let Some(state) = lock(states).get_mut(&self.key_id) {
            // The trace observer charged the actual tokens and cost; give back the reservation.
            if let Some(tpm) = &mut state.tpm {
                tpm.adjust(self.tokens, now);
            }
            if let Some(ledger) = &mut state.ledger {
                ledger.release(self.cost);
            }
        }
    }
}

impl AccessControl {
    /// Access control over `store`, pricing calls with the config's `[prices]`.
    pub fn new(config: &Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            pricing: Pricing::from_config(config),
            insecure: AtomicBool::new(false),
            keys_exist: Mutex::new(None),
            states: Arc::new(Mutex::new(HashMap::new())),
            seeding: tokio::sync::Mutex::new(()),
        }
    }

    /// Serves clients from any address without a key while no key exists (`--insecure`).
    pub fn set_insecure(&self, insecure: bool) {
        self.insecure.store(insecure, Ordering::Relaxed);
    }

    /// Whether any unrevoked key exists (cached briefly).
    pub async fn keys_exist(&self) -> Result<bool, AccessError> {
        let now = self.clock.now();
        if let Ok(cache) = self.keys_exist.lock() {
            if let Some((exist, at)) = *cache {
                if now.saturating_duration_since(at) < KEYS_EXIST_TTL {
                    return Ok(exist);
                }
            }
        }
        let exist = self.store.count_active_keys().await? > 0;
        if let Ok(mut cache) = self.keys_exist.lock() {
            *cache = Some((exist, now));
        }
        Ok(exist)
    }

    /// Forgets the cached key count (after a key was created or revoked).
    pub fn keys_changed(&self) {
        if let Ok(mut cache) = self.keys_exist.lock() {
            *cache = None;
        }
    }

    /// Who sent `secret`. While no key exists, a client on loopback (or any client with
    /// `--insecure`) is served as the local user whatever it sends: OpenAI SDKs always send
    /// some key, and a placeholder like "unused" must not lock a local user out.
    pub async fn authenticate(&self, secret: Option<&str>, loopback: bool) -> Result<Principal, AccessError> {
        let open = (loopback || self.insecure.load(Ordering::Relaxed)) && !self.keys_exist().await?;
        let Some(secret) = secret else {
            if open {
                return Ok(Principal::local());
            }
            return Err(AccessError::InvalidKey(
                "Missing API key: send it as 'Authorization: Bearer gk-...' (or the x-api-key header).".to_string(),
            ));
        };
        match self.store.find_key_by_hash(&hash_secret(secret)).await? {
            Some(key) if key.revoked_at.is_none() => Ok(Principal { key: Some(key) }),
            Some(key) => Err(AccessError::InvalidKey(format!("The API key {}... has been revoked.", key.prefix))),
            None if open => Ok(Principal::local()),
            None => Err(AccessError::InvalidKey("Incorrect API key provided.".to_string())),
        }
    }

    /// Admits a call of `principal` expected to use `estimate`, or says why not: a model the
    /// key may not use (403), requests or tokens per minute (429 with the wait), or the budget.
    pub async fn admit(&self, principal: &Principal, estimate: &Estimate) -> Result<Admission, AccessError> {
        let no_limits =
            Admission { states: None, clock: self.clock.clone(), key_id: String::new(), tokens: 0.0, cost: 0.0 };
        let Some(key) = &principal.key else { return Ok(no_limits) };
        if !key.allows_model(&estimate.model) {
            return Err(AccessError::ModelNotAllowed(estimate.model.clone()));
        }
        if key.rpm.is_none() && key.tpm.is_none() && key.budget.is_none() {
            return Ok(no_limits);
        }
        if let Some(budget) = key.budget {
            self.seed_ledger(key, budget.period).await?;
        }
        let now = self.clock.now();
        let utc = self.clock.utc_now();
        let tokens = f64::from(estimate.total_tokens());
        let cost = self.pricing.estimate_usd(estimate);
        let mut states = lock(&self.states);
        let state = states.entry(key.id.clone()).or_insert_with(|| KeyState {
            rpm: key.rpm.map(|n| TokenBucket::per_minute(n, now)),
            tpm: key.tpm.map(|n| TokenBucket::per_minute(n, now)),
            ledger: None,
        });
        if let Some(rpm) = &mut state.rpm {
            rpm.try_take(1.0, now).map_err(|wait| AccessError::RateLimited {
                message: format!("Rate limit reached: {} requests per minute for this key.", key.rpm.unwrap_or(0)),
                retry_after: wait,
            })?;
        }
        let mut reserved_tokens = 0.0;
        if let Some(tpm) = &mut state.tpm {
            let take = tokens.min(tpm.capacity());
            if let Err(wait) = tpm.try_take(take, now) {
                if let Some(rpm) = &mut state.rpm {
                    rpm.adjust(1.0, now);
                }
                return Err(AccessError::RateLimited {
                    message: format!(
                        "Rate limit reached: {} tokens per minute for this key (this request may use {}).",
                        key.tpm.unwrap_or(0),
                        estimate.total_tokens()
                    ),
                    retry_after: wait,
                });
            }
            reserved_tokens = take;
        }
        if let (Some(budget), Some(ledger)) = (key.budget, &mut state.ledger) {
            if let Err(refusal) = ledger.try_reserve(cost, budget.usd) {
                if let Some(rpm) = &mut state.rpm {
                    rpm.adjust(1.0, now);
                }
                if let Some(tpm) = &mut state.tpm {
                    tpm.adjust(reserved_tokens, now);
                }
                let period = budget.period.as_str();
                return Err(match refusal {
                    Refusal::Spent { spent } => AccessError::BudgetExceeded {
                        message: format!(
                            "This key has used its budget: ${spent:.4} of ${:.4} this {period}.",
                            budget.usd
                        ),
                        retry_after: until_period_end(budget.period, utc),
                    },
                    Refusal::Busy { spent } => AccessError::BudgetExceeded {
                        message: format!(
                            "This key's remaining budget (${:.4} of ${:.4} this {period}) is held by calls in \
                             flight; retry when they finish.",
                            (budget.usd - spent).max(0.0),
                            budget.usd
                        ),
                        retry_after: BUSY_RETRY,
                    },
                });
            }
        }
        Ok(Admission {
            states: Some(self.states.clone()),
            clock: self.clock.clone(),
            key_id: key.id.clone(),
            tokens: reserved_tokens,
            cost,
        })
    }

    /// Makes sure the key's ledger covers the current period, reading the store's spend when not.
    async fn seed_ledger(&self, key: &ApiKey, period: gantry_types::BudgetPeriod) -> Result<(), AccessError> {
        let start = period_start(period, self.clock.utc_now());
        let current = |states: &HashMap<String, KeyState>| {
            states.get(&key.id).and_then(|s| s.ledger.as_ref()).is_some_and(|l| l.period_start == start)
        };
        if current(&lock(&self.states)) {
            return Ok(());
        }
        let _seeding = self.seeding.lock().await;
        if current(&lock(&self.states)) {
            return Ok(());
        }
        let stored = self.store.key_spend_since(&key.id, start).await?;
        let now = self.clock.now();
        let mut states = lock(&self.states);
        let state = states.entry(key.id.clone()).or_insert_with(|| KeyState {
            rpm: key.rpm.map(|n| TokenBucket::per_minute(n, now)),
            tpm: key.tpm.map(|n| TokenBucket::per_minute(n, now)),
            ledger: None,
        });
        // Calls admitted in the last period and still running keep their reservations.
        let (reserved, in_flight) = state.ledger.as_ref().map_or((0.0, 0), |l| (l.reserved, l.in_flight));
        let mut ledger = Ledger::seeded(start, stored);
        ledger.reserved = reserved;
        ledger.in_flight = in_flight;
        state.ledger = Some(ledger);
        Ok(())
    }

    /// Charges a finished call's actual tokens and cost to its key (set as the trace observer).
    pub fn observe(&self, record: &TraceRecord) {
        let Some(key_id) = &record.api_key_id else { return };
        let now = self.clock.now();
        if let Some(state) = lock(&self.states).get_mut(key_id) {
            if let (Some(tpm), Some(tokens)) = (&mut state.tpm, record.total_tokens) {
                tpm.adjust(-f64::from(tokens), now);
            }
            if let (Some(ledger), Some(cost)) = (&mut state.ledger, record.cost_usd) {
                ledger.observe(record.started_at, cost);
            }
        }
    }

    /// The store keys and audit entries live in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The current time, from the injected clock.
    pub fn utc_now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.utc_now()
    }
}

#[cfg(test)]
mod tests;
