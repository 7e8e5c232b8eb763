// The ways into a server that fete opened for the app and must close on stop: the Socket.IO
// fanouts of `fete.attach` and the Express routers of `fete.express`, with their counters summed.
import { sumFanoutStats } from './fanout/fanout-stats.js';
import type { FanoutHandle, FanoutStats } from './fanout/types.js';
import type { FeteRouter } from './http/index.js';

export class Doors {
  readonly #fanouts = new Set<FanoutHandle>();
  readonly #routers = new Set<FeteRouter>();

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

  /** Counters of every open fanout, summed. */
  fanoutStats(): FanoutStats {
    return sumFanoutStats([...this.#fanouts].map((f) => f.stats()));
  }

  /** Routers end their streams; fanouts disconnect every socket and stop their tails. */
  async closeAll(): Promise<void> {
    for (const r of this.#routers) r.close();
    await Promise.allSettled([...this.#fanouts].map((f) => f.close()));
  }
}
