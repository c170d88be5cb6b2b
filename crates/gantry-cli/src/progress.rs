//! Progress bars for long commands (ingest, eval runs).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `unit`s toward `total`, with rate and time left.
pub fn bar(total: u64, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template = format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{per_sec}}, {{eta}})");
    bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar
}
