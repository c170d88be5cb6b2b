//! The route table, and nothing else: every route, its handler and the roles that may call it.

use crate::access::{delete, get, post, put, Roles, RouteAccess, RouteTable};
use crate::routes::{api, fallback, health, metrics, openai, otlp};
use crate::ui::{assets, pages};
use crate::AppState;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use gantry_types::KeyRole::{Admin, App, Developer, Reviewer, Viewer};

/// Requests larger than this are refused with 413 (images in messages can be large).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Health checks and the API description: anyone, without a key.
const PUBLIC: Roles = Roles::Public;
/// Every key.
const ANY_KEY: Roles = Roles::Only(&[Admin, Developer, Reviewer, App, Viewer]);
/// Model calls, which cost money: applications and the people who build them.
const CALLERS: Roles = Roles::Only(&[Admin, Developer, App]);
/// Reading what is stored: everyone but applications.
const READERS: Roles = Roles::Only(&[Admin, Developer, Reviewer, Viewer]);
/// Prompts, chains, datasets, evals and collections.
const DEVELOPERS: Roles = Roles::Only(&[Admin, Developer]);
/// Review queues.
const REVIEWERS: Roles = Roles::Only(&[Admin, Reviewer]);
/// Feedback on calls: applications pass on their users' feedback.
const FEEDBACK: Roles = Roles::Only(&[Admin, Developer, Reviewer, App]);
/// OTLP span ingest: applications send their spans, and the people who build them.
const SPAN_SENDERS: Roles = Roles::Only(&[Admin, Developer, App]);
/// Keys and the audit log.
const ADMINS: Roles = Roles::Only(&[Admin]);

/// Every route Gantry serves, one method a line, with the roles that may call it.
pub fn table() -> RouteTable {
    RouteTable::default()
        .route("/v1/chat/completions", post(openai::chat::create), CALLERS)
        .route("/v1/embeddings", post(openai::embeddings::create), CALLERS)
        .route("/v1/models", get(openai::models::list), ANY_KEY)
        .route("/v1/models/{id}", get(openai::models::get), ANY_KEY)
        .route("/v1/traces", post(otlp::ingest), SPAN_SENDERS)
        .route("/api/traces", get(api::traces::list), READERS)
        .route("/api/traces/{id}", get(api::traces::get), READERS)
        .route("/api/traces/{id}/feedback", get(api::feedback::list), READERS)
        .route("/api/traces/{id}/feedback", post(api::feedback::add), FEEDBACK)
        .route("/api/feedback/summary", get(api::feedback::summary), READERS)
        .route("/api/analytics/dashboard", get(api::analytics::dashboard), READERS)
        .route("/api/objectives", get(api::analytics::objectives), READERS)
        .route("/api/monitor/drift/{route}", get(api::monitor::drift), READERS)
        .route("/api/alerts", get(api::alerts::list), READERS)
        .route("/api/alerts/history", get(api::alerts::history), READERS)
        .route("/api/alerts/{name}/test", post(api::alerts::test), DEVELOPERS)
        .route("/api/review/queues", get(api::review::list_queues), READERS)
        .route("/api/review/queues", post(api::review::create_queue), REVIEWERS)
        .route("/api/review/queues/{name}", get(api::review::get_queue), READERS)
        .route("/api/review/queues/{name}/items", post(api::review::add_items), REVIEWERS)
        .route("/api/review/queues/{name}/items/{id}/review", post(api::review::submit), REVIEWERS)
        .route("/api/review/queues/{name}/next", get(api::review::next), REVIEWERS)
        .route("/api/review/queues/{name}/export", get(api::review::export), READERS)
        .route("/api/collections", get(api::collections::list), READERS)
        .route("/api/collections/{name}", get(api::collections::get), READERS)
        .route("/api/collections/{name}", delete(api::collections::delete), DEVELOPERS)
        .route("/api/collections/{name}/documents", get(api::collections::documents), READERS)
        .route("/api/collections/{name}/documents", post(api::collections::ingest), DEVELOPERS)
        .route("/api/collections/{name}/query", post(api::collections::query), DEVELOPERS)
        .route("/api/chains", get(api::chains::list), READERS)
        .route("/api/chains", post(api::chains::create), DEVELOPERS)
        .route("/api/chains/{name}", get(api::chains::details), READERS)
        .route("/api/chains/{name}/versions/{selector}", get(api::chains::version), READERS)
        .route("/api/chains/{name}/labels/{label}", put(api::chains::set_label), DEVELOPERS)
        .route("/api/chains/{name}/run", post(api::chains::run), DEVELOPERS)
        .route("/api/prompts", get(api::prompts::list), READERS)
        .route("/api/prompts", post(api::prompts::create), DEVELOPERS)
        .route("/api/prompts/{name}", get(api::prompts::details), READERS)
        .route("/api/prompts/{name}/versions/{version}", get(api::prompts::version), READERS)
        .route("/api/prompts/{name}/labels/{label}", get(api::prompts::label), READERS)
        .route("/api/prompts/{name}/labels/{label}", put(api::prompts::set_label), DEVELOPERS)
        .route("/api/prompts/{name}/diff", get(api::prompts::diff), READERS)
        .route("/api/prompts/{name}/render", post(api::prompts::render), DEVELOPERS)
        .route("/api/evals/runs", get(api::evals::list), READERS)
        .route("/api/evals/runs/{id}", get(api::evals::get), READERS)
        .route("/api/evals/compare", get(api::evals::compare), READERS)
        .route("/api/datasets", get(api::datasets::list), READERS)
        .route("/api/datasets/{name}", get(api::datasets::details), READERS)
        .route("/api/datasets/{name}/versions", post(api::datasets::create_version), DEVELOPERS)
        .route("/api/datasets/{name}/versions/{version}/items", get(api::datasets::items), READERS)
        .route("/api/datasets/{name}/stats", get(api::datasets::stats), READERS)
        .route("/api/datasets/{name}/clean", post(api::datasets::clean), DEVELOPERS)
        .route("/api/datasets/{name}/from-traces", post(api::datasets::from_traces), DEVELOPERS)
        .route("/api/datasets/{name}/append-traces", post(api::datasets::append_traces), DEVELOPERS)
        .route("/api/datasets/{name}/export", get(api::datasets::export), READERS)
        .route("/api/deployments", get(api::deployments::status), READERS)
        .route("/api/deployments/{route}/history", get(api::deployments::history), READERS)
        .route("/api/deployments/{route}/promote", post(api::deployments::promote), DEVELOPERS)
        .route("/api/deployments/{route}/promote-full", post(api::deployments::promote_full), DEVELOPERS)
        .route("/api/deployments/{route}/abort-canary", post(api::deployments::abort_canary), DEVELOPERS)
        .route("/api/deployments/{route}/rollback", post(api::deployments::rollback), DEVELOPERS)
        .route("/api/deployments/{route}/compare", get(api::deployments::compare), READERS)
        .route("/api/deployments/{route}/experiment", post(api::deployments::start_experiment), DEVELOPERS)
        .route("/api/deployments/{route}/experiment/stop", post(api::deployments::stop_experiment), DEVELOPERS)
        .route("/api/guard/scan", post(api::guard::scan), CALLERS)
        .route("/api/guard/examples", get(api::guard::list_examples), READERS)
        .route("/api/guard/examples", post(api::guard::add_example), DEVELOPERS)
        .route("/api/guard/examples/{id}", delete(api::guard::delete_example), DEVELOPERS)
        .route("/api/guard/stats", get(api::guard::stats), READERS)
        .route("/api/keys", get(api::keys::list), ADMINS)
        .route("/api/keys", post(api::keys::create), ADMINS)
        .route("/api/keys/{id}", delete(api::keys::revoke), ADMINS)
        .route("/api/audit", get(api::keys::audit), ADMINS)
        .route("/api/openapi.json", get(api::openapi::document), PUBLIC)
        .route("/metrics", get(metrics::prometheus), READERS)
        .route("/healthz", get(health::healthz), PUBLIC)
        .route("/ui/static/app.css", get(assets::stylesheet), PUBLIC)
        .route("/ui/static/app.js", get(assets::script), PUBLIC)
        .route("/ui/login", get(pages::login::form), PUBLIC)
        .route("/ui/login", post(pages::login::submit), PUBLIC)
        .route("/ui/logout", post(pages::login::logout), PUBLIC)
        .route("/", get(pages::dashboard::show), READERS)
        .route("/ui/traces", get(pages::traces::list), READERS)
        .route("/ui/traces/{id}", get(pages::traces::detail), READERS)
        .route("/ui/prompts", get(pages::prompts::list), READERS)
        .route("/ui/prompts/{name}", get(pages::prompts::detail), READERS)
        .route("/ui/datasets", get(pages::datasets::list), READERS)
        .route("/ui/datasets/{name}", get(pages::datasets::detail), READERS)
        .route("/ui/evals", get(pages::evals::list), READERS)
        .route("/ui/evals/compare", get(pages::evals::compare), READERS)
        .route("/ui/evals/{id}", get(pages::evals::detail), READERS)
        .route("/ui/review", get(pages::review::list), READERS)
        .route("/ui/drift", get(pages::drift::show), READERS)
        .route("/ui/deployments", get(pages::deployments::list), READERS)
        .route("/ui/deployments/{route}", get(pages::deployments::detail), READERS)
        .route("/ui/review/{queue}", get(pages::review::queue), READERS)
        .route("/readyz", get(health::readyz), PUBLIC)
}

/// Every route and the roles it admits (the route/role matrix test walks it).
pub fn route_access() -> Vec<RouteAccess> {
    table().access().to_vec()
}

/// Every route Gantry serves, behind the access check.
pub fn router(state: AppState) -> Router {
    table()
        .into_router(&state)
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
