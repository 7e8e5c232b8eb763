-- fete store, commands: the exactly-once claim of a command id is its own short statement, taken
-- before the handler runs (so a handler awaiting something slow holds no store connection). A
-- 'running' row is now committed while its handler runs: `owner` is the token of the call that
-- holds it, `lease_until` when a process that crashed mid-handler lets it go (another call of the
-- id may then take it over and run the handler; nothing of the crashed run committed). The
-- outcome is recorded only by the owner (WHERE owner = its token), in the transaction of the
-- handler's writes and emits. NULL lease_until: a row from before this migration (never 'running').
ALTER TABLE {{schema}}.command_results ADD COLUMN owner text;
ALTER TABLE {{schema}}.command_results ADD COLUMN lease_until timestamptz;
