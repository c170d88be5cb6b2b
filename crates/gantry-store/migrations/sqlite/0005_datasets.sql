-- Versioned datasets: a name, immutable numbered versions, and each version's items.
CREATE TABLE datasets (
    name TEXT PRIMARY KEY NOT NULL,
    -- The newest version number; bumped (as the first write) by every new version, so two
    -- writers can never take the same number.
    latest_version INTEGER NOT NULL,
    created_at_us INTEGER NOT NULL
);

CREATE TABLE dataset_versions (
    name TEXT NOT NULL REFERENCES datasets (name),
    version INTEGER NOT NULL,
    item_count INTEGER NOT NULL,
    source TEXT NOT NULL,
    parent_version INTEGER,
    author TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    PRIMARY KEY (name, version),
    FOREIGN KEY (name, parent_version) REFERENCES dataset_versions (name, version)
);

-- Each item is its JSON (input, expected, metadata); a version's items are never changed,
-- a cleaned dataset is a new version with its own rows.
CREATE TABLE dataset_items (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    position INTEGER NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (name, version, position),
    FOREIGN KEY (name, version) REFERENCES dataset_versions (name, version)
) WITHOUT ROWID;
