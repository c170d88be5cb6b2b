//! Downloads from the Hugging Face hub (`{endpoint}/{repo}/resolve/main/{file}`).

use super::{commit_file, temp_file_beside, ModelSources, Progress};
use futures::StreamExt;
use std::path::Path;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Downloads every file of `files` into `dir`; none is moved into place unless all arrived.
pub(super) async fn download_files(
    sources: &ModelSources,
    repo: &str,
    files: &[&str],
    dir: &Path,
    progress: Progress,
) -> Result<(), String> {
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        // A stalled transfer fails instead of hanging start-up forever.
        .read_timeout(Duration::from_secs(60))
        .user_agent(concat!("gantry/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {}", error_chain(&e)))?;
    let base = sources.hf_endpoint.trim_end_matches('/');
    let mut fetched = Vec::with_capacity(files.len());
    for file in files {
        let url = format!("{base}/{repo}/resolve/main/{file}");
        let final_path = dir.join(file);
        fetched.push((download_one(&client, &url, &final_path, progress).await?, final_path));
    }
    for (temp, final_path) in fetched {
        commit_file(temp, &final_path)?;
    }
    Ok(())
}

async fn download_one(
    client: &reqwest::Client,
    url: &str,
    final_path: &Path,
    progress: Progress,
) -> Result<tempfile::TempPath, String> {
    let response = client.get(url).send().await.map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    let total = response.content_length();
    let temp = temp_file_beside(final_path)?.into_temp_path();
    let mut file = tokio::fs::File::create(&temp).await.map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
    let name = final_path.file_name().and_then(|n| n.to_str()).unwrap_or("model").to_string();
    let bar = progress_bar(progress, total, &name);
    let mut received: u64 = 0;
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("GET {url}: transfer failed: {}", error_chain(&e)))?;
        file.write_all(&chunk).await.map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
        received += chunk.len() as u64;
        bar.set_position(received);
    }
    file.flush().await.map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
    file.sync_all().await.map_err(|e| format!("cannot write {}: {e}", temp.display()))?;
    bar.finish_and_clear();
    if let Some(total) = total.filter(|&t| t != received) {
        return Err(format!("GET {url}: received {received} of {total} bytes"));
    }
    Ok(temp)
}

/// A byte progress bar on stderr, or a hidden one.
pub(super) fn progress_bar(progress: Progress, total: Option<u64>, name: &str) -> indicatif::ProgressBar {
    if progress == Progress::Quiet {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => indicatif::ProgressBar::new(total),
        None => indicatif::ProgressBar::new_spinner(),
    };
    let style =
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})")
            .map(|s| s.progress_chars("=> "))
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(format!("downloading {name}"));
    bar
}

/// An error's causes, which carry the useful part (e.g. "dns error: failed to lookup
/// address"); reqwest's own top-level message only repeats the URL.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut current = error.source();
    while let Some(cause) = current {
        parts.push(cause.to_string());
        current = cause.source();
    }
    if parts.is_empty() {
        error.to_string()
    } else {
        parts.join(": ")
    }
}
