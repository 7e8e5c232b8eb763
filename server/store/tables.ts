// Qualified table names and the NOTIFY channel of one store schema, built once. The schema comes
// from fete's options and is checked against a strict identifier pattern before it is quoted and
// placed in SQL text; nothing from emits or requests is ever interpolated.
import { FeteError } from '../../shared/index.js';

/** First key of the shared advisory lock every append holds, `(APPEND_LOCK_CLASS,
 * hashtext(schema))`; log-reader.ts looks for its holders. ('fete' in ASCII.) */
export const APPEND_LOCK_CLASS = 0x66657465;

const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,47}$/;

export interface Tables {
  readonly schema: string;
  readonly quotedSchema: string;
  readonly events: string;
  readonly listeners: string;
  readonly deliveries: string;
  readonly migrations: string;
  /** Per-topic prune watermarks (002_retention.sql). */
  readonly retention: string;
  /** Recurring schedules (005_work_over_time.sql). */
  readonly schedules: string;
  /** NOTIFY channel: appends, rescues and retries wake workers and tails through it. */
  readonly channel: string;
  /** Commit the worker's bookkeeping asynchronously (see delivery-queries.ts). Only on PostgreSQL:
   * embedded in the worker's process, PGlite loses its unflushed WAL with the worker. */
  readonly relaxedCommits: boolean;
}

export function tablesFor(schema: string, options: { relaxedCommits?: boolean } = {}): Tables {
  if (!SCHEMA_RE.test(schema))
    throw new FeteError(
      'INVALID_OPTIONS',
      `schema must be a lower-case SQL identifier (letters, digits, _; at most 48), got ${JSON.stringify(schema)}`,
    );
  const q = `"${schema}"`;
  return {
    schema,
    quotedSchema: q,
    events: `${q}.events`,
    listeners: `${q}.listeners`,
    deliveries: `${q}.deliveries`,
    migrations: `${q}.migrations`,
    retention: `${q}.retention`,
    schedules: `${q}.schedules`,
    channel: `fete_${schema}`,
    relaxedCommits: options.relaxedCommits ?? false,
  };
}
