-- Releases (immutable, numbered per route and environment), what each route runs now in
-- each environment (a current release and an optional canary), and the history of changes.
CREATE TABLE releases (
    route TEXT NOT NULL,
    environment TEXT NOT NULL,
    number INTEGER NOT NULL,
    target TEXT NOT NULL,
    model TEXT,
    promoted_by TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    gate TEXT,
    note TEXT,
    PRIMARY KEY (route, environment, number)
);

CREATE TABLE deployments (
    route TEXT NOT NULL,
    environment TEXT NOT NULL,
    current_release INTEGER NOT NULL,
    canary_release INTEGER,
    canary_percent REAL,
    updated_by TEXT NOT NULL,
    updated_at_us INTEGER NOT NULL,
    PRIMARY KEY (route, environment)
);

CREATE TABLE deployment_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    route TEXT NOT NULL,
    environment TEXT NOT NULL,
    action TEXT NOT NULL,
    from_release INTEGER,
    to_release INTEGER,
    actor TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    reason TEXT
);
CREATE INDEX deployment_events_route ON deployment_events (route, environment, id);

-- Which route, release and arm answered a call; the route is its own column so a route's
-- traces (a canary's arms) are found by index.
ALTER TABLE traces ADD COLUMN route TEXT;
ALTER TABLE traces ADD COLUMN deployment TEXT;
CREATE INDEX traces_route_started ON traces (route, started_at_us) WHERE route IS NOT NULL;
