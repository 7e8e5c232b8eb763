// GET /health: whether this process can do its work, for load balancers, orchestrators and people.
// 200 { status: 'ok', ... } when the store answers and commits a write within `healthTimeoutMs`;
// 503 with status 'unavailable' (the store did not answer or cannot write — `error` carries the
// store's message, STORE_FAILED when no retry will help — or fete is stopped) or 'stopping' (the
// dispatcher is draining: take the process out of rotation). Until `fete.start()` the status is
// 'not started': 503 in a process meant to run workers (its listeners would never run), 200 in a
// web-only one (its emits are stored; workers elsewhere run them). With the NATS bus away (the node
// serves on the PostgreSQL fallback: bus/nats-bus.ts) the status is 'degraded', still 200: the
// node does its work, only the way events travel between nodes is slower. The body says what it runs:
//   headSeq                the log's head
//   store                  { reachable, writable, latencyMs } of the backlog query and the write
//   worker                 the dispatcher's state (off, idle, running, stopping, stopped), the
//                          listeners registered here, the store's backlog summed over listeners
//                          (orphaned ones left out and listed as orphanedListeners), and this
//                          process's attempt outcomes since start
//   fanout                 sockets, subscriptions and events sent per second, when attached
//   bus                    with the `bus` option: { state: connected | degraded | down, since,
//                          fallbacks, recoveries, lastError, peersOnFallback } (BusStatus)
// One `fete.stats()` and one write per request (four small statements); a probe every few seconds
// costs little.
import type { Request, Response } from 'express';
import { FeteError } from '../../shared/index.js';
import type { FanoutStats } from '../fanout/types.js';
import type { BacklogCounts, FeteStats, WorkerStatus } from '../types.js';
import { wireError } from './http-errors.js';

/** What the health route reads (any `Fete<C>` fits). */
export interface HealthTarget {
  stats(): Promise<FeteStats>;
  /** Writes and commits one row (a store that reads may still not write). */
  checkWrite?(): Promise<void>;
  workerStatus?(): WorkerStatus;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new FeteError('TIMEOUT', `the store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The backlog of every listener in the store that some process runs, summed (oldest age: the
 * maximum). Orphaned listeners' backlog is left out (nobody will run it: it is reported as
 * `orphanedListeners` instead), so it neither inflates the queue nor ages forever. */
export function totalBacklog(stats: FeteStats): BacklogCounts {
  const out: BacklogCounts = { pending: 0, running: 0, retrying: 0, dead: 0, oldestPendingAgeMs: 0 };
  for (const l of stats.listeners) {
    if (l.orphaned) continue;
    out.pending += l.pending;
    out.running += l.running;
    out.retrying += l.retrying;
    out.dead += l.dead;
    out.oldestPendingAgeMs = Math.max(out.oldestPendingAgeMs, l.oldestPendingAgeMs);
  }
  return out;
}

function workerPart(w: WorkerStatus | undefined) {
  return w === undefined
    ? undefined
    : { started: w.started, dispatcher: w.dispatcher, listeners: w.listeners, durableListeners: w.durableListeners, outcomes: w.outcomes };
}

function fanoutPart(f: FanoutStats | undefined) {
  return f === undefined ? undefined : { sockets: f.sockets, subscriptions: f.subscriptions, eventsSentPerSecond: f.eventsSentPerSecond };
}

export function healthRoute(fete: HealthTarget, timeoutMs: number, fanoutStats: (() => FanoutStats | undefined) | undefined) {
  return async (_req: Request, res: Response): Promise<void> => {
    res.setHeader('cache-control', 'no-store');
    const worker = workerPart(fete.workerStatus?.());
    const fanout = fanoutPart(fanoutStats?.());
    const started = performance.now();
    let stats: FeteStats;
    let reachable = false;
    try {
      stats = await withTimeout(
        fete.stats().then(async (s) => {
          reachable = true;
          await fete.checkWrite?.();
          return s;
        }),
        timeoutMs,
      );
    } catch (err) {
      res.status(503).json({
        status: 'unavailable',
        error: wireError(FeteError.from(err, 'STORE_UNAVAILABLE')),
        store: { reachable, writable: false },
        ...(worker ? { worker } : {}),
      });
      return;
    }
    const latencyMs = Math.round((performance.now() - started) * 10) / 10;
    const stopping = worker?.dispatcher === 'stopping' || worker?.dispatcher === 'stopped';
    const notStarted = !stopping && worker?.started === false;
    const down = stopping || (notStarted && worker.dispatcher !== 'off');
    const degraded = stats.bus !== undefined && stats.bus.state !== 'connected';
    res.status(down ? 503 : 200).json({
      status: stopping ? 'stopping' : notStarted ? 'not started' : degraded ? 'degraded' : 'ok',
      headSeq: stats.headSeq,
      store: { reachable: true, writable: true, latencyMs },
      worker: {
        ...worker,
        backlog: totalBacklog(stats),
        orphanedListeners: stats.listeners.filter((l) => l.orphaned).map((l) => ({ target: l.target, name: l.name, seenAt: l.seenAt })),
      },
      ...(fanout ? { fanout } : {}),
      ...(stats.bus ? { bus: stats.bus } : {}),
    });
  };
}
