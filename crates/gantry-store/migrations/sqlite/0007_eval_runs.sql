-- Eval runs: one row a run (its suite, the aggregates once finished, the gate's verdict) and
-- one row an item result, written as each item finishes so a stopped run can be resumed.
CREATE TABLE eval_runs (
    id TEXT PRIMARY KEY NOT NULL,
    suite TEXT NOT NULL,
    dataset TEXT NOT NULL,
    dataset_version INTEGER NOT NULL,
    target TEXT NOT NULL,
    config TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    finished_at_us INTEGER,
    items_total INTEGER NOT NULL,
    summaries TEXT NOT NULL DEFAULT '[]',
    gate TEXT,
    baseline_run_id TEXT
);
CREATE INDEX eval_runs_by_suite ON eval_runs (suite, created_at_us);

CREATE TABLE eval_items (
    run_id TEXT NOT NULL REFERENCES eval_runs (id) ON DELETE CASCADE,
    item_index INTEGER NOT NULL,
    output TEXT,
    error TEXT,
    scores TEXT NOT NULL,
    trace_id TEXT,
    latency_ms REAL NOT NULL,
    PRIMARY KEY (run_id, item_index)
);
