-- Spans nest under a parent trace (a chain run's steps); calls made from a registered prompt
-- record which version produced them, and whether the answer met its output schema.
ALTER TABLE traces ADD COLUMN parent_id TEXT;
ALTER TABLE traces ADD COLUMN span_name TEXT;
ALTER TABLE traces ADD COLUMN prompt_name TEXT;
ALTER TABLE traces ADD COLUMN prompt TEXT;
ALTER TABLE traces ADD COLUMN output_check TEXT;
CREATE INDEX traces_parent ON traces (parent_id, started_at_us) WHERE parent_id IS NOT NULL;
CREATE INDEX traces_roots_started ON traces (started_at_us DESC) WHERE parent_id IS NULL;
CREATE INDEX traces_prompt_started ON traces (prompt_name, started_at_us DESC) WHERE prompt_name IS NOT NULL;
