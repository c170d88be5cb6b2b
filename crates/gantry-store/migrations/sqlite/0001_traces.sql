CREATE TABLE traces (
    id TEXT PRIMARY KEY NOT NULL,
    started_at_us INTEGER NOT NULL,
    kind TEXT NOT NULL,
    requested_model TEXT NOT NULL,
    provider TEXT,
    upstream_model TEXT,
    status TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    error_code TEXT,
    error_message TEXT,
    stream INTEGER NOT NULL,
    request TEXT NOT NULL,
    response TEXT,
    attempts TEXT NOT NULL,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    total_tokens INTEGER,
    latency_ms REAL NOT NULL,
    ttft_ms REAL,
    cost_usd REAL
);
CREATE INDEX traces_started ON traces (started_at_us DESC);
CREATE INDEX traces_model_started ON traces (requested_model, started_at_us DESC);
CREATE INDEX traces_status_started ON traces (status, started_at_us DESC);
