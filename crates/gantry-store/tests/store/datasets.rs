//! Versioned datasets on SQLite: numbered immutable versions, items written all or nothing,
//! paginated reads, listings.

use gantry_store::{open_store, NewDatasetVersion};
use gantry_types::{DatasetItem, ItemInput};
use serde_json::{json, Map};

fn item(question: &str, answer: Option<&str>) -> DatasetItem {
    let mut vars = Map::new();
    vars.insert("question".into(), json!(question));
    let mut metadata = Map::new();
    metadata.insert("source".into(), json!("test"));
    DatasetItem { input: ItemInput::Variables(vars), expected: answer.map(|a| json!(a)), metadata }
}

fn new<'a>(name: &'a str, parent: Option<u32>, items: &'a [DatasetItem]) -> NewDatasetVersion<'a> {
    NewDatasetVersion { name, source: "test", parent_version: parent, author: "ada", items }
}

#[tokio::test]
async fn versions_are_numbered_listed_and_read_in_pages() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    assert!(store.list_datasets().await.unwrap().is_empty());
    assert_eq!(store.get_dataset_version("qa", None).await.unwrap(), None);

    let first: Vec<DatasetItem> = (0..1203).map(|i| item(&format!("q{i}"), Some("a"))).collect();
    let v1 = store.create_dataset_version(new("qa", None, &first)).await.unwrap();
    assert_eq!((v1.version, v1.items, v1.parent_version), (1, 1203, None));
    let second = vec![item("only", None)];
    let v2 = store.create_dataset_version(new("qa", Some(1), &second)).await.unwrap();
    assert_eq!((v2.version, v2.items, v2.parent_version), (2, 1, Some(1)));
    store.create_dataset_version(new("alpha", None, &second)).await.unwrap();

    assert_eq!(store.get_dataset_version("qa", None).await.unwrap(), Some(v2.clone()));
    assert_eq!(store.get_dataset_version("qa", Some(1)).await.unwrap(), Some(v1.clone()));
    assert_eq!(store.get_dataset_version("qa", Some(3)).await.unwrap(), None);
    assert_eq!(store.list_dataset_versions("qa").await.unwrap(), vec![v1, v2.clone()]);
    assert!(store.list_dataset_versions("nope").await.unwrap().is_empty());

    let list = store.list_datasets().await.unwrap();
    let names: Vec<(&str, u32, u64, u32)> =
        list.iter().map(|d| (d.name.as_str(), d.latest_version, d.items, d.versions)).collect();
    assert_eq!(names, vec![("alpha", 1, 1, 1), ("qa", 2, 1, 2)]);
    assert_eq!(list[1].updated_at, v2.created_at);

    // Pages come in position order, across the insert batches; the whole version round-trips.
    let page = store.dataset_items("qa", 1, 499, Some(3)).await.unwrap();
    let indexes: Vec<u32> = page.iter().map(|i| i.index).collect();
    assert_eq!(indexes, vec![499, 500, 501]);
    assert_eq!(page[1].item, first[500]);
    let all = store.dataset_items("qa", 1, 0, None).await.unwrap();
    assert_eq!(all.len(), 1203);
    assert_eq!(all.iter().map(|i| i.item.clone()).collect::<Vec<_>>(), first);
    assert!(store.dataset_items("qa", 1, 5000, Some(10)).await.unwrap().is_empty());
    assert_eq!(store.dataset_items("qa", 2, 0, None).await.unwrap()[0].item, second[0]);
}

#[tokio::test]
async fn a_failed_version_stores_nothing_and_takes_no_number() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let items = vec![item("a", Some("b")), item("c", None)];
    // A parent that does not exist breaks a foreign key after the number was taken.
    assert!(store.create_dataset_version(new("fresh", Some(7), &items)).await.is_err());
    assert!(store.list_datasets().await.unwrap().is_empty(), "the dataset row was rolled back");
    assert!(store.dataset_items("fresh", 1, 0, None).await.unwrap().is_empty());

    store.create_dataset_version(new("fresh", None, &items)).await.unwrap();
    assert!(store.create_dataset_version(new("fresh", Some(9), &items)).await.is_err());
    let next = store.create_dataset_version(new("fresh", Some(1), &items)).await.unwrap();
    assert_eq!(next.version, 2, "the failed attempt did not use up version 2");
}

#[tokio::test]
async fn concurrent_writers_get_distinct_versions() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let items = vec![item("a", Some("b"))];
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            let items = items.clone();
            tokio::spawn(async move { store.create_dataset_version(new("busy", None, &items)).await.unwrap().version })
        })
        .collect();
    let mut versions = Vec::new();
    for task in tasks {
        versions.push(task.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, vec![1, 2, 3, 4, 5, 6]);
}
