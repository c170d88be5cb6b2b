//! RAG collections on SQLite: settings, documents, chunk replacement in one transaction,
//! vectors read back bit for bit.

use gantry_store::{open_store, NewChunk, NewDocument, StoreError};
use gantry_types::CollectionSettings;

fn settings(dimensions: u32) -> CollectionSettings {
    CollectionSettings { embedding_model: "all-minilm-l6-v2".into(), dimensions, chunk_size: 800, chunk_overlap: 100 }
}

fn chunk(ordinal: u32, text: &str, embedding: Vec<f32>) -> NewChunk {
    let start = u64::from(ordinal) * 10;
    NewChunk { ordinal, text: text.into(), start_char: start, end_char: start + text.chars().count() as u64, embedding }
}

fn document(source: &str, hash: &str) -> NewDocument {
    NewDocument { source: source.into(), content_hash: hash.into(), chars: 42 }
}

#[tokio::test]
async fn collections_are_created_once_listed_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    let created = store.create_collection("docs", &settings(3)).await.unwrap();
    assert_eq!((created.documents, created.chunks, created.revision), (0, 0, 0));
    let err = store.create_collection("docs", &settings(4)).await.unwrap_err();
    assert!(matches!(err, StoreError::CollectionExists(ref n) if n == "docs"), "{err}");
    assert_eq!(err.code(), "collection_exists");
    store.create_collection("alpha", &settings(2)).await.unwrap();

    let got = store.get_collection("docs").await.unwrap().unwrap();
    assert_eq!(got, created, "the stored collection reads back as created (created_at to the microsecond)");
    assert_eq!(got.settings.dimensions, 3, "the second create changed nothing");
    assert!(store.get_collection("nope").await.unwrap().is_none());

    store.replace_document("docs", &document("a.md", "h1"), &[chunk(0, "one", vec![1.0, 0.0, 0.0])]).await.unwrap();
    store
        .replace_document(
            "docs",
            &document("b.md", "h2"),
            &[chunk(0, "two", vec![0.0, 1.0, 0.0]), chunk(1, "three", vec![0.0, 0.0, 1.0])],
        )
        .await
        .unwrap();
    let listed = store.list_collections().await.unwrap();
    let summary: Vec<(&str, u64, u64, u64)> =
        listed.iter().map(|c| (c.name.as_str(), c.documents, c.chunks, c.revision)).collect();
    assert_eq!(summary, vec![("alpha", 0, 0, 0), ("docs", 2, 3, 2)]);
}

#[tokio::test]
async fn replacing_a_document_swaps_its_chunks_and_vectors_read_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    store.create_collection("docs", &settings(3)).await.unwrap();
    let odd = vec![-0.0, f32::MIN_POSITIVE, 1.0e-30];
    let first = store
        .replace_document(
            "docs",
            &document("guide.md", "hash-1"),
            &[chunk(0, "héllo", vec![0.25, -0.5, 0.75]), chunk(1, "world", odd.clone())],
        )
        .await
        .unwrap();
    assert!(first.removed.is_empty());
    assert_eq!(first.inserted.len(), 2);
    assert_eq!((first.previous_revision, first.revision), (0, 1));

    let (vectors, revision) = store.load_vectors("docs").await.unwrap();
    assert_eq!(revision, 1);
    assert_eq!(vectors.ids, first.inserted);
    let expected: Vec<u32> = [0.25f32, -0.5, 0.75].iter().chain(&odd).map(|f| f.to_bits()).collect();
    assert_eq!(vectors.vectors.iter().map(|f| f.to_bits()).collect::<Vec<_>>(), expected, "bit for bit");

    let mut chunks = store.get_chunks("docs", &[first.inserted[1], first.inserted[0], 999_999]).await.unwrap();
    chunks.sort_by_key(|c| c.ordinal);
    assert_eq!(chunks.len(), 2, "unknown ids are left out");
    assert_eq!(
        (chunks[0].text.as_str(), chunks[0].source.as_str(), chunks[0].start_char, chunks[0].end_char),
        ("héllo", "guide.md", 0, 5)
    );
    assert_eq!((chunks[1].ordinal, chunks[1].start_char), (1, 10));
    assert!(store.get_chunks("other", &first.inserted).await.unwrap().is_empty(), "ids are scoped to the collection");

    let second = store
        .replace_document("docs", &document("guide.md", "hash-2"), &[chunk(0, "new text", vec![1.0, 1.0, 1.0])])
        .await
        .unwrap();
    assert_eq!(second.removed, first.inserted);
    assert_eq!((second.previous_revision, second.revision), (1, 2));
    assert!(store.get_chunks("docs", &first.inserted).await.unwrap().is_empty(), "old chunks are gone");
    let documents = store.list_documents("docs").await.unwrap();
    assert_eq!(documents.len(), 1);
    assert_eq!((documents[0].content_hash.as_str(), documents[0].chunks, documents[0].chars), ("hash-2", 1, 42));
    let (vectors, _) = store.load_vectors("docs").await.unwrap();
    assert_eq!((vectors.ids, vectors.vectors), (second.inserted, vec![1.0, 1.0, 1.0]));

    let err = store.replace_document("missing", &document("a", "h"), &[]).await.unwrap_err();
    assert_eq!(err.code(), "collection_not_found");
    assert_eq!(store.load_vectors("missing").await.unwrap_err().code(), "collection_not_found");
}

#[tokio::test]
async fn a_failed_replacement_leaves_the_old_document_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(None, dir.path()).await.unwrap();
    store.create_collection("docs", &settings(2)).await.unwrap();
    let kept = store
        .replace_document(
            "docs",
            &document("a.md", "old"),
            &[chunk(0, "old one", vec![1.0, 0.0]), chunk(1, "old two", vec![0.0, 1.0])],
        )
        .await
        .unwrap();
    // Two chunks with the same ordinal break the unique index halfway through the inserts.
    let broken = [chunk(0, "new one", vec![0.5, 0.5]), chunk(0, "new dup", vec![0.5, 0.5])];
    let err = store.replace_document("docs", &document("a.md", "new"), &broken).await.unwrap_err();
    assert_eq!(err.code(), "store_query_failed");
    let info = store.get_collection("docs").await.unwrap().unwrap();
    assert_eq!((info.documents, info.chunks, info.revision), (1, 2, 1), "nothing of the failed change is visible");
    assert_eq!(store.list_documents("docs").await.unwrap()[0].content_hash, "old");
    let (vectors, revision) = store.load_vectors("docs").await.unwrap();
    assert_eq!((vectors.ids, revision), (kept.inserted, 1));
}

#[tokio::test]
async fn deleting_a_collection_removes_everything_in_it_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open_store(None, dir.path()).await.unwrap();
        for name in ["keep", "drop"] {
            store.create_collection(name, &settings(2)).await.unwrap();
            store.replace_document(name, &document("a.md", "h"), &[chunk(0, "text", vec![1.0, 0.0])]).await.unwrap();
        }
        assert!(store.delete_collection("drop").await.unwrap());
        assert!(!store.delete_collection("drop").await.unwrap(), "a second delete finds nothing");
        assert!(store.get_collection("drop").await.unwrap().is_none());
        assert!(store.list_documents("drop").await.unwrap().is_empty());
        // A collection of the same name starts empty.
        store.create_collection("drop", &settings(2)).await.unwrap();
        let (vectors, revision) = store.load_vectors("drop").await.unwrap();
        assert!(vectors.ids.is_empty());
        assert_eq!(revision, 0);
    }
    let store = open_store(None, dir.path()).await.unwrap();
    let keep = store.get_collection("keep").await.unwrap().unwrap();
    assert_eq!((keep.documents, keep.chunks), (1, 1), "reopening keeps the other collection");
    assert_eq!(store.load_vectors("keep").await.unwrap().0.vectors, vec![1.0, 0.0]);
}
