//! Delivery of notifications to webhooks: a Slack-compatible body or plain JSON, retried with
//! exponential backoff and jitter on connection failures, timeouts, 429 and 5xx (a Retry-After
//! is honoured up to the longest backoff), every attempt recorded in the store. Each webhook
//! has its own bounded queue and worker, so a slow or failing receiver delays nobody else and
//! a rule's firing and resolved messages reach a webhook in order.

use super::engine::{Notification, Notify};
use super::rules::{AlertingSettings, DeliverySettings, Webhook, WebhookFormat};
use crate::config::RoutingPolicy;
use crate::router::backoff_delay;
use chrono::Utc;
use gantry_store::Store;
use gantry_types::{AlertDelivery, AlertEventKind, DeliveryOutcome};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A value with at most four decimals and no trailing zeros (a drift score of
/// 0.6508951946 reads 0.6509; an error rate of 1 reads 1).
fn readable(value: f64) -> String {
    let text = format!("{value:.4}");
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    if trimmed.is_empty() || trimmed == "-" {
        "0".to_string()
    } else {
        trimmed.to_string()
    }
}

/// The text of a notification, e.g. `[FIRING] high-errors (critical): error_rate = 0.25 > 0.05 ...`.
pub fn summary(n: &Notification) -> String {
    let e = &n.event;
    let value = e.value.map_or_else(|| "no data".to_string(), readable);
    let scope = if n.filter.is_empty() {
        String::new()
    } else {
        let pairs: Vec<String> = n.filter.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(" [{}]", pairs.join(" "))
    };
    let condition = format!("{} = {value} (threshold {} {}, window {})", e.metric, e.op, e.threshold, n.window);
    match e.kind {
        AlertEventKind::Resolved => format!("[RESOLVED] {}{scope}: {condition}", e.rule),
        AlertEventKind::Test => format!("[TEST] {} ({}){scope}: {condition}", e.rule, e.severity),
        _ => format!("[FIRING] {} ({}){scope}: {condition}", e.rule, e.severity),
    }
}

/// The plain JSON body.
pub fn json_body(n: &Notification) -> Value {
    let e = &n.event;
    let resolved_at = (e.kind == AlertEventKind::Resolved).then_some(e.at);
    let filter: serde_json::Map<String, Value> =
        n.filter.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    json!({
        "alert": e.rule,
        "state": e.kind.as_str(),
        "severity": e.severity,
        "metric": e.metric,
        "op": e.op,
        "threshold": e.threshold,
        "value": e.value,
        "window": n.window,
        "filter": filter,
        "started_at": e.started_at,
        "resolved_at": resolved_at,
        "at": e.at,
        "event_id": e.id,
        "summary": summary(n),
    })
}

/// The Slack-compatible body: `text` for clients without blocks, and one section block.
pub fn slack_body(n: &Notification) -> Value {
    let text = summary(n);
    let value = n.event.value.map_or_else(|| "no data".to_string(), |v| v.to_string());
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": format!("*Severity*\n{}", n.event.severity)}),
        json!({"type": "mrkdwn", "text": format!("*Value*\n{value}")}),
    ];
    if let Some(started) = n.event.started_at {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Since*\n{}", started.to_rfc3339())}));
    }
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "section", "fields": fields},
        ],
    })
}

/// The body `webhook` gets for `n`.
pub fn body(webhook: &Webhook, n: &Notification) -> Value {
    match webhook.format {
        WebhookFormat::Slack => slack_body(n),
        WebhookFormat::Json => json_body(n),
    }
}

/// How one attempt went.
struct Tried {
    status: Option<u16>,
    error: Option<String>,
    retryable: bool,
    retry_after: Option<Duration>,
}

/// What a reqwest error says, without the URL it carries (a webhook URL is often a secret).
fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    }
}

async fn attempt(client: &reqwest::Client, webhook: &Webhook, body: &Value) -> Tried {
    let mut request = client.post(&webhook.url).json(body);
    for (name, value) in &webhook.headers {
        request = request.header(name.as_str(), value.expose());
    }
    match request.send().await {
        Err(e) => Tried { status: None, error: Some(describe(&e)), retryable: true, retry_after: None },
        Ok(response) => {
            let status = response.status();
            if status.is_success() {
                return Tried { status: Some(status.as_u16()), error: None, retryable: false, retry_after: None };
            }
            let retry_after = gantry_providers::retry_after(response.headers(), SystemTime::now());
            let retryable = status.as_u16() == 429 || status.is_server_error();
            Tried {
                status: Some(status.as_u16()),
                error: Some(format!("the webhook answered {status}")),
                retryable,
                retry_after,
            }
        }
    }
}

/// Delivers `n` to `webhook`, retrying as `settings` allow and recording every attempt against
/// the notification's event; returns how the last attempt ended.
pub async fn deliver(
    client: &reqwest::Client,
    store: &dyn Store,
    settings: &DeliverySettings,
    webhook: &Webhook,
    n: &Notification,
) -> DeliveryOutcome {
    let body = body(webhook, n);
    let policy =
        RoutingPolicy { backoff_base: settings.backoff_base, backoff_max: settings.backoff_max, ..Default::default() };
    let mut number = 0;
    loop {
        number += 1;
        let tried = attempt(client, webhook, &body).await;
        let outcome = match (&tried.error, tried.retryable && number <= settings.retries) {
            (None, _) => DeliveryOutcome::Delivered,
            (Some(_), true) => DeliveryOutcome::Retrying,
            (Some(_), false) => DeliveryOutcome::Failed,
        };
        let record = AlertDelivery {
            webhook: webhook.name.clone(),
            attempt: number,
            at: Utc::now(),
            status: tried.status,
            error: tried.error.clone(),
            outcome,
        };
        if let Err(e) = store.record_alert_delivery(n.event.id, &record).await {
            tracing::warn!(webhook = %webhook.name, error = %e, "alert delivery attempt not recorded");
        }
        match outcome {
            DeliveryOutcome::Delivered => {
                tracing::info!(rule = %n.event.rule, webhook = %webhook.name, attempt = number, "alert delivered");
                return outcome;
            }
            DeliveryOutcome::Failed => {
                tracing::warn!(rule = %n.event.rule, webhook = %webhook.name, attempt = number,
                    error = tried.error.as_deref().unwrap_or_default(), "alert delivery failed");
                return outcome;
            }
            DeliveryOutcome::Retrying => {
                // A receiver asking for hours would hold every later notification back.
                let asked = tried.retry_after.map(|wait| wait.min(settings.backoff_max));
                tokio::time::sleep(backoff_delay(&policy, number - 1, asked)).await;
            }
        }
    }
}

/// An HTTP client for webhook deliveries.
pub fn client(settings: &DeliverySettings) -> Result<reqwest::Client, super::AlertError> {
    reqwest::Client::builder()
        .timeout(settings.timeout)
        .build()
        .map_err(|e| super::AlertError::Delivery(format!("cannot build the HTTP client: {}", describe(&e))))
}

/// Delivers one webhook's notifications in the order they came.
struct Worker {
    client: reqwest::Client,
    store: Arc<dyn Store>,
    delivery: DeliverySettings,
    webhook: Webhook,
    cancel: CancellationToken,
}

impl Worker {
    async fn run(self, mut queue: mpsc::Receiver<Arc<Notification>>) {
        while let Some(n) = queue.recv().await {
            tokio::select! {
                _ = deliver(&self.client, self.store.as_ref(), &self.delivery, &self.webhook, &n) => {}
                _ = self.cancel.cancelled() => {
                    let (webhook, rule) = (&self.webhook.name, &n.event.rule);
                    tracing::warn!(%webhook, %rule, "alert delivery stopped by shutdown");
                    return;
                }
            }
        }
    }
}

/// Notifications refused because a webhook's queue was full.
#[derive(Debug, Default)]
struct Dropped(AtomicU64);

/// The queues and workers of every webhook.
pub struct WebhookNotifier {
    queues: HashMap<String, mpsc::Sender<Arc<Notification>>>,
    store: Arc<dyn Store>,
    dropped: Arc<Dropped>,
    workers: Vec<JoinHandle<()>>,
    cancel: CancellationToken,
}

impl WebhookNotifier {
    /// Starts one worker a webhook on the current runtime.
    pub fn spawn(settings: &AlertingSettings, store: Arc<dyn Store>) -> Result<Self, super::AlertError> {
        let client = client(&settings.delivery)?;
        let cancel = CancellationToken::new();
        let mut queues = HashMap::new();
        let mut workers = Vec::new();
        for webhook in settings.webhooks.values() {
            let (tx, rx) = mpsc::channel::<Arc<Notification>>(settings.delivery.queue_capacity);
            queues.insert(webhook.name.clone(), tx);
            let worker = Worker {
                client: client.clone(),
                store: store.clone(),
                delivery: settings.delivery,
                webhook: webhook.clone(),
                cancel: cancel.clone(),
            };
            workers.push(tokio::spawn(worker.run(rx)));
        }
        Ok(Self { queues, store, dropped: Arc::default(), workers, cancel })
    }

    /// Notifications dropped because a queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.0.load(Ordering::Relaxed)
    }

    /// Stops taking notifications, lets the queued ones be delivered for up to `grace`, then
    /// stops the workers.
    pub async fn shutdown(self, grace: Duration) {
        let Self { queues, workers, cancel, .. } = self;
        drop(queues);
        let all = futures::future::join_all(workers);
        tokio::pin!(all);
        if tokio::time::timeout(grace, &mut all).await.is_err() {
            cancel.cancel();
            all.await;
        }
    }
}

impl Notify for WebhookNotifier {
    fn notify(&self, notification: Notification) {
        let notification = Arc::new(notification);
        for name in &notification.webhooks {
            let Some(queue) = self.queues.get(name) else { continue };
            if queue.try_send(notification.clone()).is_err() {
                let dropped = self.dropped.0.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(webhook = %name, rule = %notification.event.rule, dropped_total = dropped,
                    "alert notification dropped: the webhook's queue is full");
                // Recorded like a failed attempt, so the history shows the notification was lost.
                let record = AlertDelivery {
                    webhook: name.clone(),
                    attempt: 0,
                    at: Utc::now(),
                    status: None,
                    error: Some("dropped: the webhook's queue was full".to_string()),
                    outcome: DeliveryOutcome::Failed,
                };
                let (store, event_id) = (self.store.clone(), notification.event.id);
                tokio::spawn(async move {
                    if let Err(e) = store.record_alert_delivery(event_id, &record).await {
                        tracing::warn!(error = %e, "dropped alert notification not recorded");
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_read_with_at_most_four_decimals() {
        let cases =
            [(0.650_895_194_6, "0.6509"), (1.0, "1"), (0.25, "0.25"), (1250.5, "1250.5"), (0.0, "0"), (-2.0, "-2")];
        for (value, text) in cases {
            assert_eq!(super::readable(value), text);
        }
    }
}
