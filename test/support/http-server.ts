// The tests' real HTTP servers: listening on an ephemeral 127.0.0.1 port, and closing without
// waiting on clients. No vitest import: child processes use it too.
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';

/** Starts `http` on 127.0.0.1 (`port` 0, the default: an ephemeral one) and resolves with its base
 * URL, `http://127.0.0.1:<port>` (no trailing slash). Rejects if the port is taken. */
export async function listen(http: Server, port = 0): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
}

/** Closes `http`, cutting every open connection first (sockets, SSE streams, keep-alive), so that
 * it never waits on a client. Resolves also when it was not listening. */
export async function closeHttp(http: HttpServer): Promise<void> {
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
}
