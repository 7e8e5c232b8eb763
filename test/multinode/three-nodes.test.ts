// Three OS processes (two web nodes, one worker) on one PostgreSQL schema and a NATS of the test's
// own (node-child.ts): sockets on both web nodes receive each other's events, and the worker's,
// exactly once and in seq order; a web node killed with SIGKILL leaves its clients to resume on the
// other from their cursors with no gap; NATS killed and restarted mid-stream costs no event and
// sends none twice. Every check compares against the seqs the emitting processes were given.
import { type Server, type Socket, createServer, connect as tcpConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createClient, socketTransport } from '../../client/index.js';
import { topics } from '../realtime/topics.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IpcChild } from '../support/ipc-child.js';
import { dropSchemasAt, freshSchema, postgresAvailability } from '../support/postgres.js';
import { RawClient, until } from '../realtime/support.js';
import { PrivateNats, canRunPrivateNats, natsAvailability } from './nats.js';
import type { NodeCommand, NodeConfig, NodeReply } from './node-child.js';
import { listen } from '../support/http-server.js';

const pgAvail = await postgresAvailability();
const natsAvail = await natsAvailability();
if (natsAvail.url && !canRunPrivateNats()) {
  if (process.env.CI === 'true') throw new Error('nats-server is not installed (FETE_NATS_SERVER), and CI=true');
  natsAvail.skipReason = 'nats-server is not installed (set FETE_NATS_SERVER)';
}
const skip = pgAvail.skipReason ?? natsAvail.skipReason;
if (skip) console.log(`skipping the multi-node tests: ${skip}`);

const script = fileURLToPath(new URL('./node-child.ts', import.meta.url));

class Node extends IpcChild<NodeCommand, NodeReply> {
  port = 0;
  constructor(config: NodeConfig) {
    super(script, [JSON.stringify(config)], { label: `${config.role} node` });
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  async ready(): Promise<this> {
    this.port = (await this.next('ready', 60_000)).port;
    return this;
  }
  async emit(from: number, count: number, concurrency = 4, pauseMs = 0): Promise<number[]> {
    this.send({ type: 'emit', from, count, concurrency, pauseMs });
    return (await this.next('emitted')).seqs;
  }
  async stop(): Promise<void> {
    this.send({ type: 'stop' });
    await this.kill(10_000);
  }
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

/** A TCP load balancer in front of the web nodes: each new connection goes to the first node still
 * alive, so a client whose node dies reconnects to the other one (as behind a real balancer). */
async function balancer(nodes: () => Node[]): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((down) => {
    const node = nodes().find((n) => n.alive);
    if (!node) return down.destroy();
    const up = tcpConnect({ host: '127.0.0.1', port: node.port });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    down.pipe(up).pipe(down);
    up.on('close', () => down.destroy());
    down.on('close', () => up.destroy());
  });
  const url = await listen(server);
  return {
    url,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe.skipIf(skip !== undefined)('two web nodes and a worker over NATS', () => {
  const schema = freshSchema('mn');
  let nats: PrivateNats;
  let a: Node;
  let b: Node;
  let w: Node;
  const clients: RawClient[] = [];
  const client = async (node: Node) => {
    const c = new RawClient(node.url, {});
    clients.push(c);
    await c.connected();
    return c;
  };

  beforeAll(async () => {
    nats = await PrivateNats.start();
    const config = (role: NodeConfig['role']): NodeConfig => ({ url: pgAvail.url!, schema, nats: nats.url, role });
    // The first one migrates the schema alone; then the others.
    w = await new Node(config('worker')).ready();
    [a, b] = await Promise.all([new Node(config('web')).ready(), new Node(config('web')).ready()]);
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all([a, b, w].filter(Boolean).map((n) => n.stop()));
    await nats?.stop();
    await dropSchemasAt(pgAvail.url!, [schema]);
  });

  it("clients on both web nodes receive each other's and the worker's events exactly once, in seq order", async () => {
    const [ca, cb, cbOrders] = await Promise.all([client(a), client(b), client(b)]);
    const acks = await Promise.all([ca.sub('t', 'ticks.*'), cb.sub('t', 'ticks.*'), cbOrders.sub('o', 'orders.*.status')]);
    expect(acks.every((x) => x.ok)).toBe(true);
    const emitted = (await Promise.all([a.emit(0, 60), b.emit(100, 60), w.emit(200, 60)])).flat();
    // The worker answers an order placed on a web node with a status event of its own.
    a.send({ type: 'place', orderId: 'o1' });
    await a.next('placed');
    await until(() => ca.seqs('t').length >= 180 && cb.seqs('t').length >= 180 && cbOrders.seqs('o').length >= 1, 'every tick on both nodes', 60_000);
    await new Promise((r) => setTimeout(r, 300)); // room for a duplicate to show up
    expect(ca.seqs('t')).toEqual(sorted(emitted));
    expect(cb.seqs('t')).toEqual(sorted(emitted));
    expect(cbOrders.events.get('o')!.map((e) => e.payload)).toEqual([{ orderId: 'o1', status: 'seen' }]);
  }, 120_000);

  it('NATS killed and restarted mid-stream: no gap, no duplicate', async () => {
    const [ca, cb] = await Promise.all([client(a), client(b)]);
    await Promise.all([ca.sub('t', 'ticks.*'), cb.sub('t', 'ticks.*')]);
    const emitting = Promise.all([w.emit(1000, 150, 2, 10), a.emit(2000, 150, 2, 10)]);
    await until(() => cb.seqs('t').length >= 40, 'the stream under way');
    await nats.stop();
    await new Promise((r) => setTimeout(r, 700));
    await nats.start();
    const emitted = (await emitting).flat();
    await until(() => ca.seqs('t').length >= 300 && cb.seqs('t').length >= 300, 'every tick after the restart', 60_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(ca.seqs('t')).toEqual(sorted(emitted));
    expect(cb.seqs('t')).toEqual(sorted(emitted));
  }, 120_000);

  it('a web node killed with SIGKILL: its clients resume on the other node from their cursors with no gap', async () => {
    // A raw protocol client that resubscribes by hand, and fete's client behind a balancer, which
    // reconnects and resumes from its cursor by itself.
    const ca = await client(a);
    const ack = await ca.sub('t', 'ticks.*');
    if (!ack.ok) throw new Error('subscribe refused');
    const lb = await balancer(() => [a, b]);
    const feteClient = createClient({ url: lb.url, topics, outbox: 'memory', locks: null, transport: socketTransport({ transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 500 }) });
    const viaClient: number[] = [];
    const sub = feteClient.subscribe('ticks.*', (e) => void viaClient.push(e.seq!));
    await sub.ready;
    try {
      const emitting = w.emit(3000, 200, 2, 5);
      await until(() => ca.seqs('t').length >= 30 && viaClient.length >= 30, 'the stream under way');
      a.proc.kill('SIGKILL');
      await until(() => !a.alive, 'node a gone');
      // The raw client's last cursor: what it saw; the rest must come from node b, once.
      const seen = ca.seqs('t');
      const resumed = await client(b);
      const ack2 = await resumed.sub('t', 'ticks.*', `${ack.epoch}:${seen.at(-1)}`);
      expect(ack2.ok).toBe(true);
      const emitted = sorted(await emitting);
      await until(() => seen.length + resumed.seqs('t').length >= 200 && viaClient.length >= 200, 'every tick across both nodes', 60_000);
      await new Promise((r) => setTimeout(r, 300));
      expect(resumed.gaps).toEqual([]);
      expect([...seen, ...resumed.seqs('t')]).toEqual(emitted);
      expect(viaClient).toEqual(emitted);
    } finally {
      feteClient.close();
      await lb.close();
    }
  }, 120_000);
});
