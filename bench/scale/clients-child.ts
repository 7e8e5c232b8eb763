// The subscribers of the `scale` benchmark: `clients-child.ts <impl> <count> <url,url,...>`: `count`
// socket.io-client sockets spread round-robin over the nodes, one subscription each (fete: one of
// PATTERNS; redis: the room). After `arm`, every delivery's emit-to-receipt latency is recorded;
// `report` answers with the count and percentiles.
import { io, type Socket } from 'socket.io-client';
import { percentile } from '../harness.js';
import { type ClientsCommand, type ClientsReply, type Impl, isRedis, PATTERNS, now, reportCrashes, usage } from './common.js';

const [impl, countArg, urlsArg] = process.argv.slice(2) as [Impl, string, string];
const count = Number(countArg);
const urls = urlsArg.split(',');
const say = (m: ClientsReply) => process.send!(m);
reportCrashes(say);

let armed = false;
const latencies: number[] = [];
let firstAt = 0;
let lastAt = 0;

type WireEvent = { json: { payload: { sentAt: number } } };
function delivery(sentAt: number): void {
  if (!armed) return;
  const t = now();
  if (latencies.length === 0) firstAt = t;
  lastAt = t;
  latencies.push(t - sentAt);
}

const sockets: Socket[] = [];
async function connect(i: number): Promise<void> {
  const socket = io(`${urls[i % urls.length]}/fete`, { transports: ['websocket'], reconnection: false, forceNew: true });
  sockets.push(socket);
  if (isRedis(impl)) socket.on('ev', (p: { payload: { sentAt: number } }) => delivery(p.payload.sentAt));
  else {
    socket.on('ev', (p: { e: WireEvent }) => delivery(p.e.json.payload.sentAt));
    socket.on('evs', (p: { es: WireEvent[] }) => {
      for (const e of p.es) delivery(e.json.payload.sentAt);
    });
  }
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const ack = (await socket.timeout(60_000).emitWithAck('sub', { sid: 's0', pattern: PATTERNS[i % PATTERNS.length], from: 'latest' })) as { ok: boolean };
  if (!ack.ok) throw new Error(`sub refused: ${JSON.stringify(ack)}`);
}

// In groups, so that the handshakes do not all land in the same millisecond.
for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, k) => connect(i + k)));
say({ type: 'ready' });

process.on('message', (m: ClientsCommand) => {
  if (m.type === 'arm') {
    latencies.length = 0;
    armed = true;
    say({ type: 'armed' });
  } else if (m.type === 'report') {
    armed = false;
    const sorted = [...latencies].sort((a, b) => a - b);
    say({ type: 'report', deliveries: sorted.length, firstAt, lastAt, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN });
  } else if (m.type === 'usage') say({ type: 'usage', usage: usage() });
  else if (m.type === 'stop') {
    for (const s of sockets) s.disconnect();
    process.exit(0);
  }
});
