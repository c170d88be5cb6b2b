-- Aggregates of root traces (requests) for dashboards and objectives, so a window over
-- millions of traces reads thousands of rows. Each row sums the requests of one minute
-- (span_s = 60) or one hour (span_s = 3600) that share a key; both spans are kept so a long
-- window reads hours and only the minutes at its edges. `cuboid` says which key columns are
-- used: 0 all four (model, provider, prompt, key), 1 none (every request), 2 the model,
-- 3 the prompt, 4 the key; unused columns, and "no prompt"/"no key", hold ''. The small cuboids
-- let an unfiltered dashboard read a row or a few per hour instead of one per combination.
-- Histograms are log-spaced bucket counts (src/histogram.rs) stored as varints. insert_traces
-- keeps the rows up to date in the transaction that stores the traces.
CREATE TABLE trace_rollups (
    span_s INTEGER NOT NULL,
    cuboid INTEGER NOT NULL,
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
    PRIMARY KEY (span_s, cuboid, start_s, model, provider, prompt_name, api_key_id)
) WITHOUT ROWID;

-- Traces stored before this migration are summed into the rollups once, by the store when it
-- opens (the bucketing needs logarithms, which SQLite builds need not have): a row here with
-- done_at_us NULL asks for that.
CREATE TABLE trace_rollup_backfill (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    done_at_us INTEGER
);
INSERT INTO trace_rollup_backfill (id, done_at_us) VALUES (1, NULL);
