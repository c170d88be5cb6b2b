//! OTLP/HTTP trace ingest: an `ExportTraceServiceRequest` (protobuf or OTLP JSON, optionally
//! gzip-compressed) becomes trace records, committed before the sender is answered so that a
//! success means stored. Spans that cannot be stored are reported back as a partial success.

use super::attributes::attributes_to_json;
use super::genai::{span_to_record, SpanSource};
use super::OtelError;
use crate::config::Price;
use bytes::Bytes;
use gantry_store::Store;
use gantry_types::TraceRecord;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyKind;
use prost::Message;
use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

/// The most bytes a request body may decompress to.
pub const MAX_DECODED_BYTES: usize = 64 * 1024 * 1024;
/// The most spans one request may carry; senders split larger batches.
pub const MAX_SPANS_PER_REQUEST: usize = 10_000;
/// How many rejection reasons the partial-success message lists.
const REASONS_SHOWN: usize = 3;

/// The two OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpEncoding {
    Protobuf,
    Json,
}

impl OtlpEncoding {
    /// The encoding a `Content-Type` names, parameters ignored.
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        if media.eq_ignore_ascii_case("application/x-protobuf") || media.eq_ignore_ascii_case("application/protobuf") {
            Some(OtlpEncoding::Protobuf)
        } else if media.eq_ignore_ascii_case("application/json") {
            Some(OtlpEncoding::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` of a response in this encoding.
    pub fn content_type(self) -> &'static str {
        match self {
            OtlpEncoding::Protobuf => "application/x-protobuf",
            OtlpEncoding::Json => "application/json",
        }
    }
}

/// What happened to the spans of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestReport {
    pub accepted: usize,
    pub rejected: usize,
    /// Why spans were rejected (the first few reasons); empty when none were.
    pub error_message: String,
}

impl IngestReport {
    /// The `ExportTraceServiceResponse` in `encoding`; `partial_success` only when spans were
    /// rejected.
    pub fn encode(&self, encoding: OtlpEncoding) -> Vec<u8> {
        match encoding {
            OtlpEncoding::Protobuf => ExportTraceServiceResponse {
                partial_success: (self.rejected > 0).then(|| ExportTracePartialSuccess {
                    rejected_spans: i64::try_from(self.rejected).unwrap_or(i64::MAX),
                    error_message: self.error_message.clone(),
                }),
            }
            .encode_to_vec(),
            // int64 as a decimal string, as the protobuf JSON mapping writes it.
            OtlpEncoding::Json if self.rejected > 0 => serde_json::json!({"partialSuccess": {
                "rejectedSpans": self.rejected.to_string(),
                "errorMessage": self.error_message,
            }})
            .to_string()
            .into_bytes(),
            OtlpEncoding::Json => b"{}".to_vec(),
        }
    }
}

/// How a request body is compressed (`Content-Encoding`).
pub fn is_gzip(content_encoding: Option<&str>) -> Result<bool, OtelError> {
    match content_encoding.map(|e| e.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("identity") => Ok(false),
        Some("gzip") | Some("x-gzip") => Ok(true),
        Some(other) => Err(OtelError::UnsupportedMediaType(format!(
            "Content-Encoding '{other}' is not supported; send gzip or no encoding"
        ))),
    }
}

/// Decompresses (bounded) and decodes a request body.
pub fn decode(body: &[u8], encoding: OtlpEncoding, gzip: bool) -> Result<ExportTraceServiceRequest, OtelError> {
    let inflated;
    let bytes = if gzip {
        let mut out = Vec::new();
        let limit = MAX_DECODED_BYTES as u64 + 1;
        flate2::read::GzDecoder::new(body)
            .take(limit)
            .read_to_end(&mut out)
            .map_err(|e| OtelError::Malformed(format!("the body is not valid gzip: {e}")))?;
        if out.len() > MAX_DECODED_BYTES {
            return Err(OtelError::TooLarge(format!(
                "the body decompresses to more than {} MiB",
                MAX_DECODED_BYTES / (1024 * 1024)
            )));
        }
        inflated = out;
        &inflated[..]
    } else {
        body
    };
    match encoding {
        OtlpEncoding::Protobuf => ExportTraceServiceRequest::decode(bytes)
            .map_err(|e| OtelError::Malformed(format!("the body is not an OTLP ExportTraceServiceRequest: {e}"))),
        OtlpEncoding::Json => serde_json::from_slice(bytes)
            .map_err(|e| OtelError::Malformed(format!("the body is not OTLP JSON (ExportTraceServiceRequest): {e}"))),
    }
}

/// The records of every span in `request`, and the reasons of those rejected.
pub fn map_request(
    request: &ExportTraceServiceRequest,
    prices: &BTreeMap<String, Price>,
) -> (Vec<TraceRecord>, Vec<String>) {
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    for (r, resource_spans) in request.resource_spans.iter().enumerate() {
        let resource_attrs = resource_spans.resource.as_ref().map(|r| r.attributes.as_slice()).unwrap_or_default();
        let service_name = resource_attrs.iter().find(|kv| kv.key == "service.name").and_then(|kv| {
            match kv.value.as_ref()?.value.as_ref()? {
                AnyKind::StringValue(s) => Some(s.as_str()),
                _ => None,
            }
        });
        let resource = attributes_to_json(resource_attrs);
        for (s, scope_spans) in resource_spans.scope_spans.iter().enumerate() {
            let scope = scope_spans.scope.as_ref();
            let source = SpanSource {
                service_name,
                resource: &resource,
                scope_name: scope.map(|s| s.name.as_str()),
                scope_version: scope.map(|s| s.version.as_str()),
            };
            for (i, span) in scope_spans.spans.iter().enumerate() {
                match span_to_record(span, &source, prices) {
                    Ok(record) => records.push(record),
                    Err(why) => rejected.push(format!("resourceSpans[{r}].scopeSpans[{s}].spans[{i}]: {why}")),
                }
            }
        }
    }
    (records, rejected)
}

fn span_count(request: &ExportTraceServiceRequest) -> usize {
    request.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum()
}

/// The records of a request body, the reasons of the spans rejected, and the span count.
fn decode_and_map(
    body: &[u8],
    encoding: OtlpEncoding,
    gzip: bool,
    prices: &BTreeMap<String, Price>,
    redact: bool,
) -> Result<(Vec<TraceRecord>, Vec<String>, usize), OtelError> {
    let request = decode(body, encoding, gzip)?;
    let spans = span_count(&request);
    if spans > MAX_SPANS_PER_REQUEST {
        return Err(OtelError::TooLarge(format!(
            "{spans} spans in one request; send at most {MAX_SPANS_PER_REQUEST} per request"
        )));
    }
    let (mut records, reasons) = map_request(&request, prices);
    if redact {
        records.iter_mut().for_each(crate::guardrails::redact_record);
    }
    Ok((records, reasons, spans))
}

/// Receives OTLP spans into the store.
pub struct OtlpIngest {
    store: Arc<dyn Store>,
    prices: Arc<BTreeMap<String, Price>>,
    redact: bool,
}

impl OtlpIngest {
    /// Ingest into `store`, pricing with `prices`; with `redact`, stored spans hold placeholders
    /// instead of PII and secrets, as gateway traces do.
    pub fn new(store: Arc<dyn Store>, prices: Arc<BTreeMap<String, Price>>, redact: bool) -> Self {
        Self { store, prices, redact }
    }

    /// Decodes `body` (sent with `content_type` and `content_encoding`), stores its spans and
    /// says which were accepted. The encoding is returned for the response.
    pub async fn ingest(
        &self,
        body: Bytes,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
    ) -> Result<(OtlpEncoding, IngestReport), OtelError> {
        let encoding = content_type.and_then(OtlpEncoding::from_content_type).ok_or_else(|| {
            OtelError::UnsupportedMediaType(format!(
                "Content-Type '{}' is not OTLP; send application/x-protobuf or application/json",
                content_type.unwrap_or_default()
            ))
        })?;
        let gzip = is_gzip(content_encoding)?;
        let (prices, redact) = (self.prices.clone(), self.redact);
        // Decoding and mapping 10 000 spans takes tens of milliseconds: not on the threads that
        // serve the gateway's calls.
        let (records, reasons, spans) =
            tokio::task::spawn_blocking(move || decode_and_map(&body, encoding, gzip, &prices, redact))
                .await
                .map_err(|e| OtelError::Internal(format!("decoding OTLP spans failed: {e}")))??;
        if !records.is_empty() {
            self.store.insert_traces(&records).await.map_err(|e| {
                tracing::error!(error = %e, spans = records.len(), "OTLP spans could not be stored");
                OtelError::Store(e)
            })?;
        }
        let error_message = match reasons.len() {
            0 => String::new(),
            n => {
                let shown = reasons.iter().take(REASONS_SHOWN).cloned().collect::<Vec<_>>().join("; ");
                let more = if n > REASONS_SHOWN { format!("; and {} more", n - REASONS_SHOWN) } else { String::new() };
                format!("{n} of {spans} spans rejected: {shown}{more}")
            }
        };
        Ok((encoding, IngestReport { accepted: records.len(), rejected: reasons.len(), error_message }))
    }
}
