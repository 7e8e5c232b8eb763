// `fete.attach(httpServer, options)`: mounts Socket.IO on the app's HTTP server, authenticates
// each handshake on the `/fete` namespace through the fete's one security config (no `auth`
// configured: every handshake is refused), and gives every connection a SocketSession fed by this
// process's tail of the log. Socket.IO's connection state recovery is not used: the client
// resubscribes from its cursors after every connect, and the log replays what it missed.
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import createDebug from 'debug';
import { Server } from 'socket.io';
import { describeThrown, keepableCause } from '../../shared/describe-thrown.js';
import { FETE_NAMESPACE, FeteError, isFeteError } from '../../shared/index.js';
import { socketCorsOf } from '../security/origin.js';
import type { Caller } from '../security/security.js';
import type { FanoutTarget } from './client-emit.js';
import { FanoutCore, resolveFanoutOptions } from './fanout-core.js';
import { SocketSession } from './socket-session.js';
import type { AttachOptions, FanoutHandle } from './types.js';
import type { LogEvents } from '../logger.js';

const debug = createDebug('fete:fanout');

/** Socket.IO's frame limit for a given envelope limit: one largest envelope, JSON-escaped inside
 * the packet (at worst every character escaped: twice the size), plus room for the packet itself. */
export function frameLimit(maxPayloadBytes: number): number {
  return 2 * maxPayloadBytes + 64 * 1024;
}

function refusal(err: unknown): Error & { data: { code: string } } {
  const e = isFeteError(err) ? err : new FeteError('UNAUTHORIZED', 'authentication failed', { cause: keepableCause(err) });
  const out = new Error(e.message) as Error & { data: { code: string } };
  out.data = { code: e.code };
  return out;
}

export function attachFanout<P>(
  fete: FanoutTarget,
  httpServer: HttpServer | HttpsServer,
  options: AttachOptions<P> = {},
  logs?: LogEvents,
): FanoutHandle {
  const resolved = resolveFanoutOptions(options as AttachOptions<never>, fete.security);
  const security = fete.security;
  // One list of other sites: security.origins, which also answers Socket.IO's CORS requests. An
  // attach `cors` of the app's own still does both on this door (older apps), but not over HTTP.
  if (options.cors !== undefined) debug('attach({ cors }) is honoured on the socket door only: give allowed origins to createFete({ security: { origins } }) for every door');
  const io = new Server(httpServer, {
    maxHttpBufferSize: frameLimit(resolved.maxPayloadBytes),
    ...options.serverOptions,
    path: options.path ?? '/socket.io',
    cors: options.cors ?? socketCorsOf(security.originAllowed),
  });
  const nsp = io.of(FETE_NAMESPACE);
  // `local`: with a cluster adapter (Redis...) the packet still goes to this server's sockets only;
  // every server routes the log to its own sockets.
  const core = new FanoutCore(fete, resolved, (socketIds, event, packet) => nsp.local.to(socketIds).emit(event, packet as never));
  const callers = new WeakMap<object, Caller>();

  nsp.use((socket, next) => {
    const credentials = socket.handshake.auth;
    // Before `auth`: a cross-site page must not get as far as the user's cookies being judged.
    security
      .assertOrigin(socket.request.headers, socket.request, options.cors)
      .then(() =>
        security.authenticate({
          door: 'socket',
          credentials: credentials !== null && typeof credentials === 'object' ? (credentials as Record<string, unknown>) : {},
          headers: socket.request.headers,
          request: socket.request,
        }),
      )
      .then((caller) => {
        callers.set(socket, caller);
        next();
      })
      .catch((err: unknown) => {
        core.counters.refusedConnections++;
        debug('refused socket %s: %s', socket.id, describeThrown(err, { stack: false }));
        const refused = refusal(err);
        logs?.refused({ door: 'socket', code: refused.data.code, reason: refused.message, address: socket.handshake.address });
        next(refused);
      });
  });

  nsp.on('connection', (socket) => {
    const session = new SocketSession(core, socket, callers.get(socket)!);
    core.sessionOpened(session);
  });

  let closing: Promise<void> | undefined;
  return {
    io,
    stats: () => core.stats(),
    close() {
      closing ??= (async () => {
        nsp.disconnectSockets(true);
        await core.close();
        // io.close() would also close the app's HTTP server; only the engine is ours to close.
        io.engine.close();
      })();
      return closing;
    },
  };
}
