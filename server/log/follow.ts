// The one cursor loop of the server: follow(log, { from, pattern, signal }) reads the log after a
// cursor page by page, then waits and goes on live, yielding event pages and gap notices. The
// Socket.IO replay, the fanout's tail, SSE streams and `fete.follow` all read the log through it.
//
// No gap, no duplicate: one cursor, only ever moved forward to what a read (or a local commit that
// continues it) covered. `log.read` never returns past a seq that may still commit, so advancing
// to its cursor cannot skip a late commit (store/log-reader.ts).
//
// Two ways in, as the fanout's tail always had:
// - events this process appended are handed over right after their commit (`log.onCommit`) and
//   yielded at once when they continue the cursor (seq = cursor + 1): no NOTIFY wait, no read;
// - everything else (other processes' appends, whatever a gap holds back) is read from the log,
//   woken by appends in any process (`log.onAppend`) and by a poll, because a rolled-back append
//   draws a seq but sends no NOTIFY and the reader waits at such a gap until it is final.
// Held local events are bounded (MAX_HELD): past it they are dropped and read from the log.
//
// Over the NATS bus (bus/nats-bus.ts) the fanout's tail follows a log whose commit hooks also carry
// other processes' events, and whose `onSkip` names seqs committed elsewhere that this node's
// sockets do not want (announced by a commit notice, not sent to this node): both continue the
// cursor without a read, and the skipped seqs are listed in the page so that the tail can check
// them against the subscriptions it has by then (log-tail.ts).
//
// Pull-based: nothing is read until the consumer asks for the next item, so a slow consumer (a
// socket that does not drain) holds back the reads, never the server's memory.
import { type Cursor, type Envelope, type SubscribeFrom, formatCursor, matches, requireCursor, validatePattern } from '../../shared/index.js';
import type { LogView } from './event-log.js';
import { type FollowFrom, type GapNotice, type Start, resolveStart } from './start.js';

/** Local events held while a gap before them is open; past this the reader takes over alone. */
const MAX_HELD = 10_000;
/** A gap before local events is usually another local append about to hand its events over; the
 * log is read only if it is still open this much later (other processes' appends NOTIFY anyway). */
const GAP_READ_DELAY_MS = 5;
/** A read held at a seq still in flight (the head is known to be further) is retried this soon. */
const BLOCKED_RETRY_MS = 20;

/** Events matching the pattern with seq in (previous `seq`, `seq`], in seq order; `seq` is how far
 * the log was read (matching or not) and `cursor` the same position with the log's epoch. */
export interface FollowEvents {
  type: 'events';
  events: Envelope[];
  seq: number;
  cursor: Cursor;
  /** Seqs this page moved past on the log's word that they hold nothing for this reader (see
   * SkippingLog); absent when none. */
  skipped?: Skipped[];
}

/** A seq committed by another process whose event this reader is not handed: its subject, or
 * undefined when the event never leaves the server (its topic is not exposed), and its tenant. */
export interface Skipped {
  seq: number;
  subject: string | undefined;
  tenant?: string | undefined;
}

/** A log that also says which seqs its commit hooks will not hand over (the NATS bus's view). */
export interface SkippingLog extends LogView {
  onSkip?(fn: (skipped: readonly Skipped[]) => void): () => void;
}

/** The log cannot cover the resume (see start.ts); events follow after `resumedAt`. `cursor` is
 * `resumedAt` with the log's epoch. */
export interface FollowGap extends GapNotice {
  type: 'gap';
  cursor: Cursor;
}

export type FollowItem = FollowEvents | FollowGap;

export interface FollowOptions {
  /** Where to start: 'latest', 'earliest', a position (cursor), or a start resolved already. */
  from: FollowFrom | Start;
  /** Only events whose subject matches. @default every event */
  pattern?: string | undefined;
  /** Ends the iteration (it returns; no error). */
  signal?: AbortSignal | undefined;
  /** Events scanned per read. @default 500 */
  pageSize?: number | undefined;
  /** The log is read this often even without a notification. @default 1000 */
  pollIntervalMs?: number | undefined;
  /** Only events this predicate keeps are yielded (the cursor still moves past the others): the
   * security rule of a browser or `fete.follow` reader (security/exposure.ts). @default every event */
  visible?: ((e: Envelope) => boolean) | undefined;
  /** A seq known to be appended (a fanout tail's position): a read that stops short of it is held
   * by an append in flight and is retried soon, not at the next poll. @default 0 */
  knownHead?: number | undefined;
  /** A gap before held events is read from the log when still open this long after. @default 5 */
  gapReadDelayMs?: number | undefined;
}

function isStart(from: FollowOptions['from']): from is Start {
  return typeof from === 'object' && 'gaps' in from;
}

/** Follows `log`: event pages (possibly without events, when only the cursor moved) and gap
 * notices, in log order, forever (until `signal` aborts or the consumer stops). A read that fails
 * throws out of the iteration: resume from the last `seq` received. */
export async function* follow(log: SkippingLog, options: FollowOptions): AsyncGenerator<FollowItem, void, undefined> {
  const { pattern, signal } = options;
  const pageSize = options.pageSize ?? 500;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const epoch = log.epoch;
  const gapReadDelayMs = options.gapReadDelayMs ?? GAP_READ_DELAY_MS;
  const held = new Map<number, Envelope>();
  /** Seqs the log said hold nothing for this reader (SkippingLog), with their subjects. */
  const skips = new Map<number, Skipped>();
  const next = (seq: number) => held.has(seq) || skips.has(seq);
  let gapSeenAt: { seq: number; at: number } | undefined;
  let cursor = 0;
  let started = false;
  let knownHead = options.knownHead ?? 0;
  let dirty = true;
  let wakeUp: (() => void) | undefined;
  const notify = () => {
    const w = wakeUp;
    wakeUp = undefined;
    w?.();
  };
  const covered = (head: number) => {
    if (head <= cursor) return true;
    if (head - cursor > held.size + skips.size) return false;
    for (let s = cursor + 1; s <= head; s++) if (!next(s)) return false;
    return true;
  };
  /** After events (or skips) were handed over: a flood of them is forgotten and read instead. */
  const handedOver = () => {
    if (!started) dirty = true;
    if (held.size + skips.size > MAX_HELD) {
      held.clear();
      skips.clear();
      dirty = true;
    }
    notify();
  };
  const unsubscribe = [
    log.onCommit((events) => {
      for (const e of events) {
        knownHead = Math.max(knownHead, e.seq!);
        if (started && e.seq! > cursor) held.set(e.seq!, e);
      }
      handedOver();
    }),
    ...(log.onSkip === undefined
      ? []
      : [
          log.onSkip((skipped) => {
            for (const s of skipped) {
              knownHead = Math.max(knownHead, s.seq);
              if (started && s.seq > cursor) skips.set(s.seq, s);
            }
            handedOver();
          }),
        ]),
    log.onAppend((head) => {
      if (head === undefined) dirty = true;
      else {
        knownHead = Math.max(knownHead, head);
        // A NOTIFY for events already handed over directly needs no read.
        if (!covered(head)) dirty = true;
      }
      notify();
    }),
  ];
  const poll = setInterval(() => {
    dirty = true;
    notify();
  }, pollIntervalMs);
  poll.unref();
  const onAbort = () => notify();
  signal?.addEventListener('abort', onAbort);
  const sleep = (ms?: number) =>
    new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(notify, ms);
      timer?.unref();
      wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });

  try {
    const start = isStart(options.from) ? options.from : await resolveStart(log, options.from, pattern);
    cursor = start.cursor;
    started = true;
    for (const seq of held.keys()) if (seq <= cursor) held.delete(seq);
    for (const seq of skips.keys()) if (seq <= cursor) skips.delete(seq);
    const gaps = [...start.gaps];
    const gapItem = (g: GapNotice): FollowGap => ({ type: 'gap', ...g, cursor: formatCursor(epoch, g.resumedAt) });
    // reset/ahead come first: the reader starts over in this log.
    while (gaps[0] !== undefined && gaps[0].reason !== 'pruned') yield gapItem(gaps.shift()!);

    /** Yields `events` (read up to `upTo`), the pending `pruned` gap placed after what the log still
     * has up to its watermark (the client moves its cursor there when told). */
    async function* page(events: Envelope[], upTo: number, skipped?: Skipped[]): AsyncGenerator<FollowItem, void, undefined> {
      if (options.visible !== undefined) events = events.filter(options.visible);
      const g = gaps[0];
      if (g !== undefined && upTo >= g.resumedAt) {
        const before = events.filter((e) => e.seq! <= g.resumedAt);
        if (before.length > 0 || g.resumedAt > cursor) {
          cursor = Math.max(cursor, g.resumedAt);
          yield { type: 'events', events: before, seq: cursor, cursor: formatCursor(epoch, cursor) };
        }
        gaps.shift();
        yield gapItem(g);
        events = events.slice(before.length);
      }
      if (upTo <= cursor && events.length === 0) return;
      cursor = Math.max(cursor, upTo);
      yield { type: 'events', events, seq: cursor, cursor: formatCursor(epoch, cursor), ...(skipped === undefined ? {} : { skipped }) };
    }

    for (;;) {
      if (signal?.aborted) return;
      // Local commits that continue the cursor: no read.
      if (next(cursor + 1)) {
        // Yielded after this turn's I/O: commits that completed together go out together (the
        // fanout sends them as one packet per subscription; see fanout-core.ts).
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (signal?.aborted) return;
        const local: Envelope[] = [];
        let skipped: Skipped[] | undefined;
        let upTo = cursor;
        for (;;) {
          const e = held.get(upTo + 1);
          if (e !== undefined) {
            held.delete(e.seq!);
            upTo = e.seq!;
            if (pattern === undefined || matches(pattern, e.subject)) local.push(e);
          } else if (skips.has(upTo + 1)) {
            upTo++;
            (skipped ??= []).push(skips.get(upTo)!);
            skips.delete(upTo);
          } else break;
        }
        yield* page(local, upTo, skipped);
        continue;
      }
      if (dirty) {
        dirty = false;
        const before = cursor;
        const read = await log.read(cursor, { ...(pattern === undefined ? {} : { pattern }), limit: pageSize });
        if (signal?.aborted) return;
        // Events handed over while the read was in flight may be yielded already.
        const fresh = read.events.filter((e) => e.seq! > cursor);
        if (read.cursor > cursor || fresh.length > 0) yield* page(fresh, read.cursor);
        for (const seq of held.keys()) if (seq <= cursor) held.delete(seq);
        for (const seq of skips.keys()) if (seq <= cursor) skips.delete(seq);
        knownHead = Math.max(knownHead, cursor);
        if (read.cursor - before >= pageSize) {
          dirty = true; // a full page: there may be more
          continue;
        }
        if (read.cursor <= before && knownHead > cursor) {
          // Held at a seq still in flight: it commits or rolls back shortly.
          await sleep(BLOCKED_RETRY_MS);
          dirty = true;
          continue;
        }
        // Caught up: a pruned gap past everything the log has is due now.
        const g = gaps[0];
        if (g !== undefined) yield* page([], g.resumedAt);
        continue;
      }
      if (held.size + skips.size > 0) {
        // A gap before held events: wait a moment for the append that fills it, then read. Timed
        // from when the gap was first seen, so a stream of later events does not cut it short.
        if (gapSeenAt?.seq !== cursor + 1) gapSeenAt = { seq: cursor + 1, at: Date.now() };
        const left = gapSeenAt.at + gapReadDelayMs - Date.now();
        if (left > 0) await sleep(left);
        else dirty = true;
        continue;
      }
      await sleep();
    }
  } finally {
    for (const u of unsubscribe) u();
    clearInterval(poll);
    signal?.removeEventListener('abort', onAbort);
    notify();
  }
}

/** `fete.follow(pattern, { from, signal })`: checks its input (INVALID_PATTERN, MALFORMED `from`)
 * at the call, then follows `log`, leaving out pages without events. */
export function followPattern(
  log: LogView,
  pattern: string,
  options: { from?: SubscribeFrom; signal?: AbortSignal; visible?: (e: Envelope) => boolean },
): AsyncIterable<FollowItem> {
  validatePattern(pattern);
  const raw = options.from ?? 'latest';
  const from = raw === 'latest' || raw === 'earliest' ? raw : requireCursor(raw, 'follow: from');
  return {
    async *[Symbol.asyncIterator]() {
      for await (const item of follow(log, { from, pattern, signal: options.signal, visible: options.visible })) if (item.type === 'gap' || item.events.length > 0) yield item;
    },
  };
}
