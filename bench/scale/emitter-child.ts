// The worker of the `scale` benchmark: `emitter-child.ts <impl> <dbUrl> <schema> <natsUrl> <redisUrl>`.
// fete: a worker-role process (with the NATS bus for `nats`) calling `fete.emit` at a fixed rate,
// with one domain event nobody subscribes to every `auditEvery` emits (a node over NATS skips it);
// `redis`: a Socket.IO server with the Redis adapter and no clients, broadcasting to the room every
// node's sockets joined (what an app without durability would do); `redis-pg` INSERTs each event on
// PostgreSQL first and broadcasts when the INSERT returns.
import { createRequire } from 'node:module';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { createFete } from '../../server/index.js';
import { createEnvelope } from '../../shared/index.js';
import { percentile } from '../harness.js';
import { handWiredInsert } from '../hand-wired-insert.js';
import { type EmitterCommand, type EmitterReply, type Impl, isRedis, type StatusPayload, now, reportCrashes, feteOptions, topics, usage, countPgQueries } from './common.js';

const [impl, dbUrl, schema, natsUrl, redisUrl] = process.argv.slice(2) as [Impl, string, string, string, string];
const say = (m: EmitterReply) => process.send!(m);
reportCrashes(say);
countPgQueries();

/** The audit emits in flight (awaited with the order events, not timed). */
const audits: Promise<unknown>[] = [];
let emit: (p: StatusPayload, i: number, audit: boolean) => Promise<unknown>;
let stop: () => Promise<void>;
if (isRedis(impl)) {
  // redis-pg: the pg the fete processes use (its queries are counted as theirs are).
  const pg = createRequire(new URL('../../server/index.ts', import.meta.url))('pg') as typeof import('pg');
  const durable = impl === 'redis-pg' ? await handWiredInsert(pg, dbUrl, schema) : undefined;
  const pub = createClient({ url: redisUrl });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const io = new Server({ adapter: createAdapter(pub, sub) as never });
  const nsp = io.of('/fete');
  emit = async (payload, i) => {
    const envelope = createEnvelope(topics.orderStatus, payload);
    nsp.to('orders').emit('ev', { ...envelope, seq: durable ? await durable.insert(envelope) : i + 1 });
  };
  stop = async () => {
    io.close();
    await Promise.allSettled([pub.quit(), sub.quit(), durable?.end()]);
  };
} else {
  const fete = await createFete(feteOptions(impl, 'worker', dbUrl, schema, natsUrl));
  await fete.start();
  emit = async (payload, i, audit) => {
    // The order event first: its emit-to-receipt is what is measured. The audit event goes right
    // after it (its own append, once the order's is done), as an app emits one event after another.
    const order = fete.emit(topics.orderStatus, payload);
    if (audit) audits.push(fete.emit(topics.audit, { n: i }));
    return order;
  };
  stop = () => fete.stop();
}
say({ type: 'ready' });

let next = 0;
/** `events` emits at a fixed rate, each scheduled on the clock (a late one does not delay the rest). */
async function rate(perSecond: number, events: number, auditEvery: number): Promise<void> {
  const firstAt = now();
  const pending: Promise<unknown>[] = [];
  const took: number[] = [];
  for (let i = 0; i < events; i++) {
    const due = firstAt + (i * 1000) / perSecond;
    const wait = due - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const n = next++;
    const t0 = now();
    pending.push(emit({ orderId: `o-${n % 100}`, sentAt: t0 }, n, auditEvery > 0 && n % auditEvery === 0).then(() => took.push(now() - t0)));
  }
  await Promise.all(pending);
  await Promise.all(audits.splice(0));
  took.sort((a, b) => a - b);
  say({ type: 'emitted', firstAt, lastAt: now(), events, emitCallMs: { p50: percentile(took, 50), p99: percentile(took, 99) } });
}

process.on('message', (m: EmitterCommand) => {
  if (m.type === 'rate') void rate(m.perSecond, m.events, m.auditEvery);
  else if (m.type === 'usage') say({ type: 'usage', usage: usage() });
  else if (m.type === 'stop') void stop().finally(() => process.exit(0));
});
