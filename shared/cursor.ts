// Cursors: a position in one log, `<epoch>:<seq>`, handed to clients (Socket.IO acks, SSE ids,
// `sub.cursor`) and taken back on resume. The epoch names the log (made once per store), so a
// cursor from another log is recognised instead of being read as a seq of this one.
import { FeteError } from './errors.js';

/** An opaque position in one log: `<epoch>:<seq>`. A bare `<seq>` means "in the current log". */
export type Cursor = `${string}:${number}` | `${number}`;

/** A parsed cursor: `epoch` is undefined for a bare seq (taken as the current log's). */
export interface LogPosition {
  epoch: string | undefined;
  seq: number;
}

const EPOCH_RE = /^[A-Za-z0-9_-]{1,64}$/;
const CURSOR_RE = /^(?:([A-Za-z0-9_-]{1,64}):)?(\d{1,16})$/;

/** The cursor of `seq` in the log `epoch`. */
export function formatCursor(epoch: string | undefined, seq: number): Cursor {
  return epoch === undefined ? `${seq}` : `${epoch}:${seq}`;
}

/** Whether `epoch` has the shape of an epoch (letters, digits, `_`, `-`; 1 to 64). */
export function isEpoch(epoch: unknown): epoch is string {
  return typeof epoch === 'string' && EPOCH_RE.test(epoch);
}

/** Parses a cursor (or a bare seq, as a number or digits); undefined if it is neither. */
export function parseCursor(value: unknown): LogPosition | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? { epoch: undefined, seq: value } : undefined;
  if (typeof value !== 'string') return undefined;
  const m = CURSOR_RE.exec(value);
  if (!m) return undefined;
  const seq = Number(m[2]);
  return Number.isSafeInteger(seq) ? { epoch: m[1], seq } : undefined;
}

/** parseCursor, throwing MALFORMED naming `what` for anything else. */
export function requireCursor(value: unknown, what: string): LogPosition {
  const p = parseCursor(value);
  if (!p) throw new FeteError('MALFORMED', `${what} must be a cursor ('<epoch>:<seq>') or a seq (a non-negative integer)`);
  return p;
}
