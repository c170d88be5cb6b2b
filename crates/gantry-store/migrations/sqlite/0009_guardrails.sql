-- What the guardrails found on each call (JSON list of hits, never the matched text), and the
-- known attacks users add to the prompt-injection similarity corpus.
ALTER TABLE traces ADD COLUMN guardrails TEXT;
CREATE TABLE injection_examples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text TEXT NOT NULL,
    category TEXT NOT NULL,
    created_at_us INTEGER NOT NULL
);
