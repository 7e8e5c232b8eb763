-- fete store, commands (issue 14): who ran each command. A recorded result is read back by command
-- id only by the principal that ran it (its actor, the `actor` header's value: the principal's
-- `id`, or the principal itself when it is a string) in its tenant; NULL for a principal without
-- one (server code outside `runAs`, anonymous callers). A retry with the same id by another actor
-- is a CONFLICT, never the first caller's result.
ALTER TABLE {{schema}}.command_results ADD COLUMN actor text;
