//! Items from recorded traces: each chat call's messages as input, its answer as expected
//! output, and where it came from as metadata.

use super::{store_version, DatasetError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use gantry_store::{Store, MAX_LIST_LIMIT};
use gantry_types::{
    ChatMessage, DatasetItem, DatasetVersionInfo, FeedbackValue, ItemInput, TraceFilter, TraceKind, TraceRecord,
    TraceStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Which traces become items. Every field narrows the selection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSelection {
    /// The model the client asked for.
    #[serde(default)]
    pub model: Option<String>,
    /// Calls made through this registered prompt.
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub status: Option<TraceStatus>,
    /// Calls started at or after this time.
    #[serde(default)]
    pub since: Option<DateTime<Utc>>,
    /// Calls started before this time.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
    /// Items at most (newest traces first); default and maximum 1000.
    #[serde(default)]
    pub limit: Option<u32>,
    /// Only traces whose user feedback meets this condition.
    #[serde(default)]
    pub feedback: Option<FeedbackCondition>,
}

/// A condition on a trace's feedback of one name: its mean value (true = 1, false = 0) within
/// `min`..=`max`, and/or a category given at least once. Traces without feedback of that
/// name are left out.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackCondition {
    pub name: String,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub category: Option<String>,
}

/// Keeps the traces whose feedback meets a [`FeedbackCondition`].
struct FeedbackScreen<'a> {
    store: &'a dyn Store,
    condition: &'a FeedbackCondition,
}

#[async_trait]
impl TraceScreen for FeedbackScreen<'_> {
    async fn keep(&self, trace: &TraceRecord) -> Result<bool, DatasetError> {
        let condition = self.condition;
        let feedback = self.store.list_feedback(trace.id).await?;
        let named: Vec<_> = feedback.iter().filter(|f| f.name == condition.name).collect();
        if named.is_empty() {
            return Ok(false);
        }
        if let Some(category) = &condition.category {
            let given = named.iter().any(|f| matches!(&f.value, FeedbackValue::Category(c) if c == category));
            if !given {
                return Ok(false);
            }
        }
        if condition.min.is_some() || condition.max.is_some() {
            let numbers: Vec<f64> = named.iter().filter_map(|f| f.value.as_number()).collect();
            if numbers.is_empty() {
                return Ok(false);
            }
            let mean = numbers.iter().sum::<f64>() / numbers.len() as f64;
            if condition.min.is_some_and(|min| mean < min) || condition.max.is_some_and(|max| mean > max) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A further test each trace must pass, beyond the store's filter. This is where a selection
/// by user feedback (e.g. only traces scored 4 or more) plugs in: implement it over the
/// feedback store and pass it to [`from_traces_screened`].
#[async_trait]
pub trait TraceScreen: Send + Sync {
    /// Whether `trace` becomes an item.
    async fn keep(&self, trace: &TraceRecord) -> Result<bool, DatasetError>;
}

/// The screen that keeps every trace.
pub struct KeepAll;

#[async_trait]
impl TraceScreen for KeepAll {
    async fn keep(&self, _trace: &TraceRecord) -> Result<bool, DatasetError> {
        Ok(true)
    }
}

/// What a from-traces import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FromTracesOutcome {
    pub version: DatasetVersionInfo,
    /// Traces the filter matched.
    pub traces_read: u64,
    /// Traces left out: not chat calls, without messages, or refused by the screen.
    pub skipped: u64,
}

/// The item a chat trace makes: `None` for other kinds and requests without messages.
pub fn item_from_trace(trace: &TraceRecord) -> Option<DatasetItem> {
    if trace.kind != TraceKind::Chat {
        return None;
    }
    let messages: Vec<ChatMessage> = serde_json::from_value(trace.request.get("messages")?.clone()).ok()?;
    if messages.is_empty() {
        return None;
    }
    let expected = trace
        .response
        .as_ref()
        .and_then(|r| serde_json::from_value::<ChatMessage>(r.clone()).ok())
        .map(|m| m.text_content())
        .filter(|text| !text.is_empty())
        .map(Value::String);
    let mut metadata = Map::new();
    metadata.insert("trace_id".into(), json!(trace.id.to_string()));
    metadata.insert("model".into(), json!(trace.requested_model));
    if let Some(prompt) = &trace.prompt {
        metadata.insert("prompt".into(), json!(prompt.name));
        metadata.insert("prompt_version".into(), json!(prompt.version));
    }
    Some(DatasetItem { input: ItemInput::Messages(messages), expected, metadata })
}

/// A new version of `name` from the traces `selection` picks (every one kept).
pub async fn from_traces(
    store: &dyn Store,
    name: &str,
    selection: &TraceSelection,
    author: &str,
) -> Result<FromTracesOutcome, DatasetError> {
    match &selection.feedback {
        None => from_traces_screened(store, name, selection, &KeepAll, author).await,
        Some(condition) => {
            if condition.name.trim().is_empty() {
                return Err(DatasetError::parameter("feedback.name is empty".to_string(), "feedback.name"));
            }
            let screen = FeedbackScreen { store, condition };
            from_traces_screened(store, name, selection, &screen, author).await
        }
    }
}

/// Like [`from_traces`], with each trace also passed through `screen`.
pub async fn from_traces_screened(
    store: &dyn Store,
    name: &str,
    selection: &TraceSelection,
    screen: &dyn TraceScreen,
    author: &str,
) -> Result<FromTracesOutcome, DatasetError> {
    super::validate_name(name)?;
    let limit = match selection.limit {
        None => MAX_LIST_LIMIT,
        Some(n) if (1..=MAX_LIST_LIMIT).contains(&n) => n,
        Some(n) => {
            return Err(DatasetError::parameter(format!("limit must be from 1 to {MAX_LIST_LIMIT}, got {n}"), "limit"))
        }
    };
    if let (Some(since), Some(until)) = (selection.since, selection.until) {
        if since >= until {
            return Err(DatasetError::parameter("since must be before until", "since"));
        }
    }
    // A screen may refuse traces, so it reads as many as the store gives and stops at `limit` kept.
    let filter = TraceFilter {
        limit: Some(MAX_LIST_LIMIT),
        parent: None,
        model: selection.model.clone(),
        prompt: selection.prompt.clone(),
        status: selection.status,
        since: selection.since,
        until: selection.until,
        ..Default::default()
    };
    let traces = store.list_traces(&filter).await?;
    let mut items = Vec::new();
    let mut read = 0;
    for trace in &traces {
        if items.len() >= limit as usize {
            break;
        }
        read += 1;
        if let Some(item) = item_from_trace(trace) {
            if screen.keep(trace).await? {
                items.push(item);
            }
        }
    }
    if items.is_empty() {
        return Err(DatasetError::Empty(format!(
            "no chat traces match the filter ({read} trace(s) read); nothing was stored"
        )));
    }
    let source = format!("traces: {}", describe(selection));
    let version = store_version(store, name, &source, None, author, &items).await?;
    Ok(FromTracesOutcome { version, traces_read: read, skipped: read - items.len() as u64 })
}

/// The selection in words, for the version's source.
fn describe(selection: &TraceSelection) -> String {
    let mut parts = Vec::new();
    if let Some(m) = &selection.model {
        parts.push(format!("model={m}"));
    }
    if let Some(p) = &selection.prompt {
        parts.push(format!("prompt={p}"));
    }
    if let Some(s) = selection.status {
        parts.push(format!("status={}", s.as_str()));
    }
    if let Some(t) = selection.since {
        parts.push(format!("since={}", t.to_rfc3339()));
    }
    if let Some(t) = selection.until {
        parts.push(format!("until={}", t.to_rfc3339()));
    }
    if parts.is_empty() {
        "all".into()
    } else {
        parts.join(" ")
    }
}

/// Adds the chat traces `trace_ids` as items to a new version of `name` that keeps every
/// item of the newest version before them; the first version when the dataset is new. An id
/// that names no trace, or a trace that is not a chat call, fails it and nothing is stored.
pub async fn append_traces(
    store: &dyn Store,
    name: &str,
    trace_ids: &[String],
    author: &str,
) -> Result<DatasetVersionInfo, DatasetError> {
    super::validate_name(name)?;
    if trace_ids.is_empty() {
        return Err(DatasetError::parameter("trace_ids is empty".to_string(), "trace_ids"));
    }
    let mut added = Vec::with_capacity(trace_ids.len());
    for text in trace_ids {
        let id = text
            .parse()
            .map_err(|_| DatasetError::parameter(format!("'{text}' is not a trace id (a UUID)"), "trace_ids"))?;
        let trace = store
            .get_trace(id)
            .await?
            .ok_or_else(|| DatasetError::parameter(format!("no trace with id {text}"), "trace_ids"))?;
        let item = item_from_trace(&trace).ok_or_else(|| {
            DatasetError::parameter(format!("trace {text} is not a chat call with messages"), "trace_ids")
        })?;
        added.push(item);
    }
    let (parent, mut items) = match super::load_items(store, name, None).await {
        Ok((info, items)) => (Some(info.version), items.into_iter().map(|s| s.item).collect()),
        Err(DatasetError::NotFound(_)) => (None, Vec::new()),
        Err(e) => return Err(e),
    };
    items.extend(added);
    let source = match trace_ids {
        [one] => format!("trace {one}"),
        many => format!("{} traces", many.len()),
    };
    store_version(store, name, &source, parent, author, &items).await
}
