-- fete store, latest-value topics (issue 15): `delivery: 'latest'` keeps only the last value per
-- (tenant, subject), upserted in place of a log append. `version` is per row: 1 on the first
-- value, +1 on every change, computed under the row's lock by the upsert itself, so concurrent
-- emits on one subject get increasing versions in commit order (a receiver drops a value whose
-- version is not above the one it has). `tenant` is '' without one. `payload` is superjson text,
-- `headers` the envelope's headers. No context: latest values are not handed to durable listeners.
CREATE TABLE {{schema}}.latest (
  tenant      text NOT NULL,
  subject     text NOT NULL,
  topic       text NOT NULL,
  id          text NOT NULL,
  version     bigint NOT NULL,
  time        timestamptz NOT NULL,
  headers     jsonb NOT NULL,
  payload     text NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant, subject)
);
-- A new subscription reads its tenant's rows in subject order (keyset pages), filtered by topic.
CREATE INDEX latest_topic ON {{schema}}.latest (tenant, topic, subject);
