-- RAG collections: documents split into chunks, each chunk with its embedding.
CREATE TABLE rag_collections (
    name TEXT PRIMARY KEY NOT NULL,
    embedding_model TEXT NOT NULL,
    dimensions INTEGER NOT NULL,
    chunk_size INTEGER NOT NULL,
    chunk_overlap INTEGER NOT NULL,
    created_at_us INTEGER NOT NULL,
    -- Bumped by every change to the collection's documents: a cached index compares it.
    revision INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE rag_documents (
    collection TEXT NOT NULL REFERENCES rag_collections (name) ON DELETE CASCADE,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    chars INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL,
    PRIMARY KEY (collection, source)
);

-- The embedding (little-endian f32s) comes before the text: loading a collection's vectors
-- reads each row only up to the blob and never touches the text's overflow pages.
-- AUTOINCREMENT: a chunk id is never reused, so an id held by a stale index cannot name
-- another chunk.
CREATE TABLE rag_chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    collection TEXT NOT NULL,
    source TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL,
    embedding BLOB NOT NULL,
    text TEXT NOT NULL,
    FOREIGN KEY (collection, source) REFERENCES rag_documents (collection, source) ON DELETE CASCADE
);
CREATE UNIQUE INDEX rag_chunks_document ON rag_chunks (collection, source, ordinal);
