// Two fetes on one PostgreSQL schema, in this process: node A appends, node B serves SSE streams
// (`fete.express()` on an ephemeral port) and counts the queries its own pool sends, reads of the
// log apart (the two read statements of store/log-reader.ts: `... WHERE e.seq > $1 ...`). Only
// public API is used, so that scripts/sse-reads-per-commit.ts can run it against older code too.
import { createServer, type Server } from 'node:http';
import express from 'express';
import pg from 'pg';
import { z } from 'zod';
import { defineTopic, defineTopics } from '../../shared/index.js';
import { type Fete, createFete } from '../../server/index.js';
import { readSseBlocks } from '../support/sse-blocks.js';
import { closeHttp, listen } from '../support/http-server.js';

export const topics = defineTopics({
  orderCreated: defineTopic('orders.{orderId}.created', { kind: 'domain', expose: true, schema: z.object({ orderId: z.string(), total: z.number() }) }),
});
export type Topics = typeof topics;

export interface QueryCounts {
  /** Every query B's pool sent. */
  queries: number;
  /** Reads of the log. */
  reads: number;
}

/** A pool whose clients count what they send into `counts`. */
export function countingPool(url: string, counts: QueryCounts): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('connect', (client) => {
    const query = client.query as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = function (this: unknown, ...args: unknown[]) {
      counts.queries++;
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: unknown } | undefined)?.text;
      if (typeof text === 'string' && text.includes('e.seq > $1')) counts.reads++;
      return query.apply(this, args);
    };
  });
  return pool;
}

/** One SSE stream read message by message (ids only: the seq of each event). */
export class SseCounter {
  readonly seqs: number[] = [];
  #ok = false;
  readonly #abort = new AbortController();
  readonly #done: Promise<void>;
  #waiters: Array<() => void> = [];

  constructor(url: string, headers: Record<string, string> = {}) {
    this.#done = this.#read(url, headers).catch(() => undefined);
  }

  async #read(url: string, headers: Record<string, string>): Promise<void> {
    const res = await fetch(url, { headers, signal: this.#abort.signal });
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
    await readSseBlocks(
      res.body!,
      (block) => {
        if (block.includes(': ok cursor=')) this.#ok = true;
        const id = /^id: (.*)$/m.exec(block)?.[1];
        if (id !== undefined && /^event: (?!gap)/m.test(block)) this.seqs.push(Number(id.split(':').at(-1)));
      },
      () => {
        for (const w of this.#waiters.splice(0)) w();
      },
    );
  }

  /** Resolves once the stream answered (its first comment) and once it holds `n` events. */
  async until(check: (s: SseCounter) => boolean, what: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (have ${this.seqs.length} events)`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50).unref();
      });
    }
  }

  get ok(): boolean {
    return this.#ok;
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#done;
  }
}

export interface NodePair {
  a: Fete<Topics>;
  b: Fete<Topics>;
  /** Base URL of B's router (`.../fete`). */
  bUrl: string;
  /** Queries sent by B's pool since the last `reset`. */
  counts: QueryCounts;
  reset(): void;
  close(): Promise<void>;
}

/** A and B on `schema`; `bus`: both on the NATS bus at that URL (its poll slowed to a minute). */
export async function nodePair(url: string, schema: string, bus?: string): Promise<NodePair> {
  const counts: QueryCounts = { queries: 0, reads: 0 };
  const poolA = new pg.Pool({ connectionString: url, max: 4 });
  const poolB = countingPool(url, counts);
  const busOption = bus === undefined ? {} : { bus: { nats: bus, pollIntervalMs: 60_000 } };
  const security = { auth: 'anonymous' as const };
  const a = await createFete({ topics, store: poolA, schema, security, ...busOption });
  const b = await createFete({ topics, store: poolB, schema, security, roles: ['web'], ...busOption });
  const app = express();
  // A slow poll: whatever reaches the streams came on a NOTIFY (or over the bus).
  const router = b.express({ stream: { pollIntervalMs: 60_000 } });
  app.use('/fete', router);
  const http: Server = createServer(app);
  const base = await listen(http);
  return {
    a,
    b,
    bUrl: `${base}/fete`,
    counts,
    reset() {
      counts.queries = 0;
      counts.reads = 0;
    },
    async close() {
      router.close();
      await closeHttp(http);
      await b.stop({ drain: false });
      await a.stop({ drain: false });
      await poolA.end();
      await poolB.end();
    },
  };
}

export interface ReadsPerCommit {
  streams: number;
  commits: number;
  reads: number;
  queries: number;
}

/**
 * Opens `n` streams on B (`orders.>`), lets one warm-up event from A reach them all, then appends
 * `commits` events on A one at a time, each awaited on every stream before the next: B's log reads
 * and queries over those commits.
 */
export async function readsPerCommit(pair: NodePair, n: number, commits: number): Promise<ReadsPerCommit> {
  const streams = Array.from({ length: n }, () => new SseCounter(`${pair.bUrl}/stream?pattern=orders.>`));
  try {
    await Promise.all(streams.map((s) => s.until((x) => x.ok, 'the stream to open')));
    const warm = await pair.a.emit(topics.orderCreated, { orderId: 'warm', total: 0 });
    await Promise.all(streams.map((s) => s.until((x) => x.seqs.includes(warm.seq), 'the warm-up event')));
    pair.reset();
    for (let i = 0; i < commits; i++) {
      const r = await pair.a.emit(topics.orderCreated, { orderId: `o${i}`, total: i });
      await Promise.all(streams.map((s) => s.until((x) => x.seqs.includes(r.seq), `event ${r.seq}`)));
    }
    return { streams: n, commits, reads: pair.counts.reads, queries: pair.counts.queries };
  } finally {
    await Promise.all(streams.map((s) => s.close()));
  }
}
