// fete.express(): the HTTP face of a fete server, an Express router to mount anywhere
// (`app.use('/fete', fete.express())`). Every error is JSON `{ error: { code, message } }` with a
// status from the code (http-errors.ts); nothing a client sends can throw past this router.
//   POST /emit                      emit-route.ts    200 / 207 { results } | 4xx { error }
//   GET  /stream?pattern=&from=     stream-route.ts  text/event-stream, resumable (Last-Event-ID)
//   GET  /presence?pattern=         presence-route.ts  { members } | text/event-stream (Accept)
//   GET  /health                    health-route.ts  200 { status: 'ok', headSeq, store, worker, fanout } | 503
//   GET  /metrics                   metrics.ts       Prometheus text (off unless `metrics` is given)
//   /inspector/...                  inspector-routes.ts (JSON; off unless `inspector` is given)
//   POST /commands/:name, GET|POST /queries/:name, GET /commands/results/:id   command-routes.ts
// Before any route, a request carrying the `Origin` of another site that `security.origins` does not
// allow is refused 403 FORBIDDEN (security/origin.ts: the same check as the socket handshake).
// Every route but /health authenticates through the fete's one `security` config (closed without
// `auth`); /metrics skips it only when declared `metrics: 'public'`.
import createDebug from 'debug';
import type { NextFunction, Request, Response, Router } from 'express';
import { describeThrown } from '../../shared/describe-thrown.js';
import { expressModule } from './express-module.js';
import { FeteError } from '../../shared/index.js';
import type { FanoutStats } from '../fanout/types.js';
import type { WorkerStatus } from '../types.js';
import { type EmitCounters, emitRoute } from './emit-route.js';
import { healthRoute } from './health-route.js';
import { httpStatusOf, sendError } from './http-errors.js';
import { type InspectorTarget, inspectorRouter } from './inspector-routes.js';
import { jsonText } from './json-body.js';
import { metricFamilies } from './metrics.js';
import { type ExpressOptions, type RequestGuard, resolveHttpOptions } from './options.js';
import { authenticate } from './authenticate.js';
import type { Security } from '../security/security.js';
import { PROMETHEUS_CONTENT_TYPE, renderPrometheus } from './prometheus-text.js';
import { SseDoor } from './sse-door.js';
import { type StreamTarget, streamRoute } from './stream-route.js';
import { PresenceStreams, presenceRoute } from './presence-route.js';
import { commandInspectorRoutes, commandRoutes } from './command-routes.js';
import type { CommandTarget } from '../fanout/command-packet.js';
import { requestMetricFamilies } from '../commands/command-metrics.js';
import type { LogEvents } from '../logger.js';

const debug = createDebug('fete:http');

/** Events per read of the node's tail when this router makes it (attach's `readPageSize` default). */
const TAIL_PAGE_SIZE = 500;

/** The router, plus `close()` to end open event streams (call it before closing the HTTP server:
 * an open stream otherwise keeps `server.close()` waiting). */
export type FeteRouter = Router & { close(): void };

/** Authenticates the request (security.auth), then asks `guard`; the caller is left in
 * `res.locals.feteCaller` for the routes. `guard` undefined: the feature is off (404). */
function guarded(security: Security, guard: RequestGuard | 'public' | undefined, what: string, enable: string) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (!guard) throw new FeteError('NOT_FOUND', `${what} is off: turn it on with fete.express({ ${enable} })`);
    if (guard === 'public') return next();
    const caller = await authenticate(req, security);
    let ok: boolean;
    try {
      ok = await guard(caller.principal, req);
    } catch (err) {
      throw FeteError.from(err, 'UNAUTHORIZED');
    }
    if (ok !== true) throw new FeteError('FORBIDDEN', `not allowed to use ${what}`);
    res.locals.feteCaller = caller;
    next();
  };
}

/** Authenticates the request and leaves the caller in `res.locals.feteCaller`. */
function authenticated(security: Security) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    res.locals.feteCaller = await authenticate(req, security);
    next();
  };
}

/** What the HTTP layer needs of a fete server (any `Fete<C>` fits). */
export type HttpTarget = InspectorTarget & CommandTarget & Pick<StreamTarget, 'live' | 'browserTail' | 'presenceService'> & { fanoutStats?(): FanoutStats; workerStatus?(): WorkerStatus };

export function createExpressMiddleware<P = unknown>(fete: HttpTarget, options: ExpressOptions<P> = {}, logs?: LogEvents): FeteRouter {
  const o = resolveHttpOptions(options);
  const fanoutStats = o.fanoutStats ?? (fete.fanoutStats ? () => fete.fanoutStats!() : undefined);
  /** The door of this router's SSE streams on the node's one live tail, made at the first stream. */
  let door: SseDoor | undefined;
  const sseDoor = () => (door ??= new SseDoor(fete.browserTail({ pollIntervalMs: o.stream.pollIntervalMs, pageSize: TAIL_PAGE_SIZE })));
  /** This router's open presence streams (presence-route.ts), made at the first. */
  let presenceStreams: PresenceStreams | undefined;
  const emits: EmitCounters = { accepted: 0, duplicate: 0, rejected: 0 };
  const router = expressModule().Router() as FeteRouter;

  // Other sites first, on every method and route: before auth, a stream, a presence membership or
  // a read of the body. An EventSource or <img> GET from another site carries the user's cookies.
  router.use(async (req: Request, _res: Response, next: NextFunction) => {
    await fete.security.assertOrigin(req.headers, req);
    next();
  });
  // Authenticated before the body is read: an unknown caller does not get to upload a megabyte.
  router.post('/emit', authenticated(fete.security), jsonText(o.maxBodyBytes), emitRoute(fete, o, emits));
  router.get('/stream', streamRoute(fete, o, sseDoor));
  router.get('/presence', presenceRoute(fete, o, () => (presenceStreams ??= new PresenceStreams())));
  router.get('/health', healthRoute(fete, o.healthTimeoutMs, fanoutStats));
  router.get('/metrics', guarded(fete.security, o.metrics, 'metrics', "metrics: { authorize } or metrics: 'public'"), async (_req: Request, res: Response) => {
    const stats = await fete.stats();
    const families = metricFamilies(stats, {
      emits,
      streams: () => door?.streams.size ?? 0,
      streamsWaiting: () => (door ? [...door.streams].filter((s) => s.waitingForDrain).length : 0),
      streamOverflows: () => door?.overflows ?? 0,
      presenceStreams: () => presenceStreams?.streams.size ?? 0,
    }, fanoutStats?.(), fete.workerStatus?.());
    if (fete.commands) families.push(...requestMetricFamilies(fete.commands.metrics.counts()));
    res.setHeader('cache-control', 'no-store');
    res.type(PROMETHEUS_CONTENT_TYPE).send(renderPrometheus(families));
  });
  router.use(commandRoutes(fete, o));
  router.use('/inspector', guarded(fete.security, o.inspector?.authorize, 'the inspector', 'inspector: { authorize, reveal? }'), inspectorRouter(fete, o.inspector?.reveal), commandInspectorRoutes(fete));

  // Express 5 passes rejected promises of async handlers here.
  router.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = httpStatusOf(err);
    if (status >= 500) debug('%s %s failed: %O', req.method, req.path, err);
    else debug('%s %s: %d %s', req.method, req.path, status, describeThrown(err, { stack: false }));
    if ((status === 401 || status === 403) && err instanceof FeteError)
      logs?.refused({ door: 'http', code: err.code, reason: err.message, method: req.method, path: req.originalUrl.split('?', 1)[0], address: req.ip });
    sendError(res, err);
  });

  router.close = () => {
    door?.close();
    door = undefined;
    presenceStreams?.close();
    presenceStreams = undefined;
  };
  return router;
}
