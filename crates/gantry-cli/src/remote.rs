//! Calls to a running Gantry server's API, for the commands that take `--url`.

use anyhow::{anyhow, Context as _};
use serde_json::Value;

/// Sends one request to `url` + `path`, with the key in `GANTRY_API_KEY` if set; a non-2xx answer becomes an error carrying the
/// server's message.
pub async fn call(
    method: reqwest::Method,
    url: &str,
    path: &str,
    query: &[(&str, String)],
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let mut request = reqwest::Client::new().request(method, format!("{}{path}", url.trim_end_matches('/')));
    if !query.is_empty() {
        request = request.query(query);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(key) = std::env::var("GANTRY_API_KEY").ok().filter(|k| !k.is_empty()) {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.with_context(|| format!("cannot reach {url}"))?;
    let status = response.status();
    let body: Value = response.json().await.context("the server sent no JSON")?;
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("unknown error");
        return Err(anyhow!("{status}: {message}"));
    }
    Ok(body)
}
