//! The route table, and nothing else.

use crate::routes::{api, fallback, health, openai};
use crate::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use axum::Router;

/// Requests larger than this are refused with 413 (images in messages can be large).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Every route Gantry serves.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(openai::chat::create))
        .route("/v1/embeddings", post(openai::embeddings::create))
        .route("/v1/models", get(openai::models::list))
        .route("/v1/models/{id}", get(openai::models::get))
        .route("/api/traces", get(api::traces::list))
        .route("/api/traces/{id}", get(api::traces::get))
        .route("/api/traces/{id}/feedback", get(api::feedback::list).post(api::feedback::add))
        .route("/api/feedback/summary", get(api::feedback::summary))
        .route("/api/review/queues", get(api::review::list_queues).post(api::review::create_queue))
        .route("/api/review/queues/{name}", get(api::review::get_queue))
        .route("/api/review/queues/{name}/items", post(api::review::add_items))
        .route("/api/review/queues/{name}/items/{id}/review", post(api::review::submit))
        .route("/api/review/queues/{name}/next", get(api::review::next))
        .route("/api/review/queues/{name}/export", get(api::review::export))
        .route("/api/collections", get(api::collections::list))
        .route("/api/collections/{name}", get(api::collections::get).delete(api::collections::delete))
        .route("/api/collections/{name}/documents", get(api::collections::documents).post(api::collections::ingest))
        .route("/api/collections/{name}/query", post(api::collections::query))
        .route("/api/chains", get(api::chains::list).post(api::chains::create))
        .route("/api/chains/{name}", get(api::chains::details))
        .route("/api/chains/{name}/versions/{selector}", get(api::chains::version))
        .route("/api/chains/{name}/labels/{label}", put(api::chains::set_label))
        .route("/api/chains/{name}/run", post(api::chains::run))
        .route("/api/prompts", get(api::prompts::list).post(api::prompts::create))
        .route("/api/prompts/{name}", get(api::prompts::details))
        .route("/api/prompts/{name}/versions/{version}", get(api::prompts::version))
        .route("/api/prompts/{name}/labels/{label}", get(api::prompts::label).put(api::prompts::set_label))
        .route("/api/prompts/{name}/diff", get(api::prompts::diff))
        .route("/api/prompts/{name}/render", post(api::prompts::render))
        .route("/api/evals/runs", get(api::evals::list))
        .route("/api/evals/runs/{id}", get(api::evals::get))
        .route("/api/evals/compare", get(api::evals::compare))
        .route("/api/datasets", get(api::datasets::list))
        .route("/api/datasets/{name}", get(api::datasets::details))
        .route("/api/datasets/{name}/versions", post(api::datasets::create_version))
        .route("/api/datasets/{name}/versions/{version}/items", get(api::datasets::items))
        .route("/api/datasets/{name}/stats", get(api::datasets::stats))
        .route("/api/datasets/{name}/clean", post(api::datasets::clean))
        .route("/api/datasets/{name}/from-traces", post(api::datasets::from_traces))
        .route("/api/datasets/{name}/export", get(api::datasets::export))
        .route("/api/guard/scan", post(api::guard::scan))
        .route("/api/guard/examples", get(api::guard::list_examples).post(api::guard::add_example))
        .route("/api/guard/examples/{id}", delete(api::guard::delete_example))
        .route("/api/guard/stats", get(api::guard::stats))
        .route("/api/openapi.json", get(api::openapi::document))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
