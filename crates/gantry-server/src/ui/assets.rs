//! The stylesheet and script of the UI, served from the binary; they change only with it, so
//! browsers may keep them for an hour.

use axum::http::header;
use axum::response::IntoResponse;

const STYLESHEET: &str = include_str!("static/app.css");
const SCRIPT: &str = include_str!("static/app.js");
const CACHE: &str = "public, max-age=3600";

/// `GET /ui/static/app.css`.
pub async fn stylesheet() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, CACHE)], STYLESHEET)
}

/// `GET /ui/static/app.js`.
pub async fn script() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, CACHE)], SCRIPT)
}
