//! OpenTelemetry in and out: OTLP/HTTP spans from instrumented applications become traces
//! (`ingest`), and every trace Gantry records leaves as OTLP spans following the GenAI
//! semantic conventions (`export`).

pub mod attributes;
pub mod config;
pub mod export;
pub mod genai;
pub mod ingest;
mod to_otlp;

#[cfg(test)]
mod tests;

pub use config::{OtlpExportSettings, RawTelemetry, TelemetrySettings};
pub use export::{ExportQueue, ExportStatsSnapshot, OtlpExporter};
pub use ingest::{IngestReport, OtlpEncoding, OtlpIngest};

use gantry_store::StoreError;

/// Why an OTLP request was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum OtelError {
    /// The body does not decode.
    #[error("{0}")]
    Malformed(String),
    /// Not an OTLP content type, or an unsupported content encoding.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Too many bytes or spans.
    #[error("{0}")]
    TooLarge(String),
    /// The store refused the spans; the sender should retry.
    #[error("the trace store is unavailable; retry later")]
    Store(StoreError),
    /// A failure inside Gantry.
    #[error("{0}")]
    Internal(String),
}

impl OtelError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            OtelError::Malformed(_) => "invalid_otlp",
            OtelError::UnsupportedMediaType(_) => "unsupported_media_type",
            OtelError::TooLarge(_) => "payload_too_large",
            OtelError::Store(_) => "store_unavailable",
            OtelError::Internal(_) => "internal_error",
        }
    }

    /// The HTTP status; 503 tells OTLP senders to retry.
    pub fn http_status(&self) -> u16 {
        match self {
            OtelError::Malformed(_) => 400,
            OtelError::UnsupportedMediaType(_) => 415,
            OtelError::TooLarge(_) => 413,
            OtelError::Store(_) => 503,
            OtelError::Internal(_) => 500,
        }
    }

    /// No request parameter is at fault.
    pub fn param(&self) -> Option<&str> {
        None
    }
}

/// OpenTelemetry for the server: the ingest, and the exporter's counters when one runs.
pub struct Telemetry {
    pub ingest: OtlpIngest,
    export: Option<ExportQueue>,
}

impl Telemetry {
    /// The ingest, and the exporter's queue when exporting is configured.
    pub fn new(ingest: OtlpIngest, export: Option<ExportQueue>) -> Self {
        Self { ingest, export }
    }

    /// The exporter's counters; `None` when no exporter is configured.
    pub fn export_stats(&self) -> Option<ExportStatsSnapshot> {
        self.export.as_ref().map(ExportQueue::stats)
    }
}
