// The subscribers of the fanout benchmark: N socket.io-client sockets in one process, each with
// one subscription (pattern `PATTERNS[i % 4]`, all matching every event), the same for every
// server: `sub` with an ack, then `ev` packets (fete also `evs`: several events of one subscription).
// Each delivery is read as far as a client must to get the payload (fete: the envelope's superjson
// form inside the packet, `e.json`; plain: the packet is the envelope); neither needs a parse beyond
// Socket.IO's own.
//   clients-child.ts <url> <impl> <count> <sidMode>
import { io, type Socket } from 'socket.io-client';
import { percentile } from '../harness.js';
import { type ClientsCommand, type ClientsMessage, type Impl, PATTERNS, isPlain, type SidMode, cpuUsage, now } from './common.js';

const [url, impl, countArg, sidMode] = process.argv.slice(2) as [string, Impl, string, SidMode];
const count = Number(countArg);
const say = (m: ClientsMessage) => process.send!(m);
process.on('unhandledRejection', (err) => {
  say({ type: 'error', message: String((err as Error)?.stack ?? err) });
  process.exit(1);
});

let delivered = 0;
let expected = Infinity;
let latencies: Float64Array | undefined;
/** Per measured delivery: its event's number and when it arrived (for commit-to-receipt). */
let numbers: Float64Array | undefined;
let arrivals: Float64Array | undefined;
let measured = 0;

type Payload = { sentAt: number; n: number };
type WireEvent = { json: { payload: Payload } };

const plain = isPlain(impl);

function onEv(packet: unknown): void {
  if (plain) delivery((packet as { payload: Payload }).payload);
  else delivery((packet as { e: WireEvent }).e.json.payload);
}

function onEvs(packet: unknown): void {
  for (const e of (packet as { es: WireEvent[] }).es) delivery(e.json.payload);
}

function delivery(p: Payload): void {
  if (latencies && measured < latencies.length) {
    const at = now();
    latencies[measured] = at - p.sentAt;
    numbers![measured] = p.n;
    arrivals![measured++] = at;
  }
  if (++delivered === expected) report();
}

/** Commit-to-receipt of the last latency phase's deliveries, given each event's commit time. */
function fanoutLatency(commits: Array<[number, number]>): { p50: number; p99: number; count: number } {
  const at = new Map(commits);
  const out: number[] = [];
  for (let i = 0; i < measured; i++) {
    const c = at.get(numbers![i]!);
    if (c !== undefined) out.push(arrivals![i]! - c);
  }
  out.sort((a, b) => a - b);
  return { p50: percentile(out, 50), p99: percentile(out, 99), count: out.length };
}

function report(): void {
  const lastAt = now();
  let latency: { p50: number; p99: number; max: number; count: number } | undefined;
  if (latencies) {
    const sorted = Array.from(latencies.subarray(0, measured)).sort((a, b) => a - b);
    latency = { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted[sorted.length - 1] ?? NaN, count: sorted.length };
  }
  say({ type: 'received', lastAt, deliveries: delivered, ...(latency ? { latency } : {}) });
  latencies = undefined;
}

const sockets: Socket[] = [];
async function connect(i: number): Promise<void> {
  const socket = io(`${url}/fete`, { transports: ['websocket'], reconnection: false, forceNew: true });
  sockets.push(socket);
  socket.on('ev', onEv);
  socket.on('evs', onEvs);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  const sid = sidMode === 'shared' ? 's0' : `s${i.toString(36)}`;
  const ack = (await socket.timeout(30_000).emitWithAck('sub', { sid, pattern: PATTERNS[i % PATTERNS.length], from: 'latest' })) as { ok: boolean };
  if (!ack.ok) throw new Error(`sub refused: ${JSON.stringify(ack)}`);
}

// In groups, so that 500 handshakes do not all land on the server in the same millisecond.
for (let i = 0; i < count; i += 50) await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, k) => connect(i + k)));
say({ type: 'ready' });

process.on('message', (m: ClientsCommand) => {
  if (m.type === 'expect') {
    // Counting starts over at each phase (the previous phase's deliveries have all arrived).
    delivered = 0;
    expected = m.deliveries;
    measured = 0;
    latencies = m.latency ? new Float64Array(m.deliveries) : undefined;
    numbers = m.latency ? new Float64Array(m.deliveries) : undefined;
    arrivals = m.latency ? new Float64Array(m.deliveries) : undefined;
    say({ type: 'armed' });
  } else if (m.type === 'fanout') {
    say({ type: 'fanout', fanoutMs: fanoutLatency(m.commits) });
  } else if (m.type === 'usage') say({ type: 'usage', cpu: cpuUsage() });
  else if (m.type === 'stop') {
    for (const s of sockets) s.disconnect();
    process.exit(0);
  }
});
