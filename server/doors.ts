// The ways into a server that fete opened for the app and must close on stop: the Socket.IO
// fanouts of `fete.attach` and the Express routers of `fete.express`, with their counters summed,
// and the node's one live tail of the log they all share (fanout/node-tail.ts), made at the first
// door that asks for it and closed after the last.
import { FeteError } from '../shared/index.js';
import { sumFanoutStats } from './fanout/fanout-stats.js';
import { NodeTail, type NodeTailOptions, type NodeTailTarget } from './fanout/node-tail.js';
import type { FanoutHandle, FanoutStats } from './fanout/types.js';
import type { FeteRouter } from './http/index.js';

export class Doors {
  readonly #fanouts = new Set<FanoutHandle>();
  readonly #routers = new Set<FeteRouter>();
  readonly #target: NodeTailTarget;
  #tail: NodeTail | undefined;
  #closed = false;

  constructor(target: NodeTailTarget) {
    this.#target = target;
  }

  /** The node's live tail, made with the first caller's options (a later one may only lower the
   * poll interval). @throws FeteError `CLOSED` once the doors were closed (the fete stopped). */
  tail(options: NodeTailOptions): NodeTail {
    if (this.#closed) throw new FeteError('CLOSED', 'fete is stopped');
    if (this.#tail === undefined) this.#tail = new NodeTail(this.#target, options);
    else this.#tail.pollAtLeastEvery(options.pollIntervalMs);
    return this.#tail;
  }

  /** Tracks a fanout until it is closed (by the app or by `closeAll`). */
  fanout(handle: FanoutHandle): FanoutHandle {
    const tracked: FanoutHandle = {
      io: handle.io,
      stats: () => handle.stats(),
      close: () => {
        this.#fanouts.delete(tracked);
        return handle.close();
      },
    };
    this.#fanouts.add(tracked);
    return tracked;
  }

  router(router: FeteRouter): FeteRouter {
    this.#routers.add(router);
    return router;
  }

  /** Counters of every open fanout, summed; the tail's (routed events, cursor, bus) counted once. */
  fanoutStats(): FanoutStats {
    const sum = sumFanoutStats([...this.#fanouts].map((f) => f.stats()));
    return this.#tail === undefined ? sum : { ...sum, ...this.#tail.stats() };
  }

  /** Routers end their streams; fanouts disconnect every socket; then the tail stops. */
  async closeAll(): Promise<void> {
    this.#closed = true;
    for (const r of this.#routers) r.close();
    await Promise.allSettled([...this.#fanouts].map((f) => f.close()));
    await this.#tail?.close();
  }
}
