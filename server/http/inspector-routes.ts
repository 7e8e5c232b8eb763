// The JSON inspector API (a playground panel, an ops page): topics, listeners and their backlog,
// dead letters with retry, and recent events. Payloads are shown as superjson's JSON form (a Date
// becomes its ISO string, a BigInt a string, a Map its entries); GET /stream has the exact types.
// Guarded by the `inspector` option (off in production unless configured), see express-middleware.ts.
import type { Router, Request, Response } from 'express';
import { expressModule } from './express-module.js';
import superjson from 'superjson';
import { FeteError, type TopicCatalog, validatePattern } from '../../shared/index.js';
import type { DeadLetter, DeadLetterQuery, FeteLog, FeteStats } from '../types.js';
import { intParam, stringParam } from './query-params.js';

/** The part of a Fete the inspector reads (any `Fete<C>` fits). */
export interface InspectorTarget {
  readonly topics: TopicCatalog;
  readonly log: FeteLog;
  stats(): Promise<FeteStats>;
  deadLetters(query?: DeadLetterQuery): Promise<DeadLetter[]>;
  retry(deliveryId: number): Promise<void>;
  skip?(deliveryId: number): Promise<void>;
  readonly listeners?: { retire(name: string, options?: { target?: string; dropDead?: boolean }): Promise<unknown> };
}

const MAX_LIMIT = 1000;

function jsonSafe(value: unknown): unknown {
  return superjson.serialize(value).json;
}

export function inspectorRouter(fete: InspectorTarget): Router {
  const r = expressModule().Router();

  r.get('/topics', (_req: Request, res: Response) => {
    const topics = Object.entries(fete.topics).map(([key, t]) => ({
      key,
      name: t.name,
      kind: t.kind,
      clientEmit: t.clientEmit,
      retention: t.retention ?? null,
      params: t.params,
      pattern: t.pattern,
      hasSchema: t.schema !== undefined,
    }));
    res.json({ topics });
  });

  r.get('/listeners', async (_req: Request, res: Response) => {
    res.json({ listeners: (await fete.stats()).listeners });
  });

  r.get('/schedules', async (_req: Request, res: Response) => {
    res.json({ schedules: (await fete.stats()).schedules ?? [] });
  });

  r.get('/stats', async (_req: Request, res: Response) => {
    res.json(await fete.stats());
  });

  r.get('/dead-letters', async (req: Request, res: Response) => {
    const query: DeadLetterQuery = {
      after: intParam(req.query.after, 'after', { min: 0, max: Number.MAX_SAFE_INTEGER }) ?? 0,
      limit: intParam(req.query.limit, 'limit', { min: 1, max: MAX_LIMIT }) ?? 100,
    };
    const listener = stringParam(req.query.listener, 'listener');
    if (listener !== undefined) query.listener = listener;
    const deadLetters = await fete.deadLetters(query);
    res.json({ deadLetters: deadLetters.map((d) => ({ ...d, envelope: jsonSafe(d.envelope) })) });
  });

  r.post('/dead-letters/:id/retry', async (req: Request, res: Response) => {
    // Negative ids are the in-memory dead letters of non-durable listeners.
    const id = intParam(req.params.id, 'id', { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER })!;
    await fete.retry(id);
    res.json({ id, status: 'retried' });
  });

  // Skipping drops a dead letter for good (it unblocks its ordering key), so it is a POST of its own.
  r.post('/dead-letters/:id/skip', async (req: Request, res: Response) => {
    const id = intParam(req.params.id, 'id', { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER })!;
    if (!fete.skip) throw new FeteError('NOT_FOUND', 'skip is not available');
    await fete.skip(id);
    res.json({ id, status: 'skipped' });
  });

  // Retire a listener: ?target= one topic or pattern only, ?dropDead=true its dead letters too.
  r.post('/listeners/:name/retire', async (req: Request, res: Response) => {
    const name = stringParam(req.params.name, 'name')!;
    const target = stringParam(req.query.target, 'target');
    const dropDead = stringParam(req.query.dropDead, 'dropDead') === 'true';
    if (!fete.listeners) throw new FeteError('NOT_FOUND', 'retire is not available');
    const result = await fete.listeners.retire(name, target === undefined ? { dropDead } : { target, dropDead });
    res.json({ name, status: 'retired', ...(result as object) });
  });

  r.get('/events', async (req: Request, res: Response) => {
    const limit = intParam(req.query.limit, 'limit', { min: 1, max: MAX_LIMIT }) ?? 50;
    const pattern = stringParam(req.query.pattern, 'pattern');
    if (pattern !== undefined) validatePattern(pattern);
    // Without `after`: the most recent `limit` seqs (seqs may have holes, so possibly fewer events).
    const after = intParam(req.query.after, 'after', { min: 0, max: Number.MAX_SAFE_INTEGER }) ?? Math.max(0, (await fete.log.head()) - limit);
    const page = await fete.log.read(after, pattern === undefined ? { limit } : { pattern, limit });
    res.json({ events: page.events.map(jsonSafe), cursor: page.cursor });
  });

  return r;
}
