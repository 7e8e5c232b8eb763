// The store's wake-up channel, shared by the dispatcher and log tails of one process. Appends send
// `<head seq>|<listener ids>`, rescues and retries `|<listener ids>` (`*` for too many to list);
// a lost LISTEN connection, once back, is reported as "anything may have changed" (`headSeq` and
// `listenerIds` undefined).
import createDebug from 'debug';
import type { Store } from './open-store.js';

const debug = createDebug('fete:store');

export interface Wake {
  /** The head seq after an append, when the notification came from one. */
  headSeq: number | undefined;
  /** Listeners with new work; undefined means all (after a reconnect). */
  listenerIds: number[] | undefined;
}

export function parseWake(payload: string): Wake {
  const bar = payload.indexOf('|');
  const head = bar > 0 ? Number(payload.slice(0, bar)) : Number.NaN;
  const ids = bar >= 0 ? payload.slice(bar + 1) : '';
  return {
    headSeq: Number.isSafeInteger(head) ? head : undefined,
    listenerIds: ids === '*' ? undefined : ids.length === 0 ? [] : ids.split(',').map(Number).filter(Number.isSafeInteger),
  };
}

export class Notifier {
  readonly #subscribers = new Set<(wake: Wake) => void>();
  #listening: Promise<(() => Promise<void>) | undefined> | undefined;

  constructor(private readonly store: Store) {}

  /** Subscribes (and starts listening on first use); resolves once LISTEN is in place. */
  async subscribe(fn: (wake: Wake) => void): Promise<() => void> {
    this.#subscribers.add(fn);
    this.#listening ??= this.store.driver
      .listen(
        this.store.tables.channel,
        (payload) => this.#emit(parseWake(payload)),
        () => this.#emit({ headSeq: undefined, listenerIds: undefined }),
      )
      .catch((err: Error) => {
        // Without LISTEN everything still works through polling, just slower.
        debug('LISTEN failed, relying on polling: %s', err.message);
        this.#listening = undefined;
        return undefined;
      });
    await this.#listening;
    return () => this.#subscribers.delete(fn);
  }

  #emit(wake: Wake): void {
    for (const fn of this.#subscribers) {
      try {
        fn(wake);
      } catch (err) {
        debug('wake subscriber threw: %s', (err as Error).message);
      }
    }
  }

  async close(): Promise<void> {
    this.#subscribers.clear();
    const unlisten = await this.#listening;
    this.#listening = undefined;
    await unlisten?.().catch(() => undefined);
  }
}
