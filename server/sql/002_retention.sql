-- fete store, version 2: per-topic retention. The log is pruned per topic by the retention job
-- (server/retention-job.ts) as topics declare `retention`; each prune records here how far it went,
-- so that a resume from an older cursor on a pattern that matches the topic is told about the gap.
-- `pruned_through`: events of `topic` with seq <= this may be gone (events whose durable
-- deliveries were not done yet were kept; only the highest seq deleted is recorded).
CREATE TABLE {{schema}}.retention (
  topic           text PRIMARY KEY,
  pruned_through  bigint NOT NULL,
  pruned_at       timestamptz NOT NULL DEFAULT now()
);
