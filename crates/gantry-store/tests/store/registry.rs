//! The versioned registry on SQLite: numbering, unchanged content, labels and their history,
//! kinds kept apart, concurrent pushes.

use gantry_store::{open_store, Store};
use gantry_types::{LabelUpdate, NewVersion, RegistryKind, LATEST_LABEL};
use serde_json::json;
use std::sync::Arc;

fn new_version(kind: RegistryKind, name: &str, text: &str) -> NewVersion {
    NewVersion {
        kind,
        name: name.to_string(),
        content: json!({"text": text}),
        content_hash: format!("hash-of-{text}"),
        message: Some(format!("set {text}")),
        author: "ana".to_string(),
    }
}

async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    (dir, store)
}

#[tokio::test]
async fn versions_are_numbered_and_unchanged_content_creates_none() {
    let (_dir, store) = store().await;
    let kind = RegistryKind::Prompt;
    let first = store.create_version(&new_version(kind, "support", "a")).await.unwrap();
    assert!(first.created);
    assert_eq!((first.version.version, first.version.author.as_str()), (1, "ana"));
    assert_eq!(first.version.message.as_deref(), Some("set a"));

    let again = store.create_version(&new_version(kind, "support", "a")).await.unwrap();
    assert!(!again.created, "same hash as the newest version");
    assert_eq!(again.version, first.version, "the newest version comes back unchanged");

    let second = store.create_version(&new_version(kind, "support", "b")).await.unwrap();
    assert_eq!((second.created, second.version.version), (true, 2));
    // Going back to earlier content is a change relative to the newest version.
    let third = store.create_version(&new_version(kind, "support", "a")).await.unwrap();
    assert_eq!((third.created, third.version.version), (true, 3));

    let read = store.get_version(kind, "support", 2).await.unwrap().unwrap();
    assert_eq!(read, second.version, "what was returned is what is stored");
    assert_eq!(read.content, json!({"text": "b"}));
    assert!(store.get_version(kind, "support", 4).await.unwrap().is_none());
    assert_eq!(store.latest_version(kind, "support").await.unwrap().unwrap().version, 3);
    assert!(store.latest_version(kind, "nope").await.unwrap().is_none());
    let all: Vec<u32> = store.list_versions(kind, "support").await.unwrap().iter().map(|v| v.version).collect();
    assert_eq!(all, vec![1, 2, 3]);
    assert_eq!(store.get_label(kind, "support", LATEST_LABEL).await.unwrap().unwrap().version, 3);
}

#[tokio::test]
async fn labels_move_and_every_move_is_recorded() {
    let (_dir, store) = store().await;
    let kind = RegistryKind::Prompt;
    for text in ["a", "b"] {
        store.create_version(&new_version(kind, "qa", text)).await.unwrap();
    }
    let moved = store.set_label(kind, "qa", "production", 1, "bob").await.unwrap();
    let LabelUpdate::Moved(first) = moved else { panic!("expected a move, got {moved:?}") };
    assert_eq!((first.from_version, first.to_version, first.moved_by.as_str()), (None, 1, "bob"));
    let same = store.set_label(kind, "qa", "production", 1, "carol").await.unwrap();
    assert!(matches!(&same, LabelUpdate::Unchanged(r) if r.version == 1 && r.updated_by == "bob"), "{same:?}");
    let moved = store.set_label(kind, "qa", "production", 2, "carol").await.unwrap();
    assert!(matches!(&moved, LabelUpdate::Moved(m) if m.from_version == Some(1) && m.to_version == 2), "{moved:?}");
    assert_eq!(store.set_label(kind, "qa", "production", 9, "carol").await.unwrap(), LabelUpdate::NoSuchVersion);
    assert_eq!(store.set_label(kind, "ghost", "production", 1, "carol").await.unwrap(), LabelUpdate::NoSuchVersion);

    let label = store.get_label(kind, "qa", "production").await.unwrap().unwrap();
    assert_eq!((label.version, label.updated_by.as_str()), (2, "carol"));
    assert!(store.get_label(kind, "qa", "staging").await.unwrap().is_none());
    let labels: Vec<(String, u32)> =
        store.list_labels(kind, "qa").await.unwrap().into_iter().map(|l| (l.label, l.version)).collect();
    assert_eq!(labels, vec![("latest".to_string(), 2), ("production".to_string(), 2)]);

    let history: Vec<(String, Option<u32>, u32, String)> = store
        .label_history(kind, "qa")
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.label, m.from_version, m.to_version, m.moved_by))
        .collect();
    assert_eq!(
        history,
        vec![
            ("latest".to_string(), None, 1, "ana".to_string()),
            ("latest".to_string(), Some(1), 2, "ana".to_string()),
            ("production".to_string(), None, 1, "bob".to_string()),
            ("production".to_string(), Some(1), 2, "carol".to_string()),
        ],
        "the unchanged set and the refused ones recorded nothing"
    );
}

#[tokio::test]
async fn kinds_are_separate_and_listings_summarise() {
    let (_dir, store) = store().await;
    store.create_version(&new_version(RegistryKind::Prompt, "b-prompt", "x")).await.unwrap();
    store.create_version(&new_version(RegistryKind::Prompt, "a-prompt", "x")).await.unwrap();
    store.create_version(&new_version(RegistryKind::Prompt, "a-prompt", "y")).await.unwrap();
    store.set_label(RegistryKind::Prompt, "a-prompt", "production", 1, "bob").await.unwrap();
    let chain = store.create_version(&new_version(RegistryKind::Chain, "a-prompt", "x")).await.unwrap();
    assert_eq!((chain.created, chain.version.version), (true, 1), "a chain of the same name is its own document");

    let prompts = store.list_registered(RegistryKind::Prompt).await.unwrap();
    let summary: Vec<String> = prompts
        .iter()
        .map(|d| {
            let labels: Vec<String> = d.labels.iter().map(|l| format!("{}={}", l.label, l.version)).collect();
            format!("{} v{} {}", d.name, d.latest_version, labels.join(","))
        })
        .collect();
    assert_eq!(summary, vec!["a-prompt v2 latest=2,production=1", "b-prompt v1 latest=1"]);
    assert_eq!(store.list_registered(RegistryKind::Chain).await.unwrap().len(), 1);
    assert!(store.list_labels(RegistryKind::Chain, "b-prompt").await.unwrap().is_empty());
}

#[tokio::test]
async fn concurrent_pushes_get_distinct_version_numbers() {
    let (_dir, store) = store().await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store.create_version(&new_version(RegistryKind::Prompt, "busy", &format!("v{i}"))).await.unwrap()
            })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        let created = task.await.unwrap();
        assert!(created.created);
        numbers.push(created.version.version);
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=12).collect::<Vec<u32>>());
    let latest = store.get_label(RegistryKind::Prompt, "busy", LATEST_LABEL).await.unwrap().unwrap();
    assert_eq!(latest.version, 12, "latest ends at the newest version");
    let moves = store.label_history(RegistryKind::Prompt, "busy").await.unwrap();
    assert_eq!(moves.len(), 12);
    for (i, m) in moves.iter().enumerate() {
        assert_eq!(m.from_version, (i > 0).then_some(i as u32), "each move starts where the previous ended");
    }
}

#[tokio::test]
async fn the_registry_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open_store(None, dir.path()).await.unwrap();
        store.create_version(&new_version(RegistryKind::Prompt, "kept", "a")).await.unwrap();
    }
    let store = open_store(None, dir.path()).await.unwrap();
    let again = store.create_version(&new_version(RegistryKind::Prompt, "kept", "a")).await.unwrap();
    assert!(!again.created);
    assert_eq!(again.version.version, 1);
}
