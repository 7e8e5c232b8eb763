// The live channel of one process (PGlite, the in-memory log of `dispatch: 'inline'`): a message
// reaches this process's handlers only, synchronously inside `publish`. Nothing can be missed, so
// `onLost` never fires. The other transports build on it for their own process's delivery.
import createDebug from 'debug';
import type { LiveChannel, LiveMessage } from './live-channel.js';

const debug = createDebug('fete:live');

type Kind = LiveMessage['kind'];

/** Handlers by kind, called in registration order; a throwing handler is logged, not propagated. */
export class LiveHandlers {
  readonly #byKind = new Map<Kind, Set<(m: LiveMessage) => void>>();
  readonly #lost = new Set<() => void>();

  on(kind: Kind, fn: (m: LiveMessage) => void): () => void {
    let set = this.#byKind.get(kind);
    if (!set) this.#byKind.set(kind, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  onLost(fn: () => void): () => void {
    this.#lost.add(fn);
    return () => this.#lost.delete(fn);
  }

  deliver(message: LiveMessage): void {
    const set = this.#byKind.get(message.kind);
    if (!set) return;
    for (const fn of set) {
      try {
        fn(message);
      } catch (err) {
        debug('a %s handler threw: %s', message.kind, (err as Error).message);
      }
    }
  }

  lost(): void {
    for (const fn of this.#lost) {
      try {
        fn();
      } catch (err) {
        debug('an onLost handler threw: %s', (err as Error).message);
      }
    }
  }

  clear(): void {
    this.#byKind.clear();
    this.#lost.clear();
  }
}

/** A LiveChannel for one process. */
export function createLocalLiveChannel(): LiveChannel {
  const handlers = new LiveHandlers();
  return {
    transport: 'local',
    maxMessageBytes: undefined,
    async publish(message) {
      handlers.deliver(message);
    },
    on: (kind, fn) => handlers.on(kind, fn),
    onLost: (fn) => handlers.onLost(fn),
    async close() {
      // Later publishes still reach local handlers (the contract); only transports have state.
    },
  };
}
