// `fete.observePresence(pattern)`: the members of one tenant on the subjects matching a pattern,
// kept current, with each change given to a callback and/or a `for await` loop. Changes are held
// for the loop until it reads them (at most `MAX_QUEUED`; past that the oldest are dropped and the
// loop should re-read `members`), so a slow consumer cannot grow memory without bound.
import { FeteError, type PresenceChange, type PresenceMember } from '../../shared/index.js';
import type { PresenceHub } from './presence-hub.js';

const MAX_QUEUED = 10_000;

const keyOf = (m: PresenceMember) => `${m.subject}\n${m.id}`;

export class PresenceObserver implements AsyncIterable<PresenceChange> {
  readonly tenant: string;
  readonly pattern: string;
  /** Resolves with the members when the observer is live (changes after it are reported);
   * rejects STORE_UNAVAILABLE if the table could not be read, CLOSED if closed first. */
  readonly ready: Promise<PresenceMember[]>;
  readonly #members = new Map<string, PresenceMember>();
  readonly #queue: PresenceChange[] = [];
  #wake: (() => void) | undefined;
  #closeWatch: (() => void) | undefined;
  #closed = false;
  #dropped = 0;

  constructor(hub: PresenceHub, tenant: string, pattern: string, onChange?: (change: PresenceChange) => void) {
    this.tenant = tenant;
    this.pattern = pattern;
    let members: PresenceMember[] = [];
    this.ready = hub
      .watch(
        tenant,
        pattern,
        (change) => {
          if (this.#closed) return;
          if (change.type === 'leave') this.#members.delete(keyOf(change.member));
          else this.#members.set(keyOf(change.member), change.member);
          try {
            onChange?.(change);
          } catch {
            // An app callback must not stop the others.
          }
          if (this.#queue.length >= MAX_QUEUED) {
            this.#queue.shift();
            this.#dropped++;
          }
          this.#queue.push(change);
          this.#wake?.();
        },
        (now) => {
          members = now;
          for (const m of now) this.#members.set(keyOf(m), m);
        },
        // The fete stopped: a `for await` loop ends rather than wait forever.
        () => this.close(),
      )
      .then((close) => {
        if (this.#closed) {
          close();
          throw new FeteError('CLOSED', 'the presence observer was closed');
        }
        this.#closeWatch = close;
        return members;
      });
    this.ready.catch(() => undefined);
  }

  /** The members now (empty until `ready`), sorted by subject then id. */
  get members(): PresenceMember[] {
    return [...this.#members.values()].sort((a, b) => (a.subject === b.subject ? (a.id < b.id ? -1 : 1) : a.subject < b.subject ? -1 : 1));
  }

  /** Changes dropped because the loop fell more than 10,000 behind. */
  get dropped(): number {
    return this.#dropped;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops observing; a `for await` loop ends. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeWatch?.();
    this.#wake?.();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<PresenceChange, undefined> {
    await this.ready;
    try {
      for (;;) {
        while (this.#queue.length > 0) yield this.#queue.shift()!;
        if (this.#closed) return undefined;
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
      }
    } finally {
      this.close();
    }
  }
}
