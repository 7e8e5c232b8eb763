-- fete store, version 5: work over time. Listener lifecycle (heartbeats and retirement), ordering
-- keys on deliveries, and recurring schedules. See server/dispatch/ and server/schedule/.

-- A retired listener (fete.listeners.retire, or taken over by `replaces`) gets no new deliveries;
-- its row stays while dead letters of it are kept for inspection. `seen_at` (001) is refreshed by
-- every process that registers the listener (listener-heartbeat.ts): a listener no process has
-- refreshed for `listeners.orphanAfterMs` is orphaned.
ALTER TABLE {{schema}}.listeners ADD COLUMN retired_at timestamptz;

-- The ordering key of a delivery (computed by the appending process from the listener's
-- `orderBy`, or the emit's `orderKey`): deliveries of one listener with the same key run one at a
-- time in event seq order. The claim looks for an earlier delivery of the same key here.
ALTER TABLE {{schema}}.deliveries ADD COLUMN order_key text;
CREATE INDEX deliveries_order ON {{schema}}.deliveries (listener_id, order_key, event_seq) WHERE order_key IS NOT NULL;

-- Recurring work. One row per schedule name, written by every process that declares it.
-- `last_tick`: the latest tick appended (each tick is one event whose idempotency key is
-- `schedule:<name>:<tick ms>`, so racing processes append it once). `next_run_at`: the tick
-- planned next (adaptive schedules move it after each run). `interval_ms`: the adaptive interval.
CREATE TABLE {{schema}}.schedules (
  name         text PRIMARY KEY,
  spec         jsonb NOT NULL,
  last_tick    timestamptz,
  last_run_at  timestamptz,
  next_run_at  timestamptz,
  interval_ms  double precision,
  updated_at   timestamptz NOT NULL DEFAULT now()
);
