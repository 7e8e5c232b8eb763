-- fete store, removals of latest values bounded in time (server/live/latest-store.ts): a tombstone
-- (012) is told to a resume only if the resume may have missed it, and is pruned past a horizon.
-- `removed_at`: the database's time of the removal (a clear or the expiry sweep).
-- `removed_through`: the log's high water (the events sequence) read once the removal has settled
-- (`retention.graceMs` after it: every live subscriber has had it by then, or lost its
-- connection), NULL until then. A resume from cursor C is sent the removals with
-- removed_through >= C or NULL: one with removed_through < C was settled before the event at C
-- was committed, so a client that has that event was told of it live. Stamping late only sends
-- a removal to more resumes, never fewer (the high water only grows).
-- Existing tombstones count as removed now and settle like new ones.
ALTER TABLE {{schema}}.latest ADD COLUMN removed_at timestamptz;
ALTER TABLE {{schema}}.latest ADD COLUMN removed_through bigint;
UPDATE {{schema}}.latest SET removed_at = updated_at WHERE cleared IS NOT NULL;
-- A resume's read: its tenant's removals at or after its cursor, unsettled ones counting as the
-- highest position (so a resume reads what it is sent, not every tombstone kept).
CREATE INDEX latest_removals ON {{schema}}.latest (tenant, (COALESCE(removed_through, 9223372036854775807))) WHERE cleared IS NOT NULL;
-- The settling (unsettled removals only, oldest first) and the pruning (settled ones by age).
CREATE INDEX latest_unsettled ON {{schema}}.latest (removed_at) WHERE cleared IS NOT NULL AND removed_through IS NULL;
CREATE INDEX latest_removals_age ON {{schema}}.latest (removed_at) WHERE cleared IS NOT NULL;
-- Per tenant, what pruning removed: `pruned_through`, the highest removed_through of a pruned
-- tombstone (a resume from a cursor at or below it may have missed a removal that is gone: it is
-- told that values its snapshot does not restate are gone); `max_version`, the highest version
-- of a pruned tombstone: a subject revived after its tombstone was pruned starts above it, so that
-- versions of a subject keep growing for receivers that still hold the removal.
CREATE TABLE {{schema}}.latest_horizon (
  tenant          text PRIMARY KEY,
  pruned_through  bigint NOT NULL,
  max_version     bigint NOT NULL
);
