-- fete store, latest values that are cleared or expire: `fete.clearLatest` and a topic's `ttlMs`.
-- A cleared or expired value leaves its row as a tombstone (`cleared` = the reason, payload ''),
-- with the version bumped: versions of a subject must keep growing across a clear (receivers drop
-- a value whose version is not above the last they handed over), so the row that holds the counter
-- stays. A later emit on the subject revives the row at the next version. Tombstones are read only
-- by resuming subscribers (what was cleared while they were away).
-- `expires_at` is set at each upsert from the topic's ttlMs (NULL without one), on the database's
-- clock, so every process agrees on it; reads skip rows past it and the sweep turns them into
-- tombstones (reason 'expired'), a bounded batch at a time.
ALTER TABLE {{schema}}.latest ADD COLUMN expires_at timestamptz;
ALTER TABLE {{schema}}.latest ADD COLUMN cleared text CHECK (cleared IN ('cleared', 'expired'));
-- The sweep's scan: live values with an expiry, oldest first.
CREATE INDEX latest_expiry ON {{schema}}.latest (expires_at) WHERE cleared IS NULL AND expires_at IS NOT NULL;
