// The JSON inspector API (a playground panel, an ops page): topics, listeners and their backlog,
// dead letters with retry, and recent events. Payloads are shown as superjson's JSON form (a Date
// becomes its ISO string, a BigInt a string, a Map its entries); GET /stream has the exact types.
// Guarded by the `inspector` option (off unless given `{ authorize }`), see express-middleware.ts.
// A caller sees the events and dead letters of its own tenant only; events' captured context (the
// emitter's principal) and dead letters' stacks only if `inspector.reveal` allows it.
import type { Router, Request, Response } from 'express';
import { expressModule } from './express-module.js';
import superjson from 'superjson';
import { type Envelope, FeteError, type TopicCatalog, validatePattern } from '../../shared/index.js';
import { browserEnvelope } from '../fanout/browser-envelope.js';
import type { Caller, Security } from '../security/security.js';
import { tenantOf } from '../security/tenant.js';
import type { RequestGuard } from './options.js';
import type { DeadLetter, DeadLetterQuery, FeteLog, FeteStats } from '../types.js';
import { intParam, stringParam } from './query-params.js';

/** The part of a Fete the inspector reads (any `Fete<C>` fits). */
export interface InspectorTarget {
  readonly topics: TopicCatalog;
  readonly log: FeteLog;
  readonly security: Security;
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

/** The caller `guarded` authenticated (express-middleware.ts) and what it may see. */
async function viewer(req: Request, res: Response, reveal: RequestGuard): Promise<{ tenant: string; reveal: boolean }> {
  const caller = res.locals.feteCaller as Caller | undefined;
  // Unreachable without the guard in front; refusing keeps a misuse of this router closed.
  if (!caller) throw new FeteError('UNAUTHORIZED', 'the inspector needs an authenticated caller');
  let may = false;
  try {
    may = (await reveal(caller.principal, req)) === true;
  } catch {
    may = false;
  }
  return { tenant: caller.tenant, reveal: may };
}

/** An envelope as the inspector shows it: without its captured context unless revealed. */
function shown(e: Envelope, reveal: boolean): unknown {
  return jsonSafe(reveal ? e : browserEnvelope(e));
}

/** A dead letter's error without its stack (the first line: the message) unless revealed. */
function errorShown(text: string | null, reveal: boolean): string | null {
  if (text === null || reveal) return text;
  const nl = text.indexOf('\n');
  return nl < 0 ? text : text.slice(0, nl);
}

export function inspectorRouter(fete: InspectorTarget, reveal: RequestGuard = () => false): Router {
  const r = expressModule().Router();

  r.get('/topics', (_req: Request, res: Response) => {
    const topics = Object.entries(fete.topics).map(([key, t]) => ({
      key,
      name: t.name,
      kind: t.kind,
      clientEmit: t.clientEmit,
      expose: t.expose,
      delivery: t.delivery,
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
    const v = await viewer(req, res, reveal);
    // Filtered after the query: a page may hold fewer than `limit`; page on with `after`.
    const deadLetters = (await fete.deadLetters(query)).filter((d) => tenantOf(d.envelope) === v.tenant);
    res.json({ deadLetters: deadLetters.map((d) => ({ ...d, lastError: errorShown(d.lastError, v.reveal), envelope: shown(d.envelope, v.reveal) })) });
  });

  r.post('/dead-letters/:id/retry', async (req: Request, res: Response) => {
    // Negative ids are the in-memory dead letters of non-durable listeners.
    const id = intParam(req.params.id, 'id', { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER })!;
    const v = await viewer(req, res, reveal);
    // Another tenant's dead letter is NOT_FOUND to this caller, exactly like one that does not exist.
    const own = await findDeadLetter(fete, id);
    if (!own || tenantOf(own.envelope) !== v.tenant) throw new FeteError('NOT_FOUND', `delivery ${id} is not a dead letter`);
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
    const v = await viewer(req, res, reveal);
    const page = await fete.log.read(after, pattern === undefined ? { limit } : { pattern, limit });
    const events = page.events.filter((e) => tenantOf(e) === v.tenant);
    res.json({ events: events.map((e) => shown(e, v.reveal)), cursor: page.cursor });
  });

  return r;
}

/** The dead letter with delivery id `id`, if there is one (dead letters are listed by id). */
async function findDeadLetter(fete: InspectorTarget, id: number): Promise<DeadLetter | undefined> {
  if (id > 0) return (await fete.deadLetters({ after: id - 1, limit: 1 })).find((d) => d.id === id);
  // Negative ids: the in-memory dead letters of non-durable listeners, listed after the stored ones.
  return (await fete.deadLetters({ limit: MAX_LIMIT })).find((d) => d.id === id);
}
