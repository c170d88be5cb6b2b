-- User feedback on traces. The value is kept in typed columns so aggregates run in SQL:
-- booleans and numbers in value_number (true = 1), categories in value_text.
-- No foreign key to traces: traces are written in batches and may be pruned on their own
-- schedule; the core checks that the trace exists when feedback arrives.
CREATE TABLE feedback (
    id TEXT PRIMARY KEY NOT NULL,
    trace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value_kind TEXT NOT NULL CHECK (value_kind IN ('boolean', 'number', 'category')),
    value_number REAL,
    value_text TEXT,
    comment TEXT,
    author TEXT NOT NULL,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX feedback_trace ON feedback (trace_id, created_at_us);
CREATE INDEX feedback_name ON feedback (name);

-- Human review queues; the rubric is JSON (criteria and their scales).
CREATE TABLE review_queues (
    name TEXT PRIMARY KEY NOT NULL,
    description TEXT,
    instructions TEXT,
    rubric TEXT NOT NULL,
    created_at_us INTEGER NOT NULL
);

-- seq orders the queue (first in, first reviewed). A claimed item whose claim_expires_at_us
-- has passed counts as pending: expiry needs no background job.
CREATE TABLE review_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL REFERENCES review_queues (name) ON DELETE CASCADE,
    trace_id TEXT,
    eval_run_id TEXT,
    eval_item_index INTEGER,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    expected TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'claimed', 'done')),
    claimed_by TEXT,
    claim_expires_at_us INTEGER,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX review_items_queue_status ON review_items (queue, status, seq);
CREATE INDEX review_items_trace ON review_items (trace_id) WHERE trace_id IS NOT NULL;

CREATE TABLE reviews (
    item_id TEXT PRIMARY KEY NOT NULL REFERENCES review_items (id) ON DELETE CASCADE,
    queue TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    scores TEXT NOT NULL,
    correction TEXT,
    comment TEXT,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX reviews_queue ON reviews (queue, created_at_us);
