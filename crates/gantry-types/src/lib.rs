//! Gantry's shared vocabulary: the OpenAI-compatible wire types, the domain records the
//! store keeps, typed IDs and the error body. Nothing here performs I/O.

pub mod access;
pub mod alert;
pub mod chain;
pub mod chat;
pub mod dataset;
pub mod deploy;
pub mod embeddings;
pub mod error;
pub mod eval;
pub mod feedback;
pub mod guard;
pub mod ids;
pub mod models;
pub mod rag;
pub mod registry;
pub mod review;
pub mod trace;

pub use access::*;
pub use alert::*;
pub use chain::*;
pub use chat::*;
pub use dataset::*;
pub use deploy::*;
pub use embeddings::*;
pub use error::{parse_json, ApiErrorBody, ApiErrorDetail, JsonParseError};
pub use eval::*;
pub use feedback::*;
pub use guard::*;
pub use ids::{is_resource_name, TraceId};
pub use models::{ModelList, ModelObject};
pub use rag::{CollectionInfo, CollectionSettings, DocumentInfo};
pub use registry::*;
pub use review::*;
pub use trace::*;

/// Seconds since the Unix epoch, as the OpenAI API reports `created`.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}
