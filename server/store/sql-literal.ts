// SQL literals, for the few hot statements that ride in one simple-protocol query with BEGIN or
// COMMIT (pg-driver.ts): a simple query cannot carry parameters. Values only, never identifiers;
// the quoting is node-postgres's `escapeLiteral` (safe whatever standard_conforming_strings says:
// quotes doubled, and with a backslash the E'' form with backslashes doubled). NUL, which text
// cannot hold and the protocol would cut the query at, is refused.
import { FeteError } from '../../shared/index.js';

/** `value` as a SQL literal: a string quoted, a finite number as is, null as NULL. */
export function sqlLiteral(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new FeteError('MALFORMED', `not a finite number: ${String(value)}`);
    return String(value);
  }
  if (typeof value !== 'string') throw new FeteError('MALFORMED', 'a SQL literal must be a string, a number or null');
  if (value.includes('\u0000')) throw new FeteError('MALFORMED', 'text cannot hold a NUL character');
  let hasBackslash = false;
  let quoted = "'";
  for (const c of value) {
    if (c === "'") quoted += "''";
    else if (c === '\\') {
      quoted += '\\\\';
      hasBackslash = true;
    } else quoted += c;
  }
  quoted += "'";
  return hasBackslash ? ` E${quoted}` : quoted;
}
