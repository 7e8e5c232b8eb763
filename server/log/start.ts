// Where a reader of the log starts, and which gaps it must be told about first. One place for every
// path (Socket.IO `sub`, SSE `from`/Last-Event-ID, `fete.follow`), so a resume is judged the same way
// whichever door it came through:
// - a cursor of another log (another epoch) is a `reset`: the reader starts at the beginning of
//   this log;
// - a cursor beyond anything this log ever handed out is `ahead` (a bare seq from another log, a
//   forged id): the same;
// - a cursor behind events retention (or the in-memory bound) removed is `pruned`: the reader gets
//   what is left before the watermark, then the gap, then the rest.
import type { LogPosition, GapReason } from '../../shared/index.js';
import type { LogView } from './event-log.js';

/** Where to start: only new events, the whole retained log, or after a position. */
export type FollowFrom = 'latest' | 'earliest' | LogPosition;

/** A gap a reader is told about: events in (after, resumedAt] may be missing (`pruned`), or `after`
 * was a seq of another log or of none (`reset`, `ahead`). `resumedAt` is a seq of this log. */
export interface GapNotice {
  reason: GapReason;
  after: number;
  resumedAt: number;
}

/** A resolved start: read after `cursor`; `gaps` are due in order (a `pruned` one once every event
 * still in the log up to its `resumedAt` has been read). */
export interface Start {
  cursor: number;
  gaps: GapNotice[];
}

/**
 * Resolves `from` against `log` for readers of `pattern` (all subjects when undefined). `latest`
 * is the log's head unless the caller knows better (`latest`: a fanout tail's position, so that
 * everything after it reaches the subscription live).
 */
export async function resolveStart(log: LogView, from: FollowFrom, pattern?: string, latest?: () => number | Promise<number>): Promise<Start> {
  if (from === 'latest') return { cursor: await (latest ? latest() : log.head()), gaps: [] };
  if (from === 'earliest') return { cursor: 0, gaps: [] };
  const gaps: GapNotice[] = [];
  let cursor = from.seq;
  if (from.epoch !== undefined && from.epoch !== log.epoch) {
    gaps.push({ reason: 'reset', after: from.seq, resumedAt: 0 });
    cursor = 0;
  } else if (from.seq > (await log.highWater())) {
    gaps.push({ reason: 'ahead', after: from.seq, resumedAt: 0 });
    cursor = 0;
  }
  const through = await log.prunedThrough(cursor, pattern);
  if (through !== undefined && through > cursor) gaps.push({ reason: 'pruned', after: cursor, resumedAt: through });
  return { cursor, gaps };
}
