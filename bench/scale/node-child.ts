// One web node of the `scale` benchmark: `node-child.ts <impl> <dbUrl> <schema> <natsUrl> <redisUrl>`.
// fete (`pg-tail`, `nats`): roles ['web'], the fanout attached to an HTTP server; `redis`: plain
// Socket.IO with the Redis adapter, where `sub` joins one room. Listens on an ephemeral port and
// says `ready` with it; answers `cpu` with its CPU time.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';
import { createFete } from '../../server/index.js';
import { type Impl, isRedis, type NodeCommand, type NodeReply, reportCrashes, feteOptions, usage, countPgQueries } from './common.js';

const [impl, dbUrl, schema, natsUrl, redisUrl] = process.argv.slice(2) as [Impl, string, string, string, string];
const say = (m: NodeReply) => process.send!(m);
reportCrashes(say);
countPgQueries();

const http = createServer();
let stop: () => Promise<void>;
if (isRedis(impl)) {
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const io = new Server(http, { adapter: createAdapter(pub, sub) as never });
  io.of('/fete').on('connection', (socket) => {
    socket.on('sub', (_p: unknown, ack: (r: unknown) => void) => {
      void socket.join('orders');
      ack({ ok: true, cursor: 0 });
    });
  });
  stop = async () => {
    io.close();
    await Promise.allSettled([pub.quit(), sub.quit()]);
  };
} else {
  const fete = await createFete(feteOptions(impl, 'web', dbUrl, schema, natsUrl));
  fete.attach(http);
  await fete.start();
  stop = () => fete.stop();
}
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
say({ type: 'ready', port: (http.address() as AddressInfo).port });

process.on('message', (m: NodeCommand) => {
  if (m.type === 'usage') say({ type: 'usage', usage: usage() });
  else if (m.type === 'stop')
    void stop().finally(() => {
      http.closeAllConnections();
      http.close();
      process.exit(0);
    });
});
