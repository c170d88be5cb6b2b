-- Access control: API keys (only a SHA-256 of the secret is kept), the audit log of /api
-- changes, and the key a trace was made with, indexed for the budget's spend query.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    models TEXT NOT NULL DEFAULT '[]',
    rpm INTEGER,
    tpm INTEGER,
    budget_usd REAL,
    budget_period TEXT,
    created_at_us INTEGER NOT NULL,
    revoked_at_us INTEGER
);
CREATE INDEX api_keys_active ON api_keys (revoked_at_us);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    at_us INTEGER NOT NULL,
    actor TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    resource_ids TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX audit_log_by_time ON audit_log (at_us);
CREATE INDEX audit_log_by_actor ON audit_log (actor, at_us);

ALTER TABLE traces ADD COLUMN api_key_id TEXT;
CREATE INDEX traces_by_api_key ON traces (api_key_id, started_at_us) WHERE api_key_id IS NOT NULL;
