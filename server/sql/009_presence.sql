-- fete store, version 9: presence, who is subscribed to a subject, across processes.
-- Each process (node) writes one row per (tenant, subject, member) it has connections for, and
-- keeps one row in `presence_nodes` alive by heartbeat. A row counts only while its node's row has
-- not expired: a process that dies stops heartbeating, and the first live node whose sweep finds
-- its node row expired deletes it and its rows (DELETE ... RETURNING: exactly one sweeper gets
-- each row) and announces the leaves. One heartbeat is one row update per node, whatever the
-- number of members (a per-row `expires_at` would rewrite every member row on every beat).
-- `version` orders a node's writes of one row (a per-node counter): a receiver keeps the newest.
-- `state` is JSON text set by the member's connections; `updated_at` picks the newest across nodes.
CREATE TABLE {{schema}}.presence_nodes (
  node        text PRIMARY KEY,
  expires_at  timestamptz NOT NULL
);
CREATE TABLE {{schema}}.presence (
  tenant       text NOT NULL,
  subject      text NOT NULL,
  member       text NOT NULL,
  node         text NOT NULL,
  connections  integer NOT NULL CHECK (connections > 0),
  state        text,
  version      bigint NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, subject, member, node)
);
-- The sweep and a graceful stop delete by node.
CREATE INDEX presence_by_node ON {{schema}}.presence (node);
