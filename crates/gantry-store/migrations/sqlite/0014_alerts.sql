-- Alerts: each rule's state as last evaluated (so a restart neither re-notifies a firing alert
-- nor forgets a pending one), every transition and test notification, and every attempt to
-- deliver one to a webhook (named, never its URL: webhook URLs are often secrets).
CREATE TABLE alert_states (
    rule TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    since_us INTEGER,
    value REAL,
    evaluated_at_us INTEGER
);

CREATE TABLE alert_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rule TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    metric TEXT NOT NULL,
    op TEXT NOT NULL,
    threshold REAL NOT NULL,
    value REAL,
    started_at_us INTEGER,
    at_us INTEGER NOT NULL
);
CREATE INDEX alert_events_rule ON alert_events (rule, id);

CREATE TABLE alert_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id INTEGER NOT NULL REFERENCES alert_events (id),
    webhook TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at_us INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    outcome TEXT NOT NULL
);
CREATE INDEX alert_deliveries_event ON alert_deliveries (event_id, id);
