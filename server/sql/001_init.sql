-- fete store, version 1: the event log, the durable listeners, and one delivery row per
-- (event, durable listener). `{{schema}}` is replaced by the configured schema (a validated,
-- quoted identifier) when migrations run.

-- The log. `seq` is the store's offset (the cursor of subscriptions); `id` the envelope id;
-- `key` the idempotency-key header when one was given (the id is the key otherwise; the partial
-- unique index below skips the common NULL, one index insert less per append).
-- `payload` and `context` are superjson text (Dates, BigInt, Map survive).
CREATE TABLE {{schema}}.events (
  seq      bigserial PRIMARY KEY,
  id       uuid NOT NULL UNIQUE,
  key      text,
  topic    text NOT NULL,
  subject  text NOT NULL,
  tenant   text,
  time     timestamptz NOT NULL,
  headers  jsonb NOT NULL,
  payload  text NOT NULL,
  context  text NOT NULL
);
CREATE UNIQUE INDEX events_key ON {{schema}}.events (key) WHERE key IS NOT NULL;

-- Durable listeners, recorded by the processes that register them. An append joins this table to
-- insert deliveries in its own statement: by topic name (`topic`) or by subject regex (`regex`,
-- translated from the NATS pattern), so no process works from a stale copy of the listener list.
CREATE TABLE {{schema}}.listeners (
  id          serial PRIMARY KEY,
  target      text NOT NULL,
  name        text NOT NULL,
  topic       text,
  regex       text,
  options     jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  seen_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (target, name),
  CHECK ((topic IS NULL) <> (regex IS NULL))
);

-- Work: one row per (event, listener). `pending` rows wait for `run_at`; `running` rows hold a
-- lease (token + deadline); `dead` rows are dead letters. Completed rows are deleted (the event
-- stays in the log), which keeps this table and its indexes as small as the backlog.
-- No foreign key to events: deliveries are only inserted by the append statement itself, and
-- the check would cost an index probe per row on the hottest insert.
CREATE TABLE {{schema}}.deliveries (
  id           bigserial PRIMARY KEY,
  event_seq    bigint NOT NULL,
  listener_id  integer NOT NULL,
  state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'dead')),
  attempts     integer NOT NULL DEFAULT 0,
  run_at       timestamptz NOT NULL DEFAULT now(),
  lease_token  uuid,
  lease_until  timestamptz,
  last_error   text
);

-- The claim walks this index in (run_at, id) order for one listener and stops at LIMIT.
CREATE INDEX deliveries_ready ON {{schema}}.deliveries (listener_id, run_at, id) WHERE state = 'pending';
-- The rescuer finds expired leases here.
CREATE INDEX deliveries_leases ON {{schema}}.deliveries (lease_until) WHERE state = 'running';
-- Dead letters, listed by id.
CREATE INDEX deliveries_dead ON {{schema}}.deliveries (id) WHERE state = 'dead';
