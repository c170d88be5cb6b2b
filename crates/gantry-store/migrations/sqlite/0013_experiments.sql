-- A canary's automatic bounds and an A/B experiment are JSON on the deployment: they are read
-- and replaced whole, with the deployment, under its compare-and-set.
ALTER TABLE deployments ADD COLUMN canary_guard TEXT;
ALTER TABLE deployments ADD COLUMN experiment TEXT;

-- A key may belong to an environment: its calls to deployed routes run there.
ALTER TABLE api_keys ADD COLUMN environment TEXT;
