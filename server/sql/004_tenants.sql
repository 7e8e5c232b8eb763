-- fete store, version 4: tenants. Event ids and idempotency keys are unique per tenant, not across
-- the store: one tenant's key can no longer swallow another tenant's emit (nor tell it that the key
-- was used). The default tenant is '' rather than NULL, because a unique index treats NULLs as
-- distinct: with NULL, two default-tenant emits of one id would both be stored.
UPDATE {{schema}}.events SET tenant = '' WHERE tenant IS NULL;
ALTER TABLE {{schema}}.events ALTER COLUMN tenant SET DEFAULT '', ALTER COLUMN tenant SET NOT NULL;

ALTER TABLE {{schema}}.events DROP CONSTRAINT events_id_key;
DROP INDEX {{schema}}.events_key;
CREATE UNIQUE INDEX events_tenant_id ON {{schema}}.events (tenant, id);
-- Partial, as before: most events have no idempotency key (the id is the key then).
CREATE UNIQUE INDEX events_tenant_key ON {{schema}}.events (tenant, key) WHERE key IS NOT NULL;

-- No (tenant, seq) index for replays yet: the log reader walks every seq after a cursor (it must
-- see every seq to tell a gap that may still commit from one that never will, log-reader.ts), so
-- no query could use it: it would be one more index write per append for nothing. It belongs with
-- a reader that filters by tenant in SQL (bench tenant-append measures an append with it).
