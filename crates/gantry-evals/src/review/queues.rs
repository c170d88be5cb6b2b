//! Review queues: create, list, show, add items, hand out the next item, accept reviews.

use super::from_eval::{items_from_eval_run, EvalRunItems};
use super::rubric::{identifier_ok, validate_rubric, validate_scores};
use super::{label_problem, parse_trace_id, text_problem, ReviewError, MAX_COMMENT_BYTES};
use chrono::{DateTime, Duration, Utc};
use gantry_store::{Store, SubmitOutcome};
use gantry_types::{
    ChatMessage, ItemInput, NewReview, NewReviewItem, NewReviewQueue, Review, ReviewItem, ReviewQueue, ReviewQueueInfo,
    ReviewSource, ReviewedItem, TraceRecord,
};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// How long a claimed item stays with its reviewer before it goes back to pending.
pub const DEFAULT_LEASE_SECONDS: i64 = 600;
/// Most items one call may add.
pub const MAX_ITEMS_PER_CALL: usize = 1000;
/// Longest reviewer name, in characters.
const MAX_REVIEWER_CHARS: usize = 128;
/// Longest correction, in bytes.
const MAX_CORRECTION_BYTES: usize = 256 * 1024;
/// Longest description or instructions, in bytes.
const MAX_TEXT_BYTES: usize = 16 * 1024;

/// Items to add to a queue: recorded traces by id, the items of an eval run, raw items, or
/// any mix (traces first, then the run's items, then the raw ones).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddItemsRequest {
    #[serde(default)]
    pub trace_ids: Vec<String>,
    #[serde(default)]
    pub eval_run: Option<EvalRunItems>,
    #[serde(default)]
    pub items: Vec<NewReviewItem>,
}

/// Now, to the microsecond the store keeps, so answers equal what reads back.
fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

fn check_queue_name(name: &str) -> Result<(), ReviewError> {
    if identifier_ok(name) {
        Ok(())
    } else {
        Err(ReviewError::InvalidQueueName(name.chars().take(100).collect()))
    }
}

fn check_reviewer(reviewer: &str) -> Result<(), ReviewError> {
    match label_problem(reviewer, "reviewer", MAX_REVIEWER_CHARS) {
        Some(message) => Err(ReviewError::InvalidReview { message, param: "reviewer".to_string() }),
        None => Ok(()),
    }
}

/// Creates a queue after checking its name and rubric; a taken name is a conflict.
pub async fn create_queue(store: &dyn Store, queue: NewReviewQueue) -> Result<ReviewQueueInfo, ReviewError> {
    check_queue_name(&queue.name)?;
    validate_rubric(&queue.rubric)?;
    for (param, text) in [("description", &queue.description), ("instructions", &queue.instructions)] {
        if let Some(message) = text_problem(text.as_deref(), param, MAX_TEXT_BYTES) {
            return Err(ReviewError::InvalidRubric { message, param: param.to_string() });
        }
    }
    let blank_to_none = |t: Option<String>| t.filter(|t| !t.trim().is_empty());
    let stored = ReviewQueue {
        name: queue.name,
        description: blank_to_none(queue.description),
        rubric: queue.rubric,
        instructions: blank_to_none(queue.instructions),
        created_at: now(),
    };
    if !store.create_review_queue(&stored).await? {
        return Err(ReviewError::QueueExists(stored.name));
    }
    tracing::info!(queue = %stored.name, criteria = stored.rubric.criteria.len(), "review queue created");
    Ok(ReviewQueueInfo { queue: stored, counts: Default::default() })
}

/// Every queue with its counts, by name.
pub async fn list_queues(store: &dyn Store) -> Result<Vec<ReviewQueueInfo>, ReviewError> {
    Ok(store.list_review_queues(now()).await?)
}

/// One queue: rubric, instructions and how many items are pending, claimed and done.
pub async fn get_queue(store: &dyn Store, name: &str) -> Result<ReviewQueueInfo, ReviewError> {
    check_queue_name(name)?;
    store.get_review_queue(name, now()).await?.ok_or_else(|| ReviewError::QueueNotFound(name.to_string()))
}

/// The text of a recorded response: the message content, else its tool calls as JSON.
fn response_text(response: &Value) -> String {
    match serde_json::from_value::<ChatMessage>(response.clone()) {
        Ok(message) if message.content.is_some() => message.text_content(),
        Ok(ChatMessage { tool_calls: Some(calls), .. }) => serde_json::to_string(&calls).unwrap_or_default(),
        _ => response.to_string(),
    }
}

/// The review item a recorded call makes: its messages (or a chain's input) and its answer.
pub fn item_from_trace(trace: &TraceRecord) -> Result<NewReviewItem, String> {
    let input = if let Some(messages) = trace.request.get("messages") {
        ItemInput::Messages(
            serde_json::from_value(messages.clone()).map_err(|e| format!("its messages cannot be read: {e}"))?,
        )
    } else if let Some(Value::Object(variables)) = trace.request.get("input") {
        ItemInput::Variables(variables.clone())
    } else {
        return Err(format!("it is a {} call with no messages or input to review", trace.kind.as_str()));
    };
    Ok(NewReviewItem {
        source: ReviewSource { trace_id: Some(trace.id), eval_run_id: None, eval_item_index: None },
        input,
        output: trace.response.as_ref().map(response_text).unwrap_or_default(),
        expected: None,
    })
}

/// Adds items to a queue in one transaction: traces (each must exist) and raw items.
pub async fn add_items(
    store: &dyn Store,
    queue: &str,
    request: AddItemsRequest,
) -> Result<Vec<ReviewItem>, ReviewError> {
    check_queue_name(queue)?;
    let from_run = match &request.eval_run {
        Some(selection) => items_from_eval_run(store, selection).await?,
        None => Vec::new(),
    };
    let total = request.trace_ids.len() + from_run.len() + request.items.len();
    if total == 0 || total > MAX_ITEMS_PER_CALL {
        return Err(ReviewError::InvalidItems {
            message: format!("send 1 to {MAX_ITEMS_PER_CALL} items as trace_ids, eval_run or items, got {total}"),
            param: match (&request.eval_run, request.items.is_empty()) {
                (Some(_), _) => "eval_run".into(),
                (None, true) => "trace_ids".into(),
                (None, false) => "items".into(),
            },
        });
    }
    // The queue is checked first so a wrong name is not reported as a missing trace.
    if store.get_review_queue(queue, now()).await?.is_none() {
        return Err(ReviewError::QueueNotFound(queue.to_string()));
    }
    let mut items = Vec::with_capacity(total);
    for (i, text) in request.trace_ids.iter().enumerate() {
        let param = format!("trace_ids[{i}]");
        let id = parse_trace_id(text, &param)?;
        let trace = store.get_trace(id).await?.ok_or(ReviewError::TraceNotFound { id, param: Some(param.clone()) })?;
        let item = item_from_trace(&trace).map_err(|why| ReviewError::InvalidItems {
            message: format!("trace {id} cannot be reviewed: {why}"),
            param,
        })?;
        items.push(item);
    }
    items.extend(from_run);
    items.extend(request.items);
    let added = store.add_review_items(queue, &items, now()).await?;
    let added = added.ok_or_else(|| ReviewError::QueueNotFound(queue.to_string()))?;
    tracing::info!(queue, items = added.len(), "review items added");
    Ok(added)
}

/// Hands `reviewer` an item for the default lease: the one they hold, else the oldest free
/// one; `None` when every item is done or held by someone else.
pub async fn next_item(store: &dyn Store, queue: &str, reviewer: &str) -> Result<Option<ReviewItem>, ReviewError> {
    next_item_at(store, queue, reviewer, now(), Duration::seconds(DEFAULT_LEASE_SECONDS)).await
}

/// `next_item` at a given time and for a given lease.
pub async fn next_item_at(
    store: &dyn Store,
    queue: &str,
    reviewer: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Option<ReviewItem>, ReviewError> {
    check_queue_name(queue)?;
    check_reviewer(reviewer)?;
    if store.get_review_queue(queue, now).await?.is_none() {
        return Err(ReviewError::QueueNotFound(queue.to_string()));
    }
    Ok(store.claim_review_item(queue, reviewer, now, lease).await?)
}

/// Stores a review of item `item_id`: scores checked against the queue's rubric; the item
/// must not be done or held by another reviewer.
pub async fn submit_review(
    store: &dyn Store,
    queue: &str,
    item_id: &str,
    review: NewReview,
) -> Result<ReviewedItem, ReviewError> {
    let info = get_queue(store, queue).await?;
    let id: Uuid = item_id.parse().map_err(|_| ReviewError::InvalidParameter {
        message: format!("'{item_id}' is not a review item id (a UUID)"),
        param: "id".to_string(),
    })?;
    check_reviewer(&review.reviewer)?;
    validate_scores(&info.queue.rubric, &review.scores)?;
    for (param, text, max) in
        [("correction", &review.correction, MAX_CORRECTION_BYTES), ("comment", &review.comment, MAX_COMMENT_BYTES)]
    {
        if let Some(message) = text_problem(text.as_deref(), param, max) {
            return Err(ReviewError::InvalidReview { message, param: param.to_string() });
        }
    }
    let at = now();
    let stored = Review {
        item_id: id,
        queue: queue.to_string(),
        reviewer: review.reviewer,
        scores: review.scores,
        // An empty correction means "no correction", not "the answer should be empty".
        correction: review.correction.filter(|c| !c.trim().is_empty()),
        comment: review.comment.filter(|c| !c.trim().is_empty()),
        created_at: at,
    };
    match store.submit_review(&stored, at).await? {
        SubmitOutcome::Stored(item) => {
            tracing::info!(queue, item = %id, reviewer = %stored.reviewer, "review stored");
            Ok(ReviewedItem { item: *item, review: stored })
        }
        SubmitOutcome::NotFound => Err(ReviewError::ItemNotFound { queue: queue.to_string(), id: id.to_string() }),
        SubmitOutcome::AlreadyReviewed { reviewer } => Err(ReviewError::AlreadyReviewed { id, reviewer }),
        SubmitOutcome::ClaimedByOther { reviewer, until } => Err(ReviewError::ClaimedByOther { id, reviewer, until }),
    }
}
