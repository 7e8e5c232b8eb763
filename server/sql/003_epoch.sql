-- fete store, version 3: the log's identity. One `epoch` row, made once when the store is created
-- (or first migrated to this version): cursors handed to clients carry it, so that a cursor from
-- another log (a recreated PGlite directory, another database) is told apart from a seq of this
-- one and answered with a `reset` gap instead of being read as a position here.
CREATE TABLE {{schema}}.meta (
  key    text PRIMARY KEY,
  value  text NOT NULL
);
INSERT INTO {{schema}}.meta (key, value) VALUES ('epoch', left(replace(gen_random_uuid()::text, '-', ''), 16));
