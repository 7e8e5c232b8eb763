// Latest values and removals held back from a reader that is behind. Only the newest state of a
// subject is ever due (the client drops a version it already has), so while a door's reader is too
// slow, changes wait here, one per subject, each replacing the one before: a newer value, or a
// removal (clear or expiry) at a newer version, which also stands for every older value. The door
// writes them when the reader has caught up. A slow or stalled reader then costs at most one entry
// per subject of its pattern, not one per change or per clear (before: every change was queued,
// ~1.5 KB of heap each, for as long as the reader lasted). Volatile events are not held (they are
// dropped); log events are paced by the log.
import type { LatestCleared } from '../../shared/index.js';
import type { LiveEvent } from '../live/live-hub.js';

/** What is due for a subject: its newest value, or its removal; or, last, the end of a complete
 * snapshot (live-hub.ts `restated`). */
export type HeldEntry = { value: LiveEvent } | { removal: LatestCleared } | { restated: true };

function versionOf(e: { value: LiveEvent } | { removal: LatestCleared }): number {
  return 'value' in e ? (e.value.envelope.version ?? 0) : e.removal.version;
}

export class HeldLatest {
  /** By subject, in the order subjects were first held (a Map keeps insertion order). */
  readonly #bySubject = new Map<string, { value: LiveEvent } | { removal: LatestCleared }>();
  #restated = false;

  /** How many subjects have something waiting. */
  get size(): number {
    return this.#bySubject.size;
  }

  /** Holds `ev` (a latest value), replacing an older value or removal of its subject. */
  hold(ev: LiveEvent): void {
    this.#put(ev.envelope.subject, { value: ev });
  }

  /** Holds a removal, replacing an older value or removal of its subject (a value held at an older
   * version must not be sent after the removal: it would bring the value back). */
  holdRemoval(c: LatestCleared): void {
    this.#put(c.subject, { removal: c });
  }

  /** Holds the end of a complete snapshot: sent after every entry (the values held before it are
   * the snapshot's or newer; those held after it are newer: restated either way). */
  holdRestated(): void {
    this.#restated = true;
  }

  #put(subject: string, entry: { value: LiveEvent } | { removal: LatestCleared }): void {
    const held = this.#bySubject.get(subject);
    if (held !== undefined && versionOf(held) >= versionOf(entry)) return;
    this.#bySubject.set(subject, entry);
  }

  /** What is waiting, oldest subject first; empties the hold. */
  take(): HeldEntry[] {
    const out: HeldEntry[] = [...this.#bySubject.values()];
    if (this.#restated) out.push({ restated: true });
    this.#bySubject.clear();
    this.#restated = false;
    return out;
  }
}
