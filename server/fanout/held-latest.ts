// Latest values held back from a reader that is behind. Only the newest value of a subject is ever
// due (the client drops a version it already has), so while a door's reader is too slow, changes
// wait here, one per subject, each replacing the one before; the door writes them when the reader
// has caught up. A slow or stalled reader then costs at most one value per subject of its pattern,
// not one per change (before: every change was queued, ~1.5 KB of heap each, for as long as the
// reader lasted). Volatile events are not held (they are dropped); log events are paced by the log.
import type { LiveEvent } from '../live/live-hub.js';

export class HeldLatest {
  /** By subject, in the order subjects were first held (a Map keeps insertion order). */
  readonly #bySubject = new Map<string, LiveEvent>();

  /** How many subjects have a value waiting. */
  get size(): number {
    return this.#bySubject.size;
  }

  /** Holds `ev` (a latest value), replacing an older version of its subject. */
  hold(ev: LiveEvent): void {
    const { subject, version } = ev.envelope;
    const held = this.#bySubject.get(subject);
    if (held !== undefined && (held.envelope.version ?? 0) >= (version ?? 0)) return;
    this.#bySubject.set(subject, ev);
  }

  /** Forgets the value held for `subject` if it is older than `version` (the value was cleared or
   * expired at `version`: sent after the removal, it would bring the value back). */
  drop(subject: string, version: number): void {
    const held = this.#bySubject.get(subject);
    if (held !== undefined && (held.envelope.version ?? 0) < version) this.#bySubject.delete(subject);
  }

  /** The values waiting, oldest subject first; empties the hold. */
  take(): LiveEvent[] {
    const out = [...this.#bySubject.values()];
    this.#bySubject.clear();
    return out;
  }
}
