-- The versioned registry, shared by every kind of document (prompts, chains): immutable
-- numbered versions, labels pointing at them, and the history of every label move.
CREATE TABLE registry_versions (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    content TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    message TEXT,
    author TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    PRIMARY KEY (kind, name, version)
);

CREATE TABLE registry_labels (
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    version INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at_us INTEGER NOT NULL,
    PRIMARY KEY (kind, name, label),
    FOREIGN KEY (kind, name, version) REFERENCES registry_versions (kind, name, version)
);

CREATE TABLE registry_label_moves (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    from_version INTEGER,
    to_version INTEGER NOT NULL,
    moved_by TEXT NOT NULL,
    moved_at_us INTEGER NOT NULL
);
CREATE INDEX registry_label_moves_document ON registry_label_moves (kind, name, id);
