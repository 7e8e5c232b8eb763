// SQL literals, for the few hot statements that ride in one simple-protocol query with BEGIN or
// COMMIT (pg-driver.ts): a simple query cannot carry parameters. Values only, never identifiers.
// The quoting is node-postgres's own `escapeLiteral` (quotes doubled; with a backslash, the E''
// form with backslashes doubled: safe whatever standard_conforming_strings says). NUL, which text
// cannot hold and the protocol would cut the query at, is refused.
import pg from 'pg';
import { FeteError } from '../../shared/index.js';

/** `value` as a SQL literal: a string quoted, a finite number as is, null as NULL.
 * Throws MALFORMED for a non-finite number, a NUL character or another type. */
export function sqlLiteral(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new FeteError('MALFORMED', `not a finite number: ${String(value)}`);
    return String(value);
  }
  if (typeof value !== 'string') throw new FeteError('MALFORMED', 'a SQL literal must be a string, a number or null');
  if (value.includes('\u0000')) throw new FeteError('MALFORMED', 'text cannot hold a NUL character');
  return pg.escapeLiteral(value);
}
