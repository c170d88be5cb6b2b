//! Handlers, grouped by API.

pub mod api;
pub mod fallback;
pub mod health;
pub mod metrics;
pub mod openai;
pub mod otlp;

/// The response header carrying the trace id of a call.
pub const TRACE_HEADER: &str = "x-gantry-trace-id";
