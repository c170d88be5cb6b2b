//! The web UI: pages rendered on the server from minijinja templates and the same core
//! functions the `/api` routes call, embedded in the binary with their stylesheet and script.
//! Charts are inline SVG drawn here; the script only sends the forms to `/api` and `/v1`.

pub mod assets;
pub mod charts;
pub mod pages;

use crate::error::ApiError;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value};
use std::sync::OnceLock;

/// Every template, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("macros.html", include_str!("templates/macros.html")),
    ("error.html", include_str!("templates/error.html")),
    ("login.html", include_str!("templates/login.html")),
    ("dashboard.html", include_str!("templates/dashboard.html")),
    ("drift.html", include_str!("templates/drift.html")),
    ("traces.html", include_str!("templates/traces.html")),
    ("trace.html", include_str!("templates/trace.html")),
    ("prompts.html", include_str!("templates/prompts.html")),
    ("prompt.html", include_str!("templates/prompt.html")),
    ("datasets.html", include_str!("templates/datasets.html")),
    ("dataset.html", include_str!("templates/dataset.html")),
    ("evals.html", include_str!("templates/evals.html")),
    ("eval_run.html", include_str!("templates/eval_run.html")),
    ("eval_compare.html", include_str!("templates/eval_compare.html")),
    ("review.html", include_str!("templates/review.html")),
    ("review_queue.html", include_str!("templates/review_queue.html")),
    ("deployments.html", include_str!("templates/deployments.html")),
    ("deployment.html", include_str!("templates/deployment.html")),
];

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // A template that does not parse shows as an error page when used, and the
            // test that renders every page fails; the rest of the UI keeps working.
            if let Err(e) = env.add_template(name, source) {
                tracing::error!(template = name, error = %e, "a UI template does not parse");
            }
        }
        env.add_filter("ms", filters::ms);
        env.add_filter("usd", filters::usd);
        env.add_filter("num", filters::num);
        env.add_filter("pct", filters::pct);
        env.add_filter("time", filters::time);
        env.add_filter("short_id", filters::short_id);
        env.add_filter("pretty", filters::pretty);
        env
    })
}

/// A page that could not be shown: its status and what to tell the reader.
#[derive(Debug)]
pub struct UiError {
    pub status: StatusCode,
    pub message: String,
}

impl From<ApiError> for UiError {
    fn from(err: ApiError) -> Self {
        Self { status: err.status, message: err.body.error.message }
    }
}

impl UiError {
    pub(crate) fn internal(err: &dyn std::fmt::Display) -> Self {
        ApiError::internal(err).into()
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let context = minijinja::context! { status => self.status.as_u16(), message => self.message, nav => "" };
        match environment().get_template("error.html").and_then(|t| t.render(context)) {
            Ok(html) => (self.status, Html(html)).into_response(),
            Err(_) => (self.status, self.message).into_response(),
        }
    }
}

/// Renders `template` with `context` into a page.
pub fn render(template: &str, context: Value) -> Result<Html<String>, UiError> {
    let template = environment().get_template(template).map_err(|e| UiError::internal(&e))?;
    template.render(context).map(Html).map_err(|e| {
        // The alternate form shows the template line that failed.
        tracing::error!(template = template.name(), error = format!("{e:#}"), "a UI page did not render");
        UiError::from(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
            "internal error; see the server log",
            None,
        ))
    })
}

/// Template filters for the numbers and times pages show.
mod filters {
    use chrono::{DateTime, Utc};
    use minijinja::Value;

    fn number(value: &Value) -> Option<f64> {
        if value.is_none() || value.is_undefined() {
            return None;
        }
        f64::try_from(value.clone()).ok()
    }

    /// Milliseconds: "840 ms", "1.25 s"; "–" when unknown.
    pub fn ms(value: Value) -> String {
        match number(&value) {
            None => "–".to_string(),
            Some(v) if v >= 1000.0 => format!("{:.2} s", v / 1000.0),
            Some(v) if v >= 10.0 => format!("{v:.0} ms"),
            Some(v) => format!("{v:.2} ms"),
        }
    }

    /// Dollars with as many decimals as small amounts need.
    pub fn usd(value: Value) -> String {
        match number(&value) {
            None => "–".to_string(),
            Some(0.0) => "$0".to_string(),
            Some(v) if v.abs() >= 1.0 => format!("${v:.2}"),
            Some(v) if v.abs() >= 0.01 => format!("${v:.4}"),
            Some(v) => format!("${v:.6}"),
        }
    }

    /// A count with thousands separators; "–" when unknown.
    pub fn num(value: Value) -> String {
        match number(&value) {
            None => "–".to_string(),
            Some(v) if v.fract() != 0.0 => format!("{v:.3}"),
            Some(v) => {
                let digits = format!("{:.0}", v.abs());
                let mut out = String::new();
                for (i, c) in digits.chars().enumerate() {
                    if i > 0 && (digits.len() - i) % 3 == 0 {
                        out.push(',');
                    }
                    out.push(c);
                }
                if v < 0.0 {
                    out.insert(0, '-');
                }
                out
            }
        }
    }

    /// A fraction as a percentage.
    pub fn pct(value: Value) -> String {
        match number(&value) {
            None => "–".to_string(),
            Some(v) => format!("{:.2}%", v * 100.0),
        }
    }

    /// An RFC 3339 time as "2026-12-04 16:40:12" (UTC).
    pub fn time(value: Value) -> String {
        let text = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
        match DateTime::parse_from_rfc3339(&text) {
            Ok(t) => t.with_timezone(&Utc).format("%Y-%m-%d %H:%M:%S").to_string(),
            Err(_) => text,
        }
    }

    /// The first 8 characters of an id.
    pub fn short_id(value: Value) -> String {
        let text = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string());
        text.chars().take(8).collect()
    }

    /// A value as indented JSON.
    pub fn pretty(value: Value) -> String {
        serde_json::to_value(&value)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| value.to_string())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn figures_read_well() {
            assert_eq!(ms(Value::from(840.4)), "840 ms");
            assert_eq!(ms(Value::from(1250.0)), "1.25 s");
            assert_eq!(ms(Value::from(())), "–");
            assert_eq!(usd(Value::from(0.000_42)), "$0.000420");
            assert_eq!(usd(Value::from(12.5)), "$12.50");
            assert_eq!(num(Value::from(1_234_567)), "1,234,567");
            assert_eq!(num(Value::from(999)), "999");
            assert_eq!(pct(Value::from(0.0125)), "1.25%");
            assert_eq!(time(Value::from("2026-12-04T16:40:12.123Z")), "2026-12-04 16:40:12");
        }
    }
}
