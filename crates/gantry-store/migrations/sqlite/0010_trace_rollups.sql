-- Aggregates of root traces (requests) for dashboards and objectives, so a window over
-- millions of traces reads thousands of rows. Each row sums one (model, provider, prompt, key)
-- over one minute (span_s = 60) or one hour (span_s = 3600); both are kept so a long window
-- reads hours and only the minutes at its edges. Histograms are log-spaced bucket counts
-- (see src/histogram.rs), stored as varints. insert_traces keeps the rows up to date in the
-- transaction that stores the traces. '' stands for "none" in the key columns.
CREATE TABLE trace_rollups (
    span_s INTEGER NOT NULL,
    start_s INTEGER NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    prompt_name TEXT NOT NULL,
    api_key_id TEXT NOT NULL,
    requests INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    cancelled INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    completion_tokens INTEGER NOT NULL,
    cost_usd REAL NOT NULL,
    latency_hist BLOB NOT NULL,
    ttft_hist BLOB NOT NULL,
    PRIMARY KEY (span_s, start_s, model, provider, prompt_name, api_key_id)
) WITHOUT ROWID;

-- Traces stored before this migration are summed into the rollups once, by the store when it
-- opens (the bucketing needs logarithms, which SQLite builds need not have): a row here with
-- done_at_us NULL asks for that.
CREATE TABLE trace_rollup_backfill (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    done_at_us INTEGER
);
INSERT INTO trace_rollup_backfill (id, done_at_us) VALUES (1, NULL);
