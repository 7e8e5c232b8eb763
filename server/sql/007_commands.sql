-- fete store, commands (issue 14): the recorded result of every command id, for exactly-once
-- execution, and the requests one process forwards to another that runs the owner's role.

-- One row per (tenant, command id). The executor inserts it at the start of the handler's
-- transaction (state 'running', no result): a concurrent duplicate's insert then waits on the
-- unique index until that transaction ends, and finds the finished row (or, after a rollback,
-- takes the id itself). The same transaction writes the result, so a result exists exactly when
-- the handler's writes and emits committed. Deliberate rejections are recorded too (their own
-- autocommit insert after the rollback), so a retry gets the same answer. `tenant` is '' without
-- one. `result` and `error` are superjson text / JSON; rows past `expires_at` are pruned.
CREATE TABLE {{schema}}.command_results (
  tenant      text NOT NULL,
  id          text NOT NULL,
  name        text NOT NULL,
  state       text NOT NULL CHECK (state IN ('running', 'ok', 'error')),
  result      text,
  error       jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (tenant, id)
);
CREATE INDEX command_results_expiry ON {{schema}}.command_results (expires_at);

-- Forwarded requests: a process that receives a command whose owner runs only in another role
-- inserts a row here and NOTIFYs; a process with the role claims it (SKIP LOCKED), executes it
-- through the same exactly-once path, writes the reply and NOTIFYs the origin, which deletes it.
CREATE TABLE {{schema}}.command_requests (
  rid         bigserial PRIMARY KEY,
  tenant      text NOT NULL,
  id          text NOT NULL,
  name        text NOT NULL,
  role        text NOT NULL,
  input       text NOT NULL,
  principal   text NOT NULL,
  state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done')),
  reply       jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX command_requests_pending ON {{schema}}.command_requests (role, rid) WHERE state = 'pending';
