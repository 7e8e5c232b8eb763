// One run of the memory-per-client benchmark for one server implementation: the fanout
// benchmark's server child (run with --expose-gc) and its clients child. A warm-up of a few sockets
// connects and leaves first (code paths compiled, lazy state made, for every implementation alike),
// then the server's memory is read after full collections, `clients` sockets connect and subscribe
// (fete: one subscription each; plain: one room join each) and sit idle, and it is read again.
// fete runs from its compiled build (dist/, see server-child.ts): the caller builds it first.
import { fileURLToPath } from 'node:url';
import { dropSchema, freshSchema, DATABASE_URL } from '../durable/common.js';
import { IpcChild } from '../../test/support/ipc-child.js';
import type { ClientsCommand, ClientsMessage, Impl, Memory, ServerCommand, ServerMessage } from './common.js';

const serverScript = fileURLToPath(new URL('./server-child.ts', import.meta.url));
const clientsScript = fileURLToPath(new URL('./clients-child.ts', import.meta.url));

type Server = IpcChild<ServerCommand, ServerMessage>;
type Clients = IpcChild<ClientsCommand, ClientsMessage>;

export interface MemoryResult {
  before: Memory;
  after: Memory;
  /** (after - before) / clients, in bytes. */
  perClient: Memory;
}

async function memory(server: Server): Promise<Memory> {
  server.send({ type: 'memory' });
  return (await server.next('memory')).memory;
}

async function connect(port: number, impl: Impl, n: number): Promise<Clients> {
  const clients: Clients = new IpcChild(clientsScript, [`http://127.0.0.1:${port}`, impl, String(n), 'shared'], { stdout: 'inherit', label: 'clients' });
  await clients.next('ready', 300_000);
  return clients;
}

async function leave(clients: Clients): Promise<void> {
  clients.send({ type: 'stop' });
  await clients.kill(5000);
}

export async function runMemory(impl: Impl, clients: number, warmup: number): Promise<MemoryResult> {
  const schema = impl === 'fete-pg' ? freshSchema('memory') : undefined;
  const server: Server = new IpcChild(serverScript, [impl, DATABASE_URL, schema ?? 'fete', 'each', 'dist'], { execArgv: ['--expose-gc'], stdout: 'inherit', label: 'server' });
  let subscribers: Clients | undefined;
  try {
    const { port } = await server.next('ready', 60_000);
    await leave(await connect(port, impl, warmup));
    await new Promise((r) => setTimeout(r, 500)); // the server has seen every disconnect
    const before = await memory(server);
    subscribers = await connect(port, impl, clients);
    await new Promise((r) => setTimeout(r, 1000)); // idle: handshakes and acks are done with
    const after = await memory(server);
    const per = (k: keyof Memory) => (after[k] - before[k]) / clients;
    return { before, after, perClient: { rss: per('rss'), heapUsed: per('heapUsed'), external: per('external') } };
  } finally {
    if (subscribers) await leave(subscribers);
    server.send({ type: 'stop' });
    await server.kill(10_000);
    if (schema) await dropSchema(schema);
  }
}
