//! Review queues on SQLite: counts, atomic claims (concurrent reviewers never share an
//! item), claim renewal and expiry on a moved clock, submission rules, reviews read back.

use chrono::{Duration, Utc};
use gantry_store::{open_store, Store, SubmitOutcome};
use gantry_types::{
    ChatMessage, Criterion, FeedbackValue, ItemInput, NewReviewItem, Review, ReviewCounts, ReviewQueue, ReviewSource,
    ReviewStatus, Role, Rubric, Scale, TraceId,
};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

fn queue(name: &str) -> ReviewQueue {
    ReviewQueue {
        name: name.to_string(),
        description: Some("answers to check".into()),
        rubric: Rubric {
            criteria: vec![Criterion {
                name: "helpful".into(),
                description: None,
                scale: Scale::Numeric { min: 1.0, max: 5.0, step: None },
            }],
        },
        instructions: Some("Be strict.".into()),
        created_at: Utc::now(),
    }
}

fn item(question: &str) -> NewReviewItem {
    NewReviewItem {
        source: ReviewSource::default(),
        input: ItemInput::Messages(vec![ChatMessage::text(Role::User, question)]),
        output: format!("answer to {question}"),
        expected: None,
    }
}

fn review(queue: &str, item_id: uuid::Uuid, reviewer: &str) -> Review {
    Review {
        item_id,
        queue: queue.to_string(),
        reviewer: reviewer.to_string(),
        scores: BTreeMap::from([("helpful".to_string(), FeedbackValue::Number(4.0))]),
        correction: Some("a better answer".into()),
        comment: None,
        created_at: Utc::now(),
    }
}

async fn store_with_items(n: usize) -> (tempfile::TempDir, Arc<dyn Store>, Vec<uuid::Uuid>) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    assert!(store.create_review_queue(&queue("q")).await.unwrap());
    let items: Vec<NewReviewItem> = (0..n).map(|i| item(&format!("question {i}"))).collect();
    let added = store.add_review_items("q", &items, Utc::now()).await.unwrap().unwrap();
    let ids = added.iter().map(|i| i.id).collect();
    (dir, store, ids)
}

#[tokio::test]
async fn queues_are_created_once_and_items_keep_their_source() {
    let (_dir, store, ids) = store_with_items(2).await;
    assert!(!store.create_review_queue(&queue("q")).await.unwrap(), "a second queue of that name is refused");
    let info = store.get_review_queue("q", Utc::now()).await.unwrap().unwrap();
    assert_eq!(info.queue.instructions.as_deref(), Some("Be strict."));
    assert_eq!(info.queue.rubric, queue("q").rubric);
    assert_eq!(info.counts, ReviewCounts { pending: 2, claimed: 0, done: 0 });
    assert!(store.get_review_queue("nope", Utc::now()).await.unwrap().is_none());
    assert!(store.add_review_items("nope", &[item("x")], Utc::now()).await.unwrap().is_none());

    let trace_id = TraceId::new();
    let mut linked = item("linked");
    linked.source =
        ReviewSource { trace_id: Some(trace_id), eval_run_id: Some("run-7".into()), eval_item_index: Some(3) };
    linked.expected = Some(json!({"label": "billing"}));
    let added = store.add_review_items("q", &[linked.clone()], Utc::now()).await.unwrap().unwrap();
    let got = store.get_review_item("q", added[0].id, Utc::now()).await.unwrap().unwrap();
    assert_eq!((got.source, got.input, got.expected), (linked.source, linked.input, linked.expected));
    assert_eq!(got.status, ReviewStatus::Pending);
    assert!(store.get_review_item("other", ids[0], Utc::now()).await.unwrap().is_none(), "items belong to a queue");

    store.create_review_queue(&queue("a-first")).await.unwrap();
    let names: Vec<String> =
        store.list_review_queues(Utc::now()).await.unwrap().into_iter().map(|q| q.queue.name).collect();
    assert_eq!(names, vec!["a-first", "q"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_hand_out_each_item_once() {
    let (_dir, store, ids) = store_with_items(5).await;
    let now = Utc::now();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store.claim_review_item("q", &format!("reviewer-{i}"), now, Duration::minutes(10)).await.unwrap()
            })
        })
        .collect();
    let mut claimed = Vec::new();
    let mut empty = 0;
    for task in tasks {
        match task.await.unwrap() {
            Some(item) => {
                assert_eq!(item.status, ReviewStatus::Claimed);
                claimed.push((item.id, item.claimed_by.unwrap()));
            }
            None => empty += 1,
        }
    }
    let distinct: HashSet<_> = claimed.iter().map(|(id, _)| *id).collect();
    assert_eq!((claimed.len(), distinct.len(), empty), (5, 5, 3));
    assert_eq!(distinct, ids.iter().copied().collect::<HashSet<_>>());
    let reviewers: HashSet<_> = claimed.iter().map(|(_, r)| r.clone()).collect();
    assert_eq!(reviewers.len(), 5, "each reviewer holds one item");
    let counts = store.get_review_queue("q", now).await.unwrap().unwrap().counts;
    assert_eq!(counts, ReviewCounts { pending: 0, claimed: 5, done: 0 });
}

#[tokio::test]
async fn a_reviewer_gets_their_item_back_and_lapsed_claims_return_to_the_queue() {
    let (_dir, store, ids) = store_with_items(2).await;
    let lease = Duration::minutes(10);
    let t0 = Utc::now();
    let first = store.claim_review_item("q", "ana", t0, lease).await.unwrap().unwrap();
    assert_eq!(first.id, ids[0], "oldest first");
    let again = store.claim_review_item("q", "ana", t0 + Duration::minutes(5), lease).await.unwrap().unwrap();
    assert_eq!(again.id, ids[0], "the same reviewer gets the held item back");
    assert_eq!(
        again.claim_expires_at.unwrap().timestamp_micros(),
        (t0 + Duration::minutes(15)).timestamp_micros(),
        "and the claim is renewed"
    );
    let bo = store.claim_review_item("q", "bo", t0 + Duration::minutes(5), lease).await.unwrap().unwrap();
    assert_eq!(bo.id, ids[1]);
    assert!(store.claim_review_item("q", "cy", t0 + Duration::minutes(6), lease).await.unwrap().is_none());

    // Bo's claim lapsed at t0+15m; ana's (renewed) at t0+15m too. At t0+16m both are free.
    let later = t0 + Duration::minutes(16);
    let counts = store.get_review_queue("q", later).await.unwrap().unwrap().counts;
    assert_eq!(counts, ReviewCounts { pending: 2, claimed: 0, done: 0 });
    let lapsed = store.get_review_item("q", ids[1], later).await.unwrap().unwrap();
    assert_eq!((lapsed.status, lapsed.claimed_by), (ReviewStatus::Pending, None));
    let cy = store.claim_review_item("q", "cy", later, lease).await.unwrap().unwrap();
    assert_eq!((cy.id, cy.claimed_by.as_deref()), (ids[0], Some("cy")));
}

#[tokio::test]
async fn submissions_respect_claims_and_happen_once() {
    let (_dir, store, ids) = store_with_items(3).await;
    let lease = Duration::minutes(10);
    let now = Utc::now();
    let held = store.claim_review_item("q", "ana", now, lease).await.unwrap().unwrap();

    let outcome = store.submit_review(&review("q", held.id, "bo"), now).await.unwrap();
    assert_eq!(
        outcome,
        SubmitOutcome::ClaimedByOther { reviewer: "ana".into(), until: held.claim_expires_at.unwrap() }
    );
    let SubmitOutcome::Stored(done) = store.submit_review(&review("q", held.id, "ana"), now).await.unwrap() else {
        panic!("ana holds the item")
    };
    assert_eq!((done.status, done.claimed_by.as_deref()), (ReviewStatus::Done, Some("ana")));
    let outcome = store.submit_review(&review("q", held.id, "ana"), now).await.unwrap();
    assert_eq!(outcome, SubmitOutcome::AlreadyReviewed { reviewer: "ana".into() });
    assert_eq!(
        store.submit_review(&review("q", uuid::Uuid::now_v7(), "ana"), now).await.unwrap(),
        SubmitOutcome::NotFound
    );
    assert_eq!(store.submit_review(&review("elsewhere", ids[1], "ana"), now).await.unwrap(), SubmitOutcome::NotFound);

    // A pending item can be reviewed directly; so can one whose claim lapsed.
    assert!(matches!(store.submit_review(&review("q", ids[1], "bo"), now).await.unwrap(), SubmitOutcome::Stored(_)));
    let cy = store.claim_review_item("q", "cy", now, lease).await.unwrap().unwrap();
    assert_eq!(cy.id, ids[2]);
    let after = now + Duration::minutes(11);
    assert!(matches!(store.submit_review(&review("q", ids[2], "dee"), after).await.unwrap(), SubmitOutcome::Stored(_)));
    assert!(store.claim_review_item("q", "cy", after, lease).await.unwrap().is_none(), "everything is done");

    let reviews = store.list_reviews("q").await.unwrap();
    let who: Vec<(uuid::Uuid, &str)> = reviews.iter().map(|r| (r.item.id, r.review.reviewer.as_str())).collect();
    assert_eq!(who, vec![(ids[0], "ana"), (ids[1], "bo"), (ids[2], "dee")]);
    assert_eq!(reviews[0].review.scores["helpful"], FeedbackValue::Number(4.0));
    assert_eq!(reviews[0].review.correction.as_deref(), Some("a better answer"));
    assert_eq!(reviews[0].item.output, "answer to question 0");
    let counts = store.get_review_queue("q", after).await.unwrap().unwrap().counts;
    assert_eq!(counts, ReviewCounts { pending: 0, claimed: 0, done: 3 });
}
