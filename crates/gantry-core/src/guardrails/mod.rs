//! Guardrails: scanners for PII, secrets, prompt injection, custom patterns and banned words,
//! applied to what goes into and comes out of a model as `gantry.toml` configures. The PII
//! detector is shared with dataset cleaning.

pub mod config;
mod engine;
#[cfg(test)]
mod fuzz;
pub mod injection;
pub mod pii;
pub mod report;
pub mod scan;
pub mod secrets;
mod stream;
pub mod vault;

pub use config::{GuardRule, GuardSettings, RawGuardrails, ScannerKind};
pub(crate) use engine::texts_mut;
pub use engine::{redact_json, redact_record, redact_sensitive, CallScope, GuardState, Guardrails};
pub use stream::{StreamGuard, HOLD_BACK_CHARS};
