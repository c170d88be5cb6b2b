//! Gantry's business functions: configuration, the model table and routing (fallback,
//! retries, timeouts), the trace writer, and the gateway calls the server and CLI share.

pub mod access;
pub mod alerts;
pub mod analytics;
pub mod chains;
pub mod config;
pub mod deploy;
mod error;
pub mod gateway;
pub mod guardrails;
pub mod metrics;
pub mod monitor;
pub mod otel;
pub mod prompts;
pub mod providers;
pub mod rag;
pub mod recorder;
pub mod registry;
pub mod router;
pub mod service;
pub mod stream;
pub mod trace_writer;
pub mod validate;

pub use access::{start_mode, AccessControl, AccessError, Admission, Principal, StartMode};
pub use chains::Chains;
pub use config::{Config, ConfigError, Overrides};
pub use error::{ErrorInfo, GatewayError};
pub use gantry_local::Progress;
pub use gateway::{Call, CallContext, Gateway};
pub use rag::{Collections, RagError};
pub use service::{Service, StartError};
pub use stream::TracedStream;
pub use trace_writer::{TraceSink, TraceStatsSnapshot, TraceWriter};
