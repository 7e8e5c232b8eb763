// The one replay-then-live loop of a browser reader (a Socket.IO subscription, an SSE stream):
// the log is read from the reader's start, paced by the reader, up to at least where the node's
// tail stood when the round began; meanwhile what the tail routes for the reader is buffered; then
// the buffer is sent (what the log already gave is skipped by seq) and the reader is live. A
// buffer that overflowed (the reader fell behind again) is dropped and another round reads the log
// from where it is. Gaps of the start are told in their place, even when the log holds nothing to
// replay (a reset to an empty log). No gap, no duplicate: the reader sends a seq only once, above
// the last one it sent.
import type { Envelope } from '../../shared/index.js';
import type { FollowGap, FollowItem } from './follow.js';
import type { Start } from './start.js';

/** What a reader gives the loop; each door frames and writes in its own way. */
export interface HandoverReader {
  readonly closed: boolean;
  /** Resolves once the reader can take more: the replay is paced by it. */
  writable(): Promise<void>;
  /** Where the node's tail stands now. */
  tailCursor(): number;
  /** From now on the tail's events for this reader are buffered; an earlier round's buffer is dropped. */
  bufferFromTail(): void;
  /** Whether the buffer overflowed since `bufferFromTail`. */
  overflowed(): boolean;
  /** A gap notice: what was queued goes first, then the notice; the reader's cursor moves to its
   * `resumedAt` (or stays past it, for a `pruned` gap behind what was sent). */
  gap(item: FollowGap): void;
  /** A page of the log's events: queued by seq (above the last sent) and written. */
  page(events: readonly Envelope[]): void;
  /** The buffered events (above the last sent), written; the reader is live from here. */
  goLive(): void;
}

/** Runs the loop over `items` (follow() from `start`); returns when live, or when the reader
 * closed or the log ended. A read error throws (the caller ends the reader). */
export async function replayThenLive(items: AsyncIterator<FollowItem>, start: Start, r: HandoverReader): Promise<void> {
  let gapsDue = start.gaps.length;
  let read = start.cursor;
  for (;;) {
    r.bufferFromTail();
    const target = r.tailCursor();
    while (read < target || gapsDue > 0) {
      await r.writable();
      if (r.closed) return;
      const next = await items.next();
      if (r.closed || next.done) return;
      const item: FollowItem = next.value;
      if (item.type === 'gap') {
        gapsDue--;
        r.gap(item);
        read = Math.max(read, item.resumedAt);
        continue;
      }
      r.page(item.events);
      read = Math.max(read, item.seq);
    }
    if (r.overflowed()) continue; // fell behind again: another round from the log
    r.goLive();
    return;
  }
}
