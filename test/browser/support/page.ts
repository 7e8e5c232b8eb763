// The page side of the browser tests (runs in Chromium, served by page-server.ts): one fete client
// per page, and small functions the tests call through `page.evaluate` to emit, subscribe and read
// back what the page saw. State lives in this module, so a reload starts from nothing but the
// browser's storage, as a real reload does.
import { createClient, socketTransport, type Client, type EmitReceipt, type Gap } from '../../../client/index.js';
import { topics, type Topics } from './catalogue.js';
import { seedVersion1Outbox as seedV1, type Version1Record } from '../../support/outbox-v1.js';

export interface PageStatus {
  connected: boolean;
  leader: boolean;
  pending: number;
  lastError: string | undefined;
}

export interface Received {
  seq: number;
  n: number;
}

let client: Client<Topics> | undefined;
const receipts: EmitReceipt[] = [];
const received: Received[] = [];
const gaps: Gap[] = [];

function current(): Client<Topics> {
  if (client === undefined) throw new Error('open() first');
  return client;
}

/** Opens this page's client; `label` is sent in the handshake so the server can tell pages apart. */
export function open(label: string): void {
  client = createClient({
    url: location.origin,
    topics,
    name: 'browser-test',
    auth: { label },
    // Quick reconnects, so a test does not wait out Socket.IO's default 1-5 s delays.
    transport: socketTransport({ reconnectionDelay: 100, reconnectionDelayMax: 500 }),
    retry: { initialDelayMs: 50, maxDelayMs: 500 },
    pollIntervalMs: 200,
  });
}

/** Emits marks `from` .. `from + count - 1` all at once (not awaiting each: group commit), and
 * resolves with their ids, in emit order, once every one is durably queued. */
export async function emitMarks(run: string, tab: string, from: number, count: number): Promise<string[]> {
  const c = current();
  const calls: Promise<EmitReceipt>[] = [];
  for (let n = from; n < from + count; n++) calls.push(c.emit(topics.mark, { run, n, tab }));
  const done = await Promise.all(calls);
  receipts.push(...done);
  return done.map((r) => r.id);
}

/** Waits for the server's ack of every emit this page made; resolves with their seqs. */
export async function delivered(): Promise<number[]> {
  const all = await Promise.all(receipts.map((r) => r.delivered));
  return all.map((d) => ('seq' in d ? d.seq : Number.NaN));
}

/** Emits a `quote` value per price, in order (`ids[i]` as the id of the i-th when given), and
 * resolves with what each receipt's `delivered` resolved to. */
export async function emitQuotes(symbol: string, prices: number[], ids: Array<string | undefined> = []): Promise<unknown[]> {
  const c = current();
  const sent = [];
  for (let i = 0; i < prices.length; i++) sent.push(await c.emit(topics.quote, { symbol, price: prices[i]! }, { id: ids[i] }));
  return Promise.all(sent.map((r) => r.delivered));
}

export function status(): PageStatus {
  const s = current().status;
  return { connected: s.connected, leader: s.leader, pending: s.pending, lastError: s.lastError?.code };
}

/** Subscribes to `pattern`, recording each tick; resolves once the server acknowledged it. */
export async function subscribeTicks(pattern: string): Promise<void> {
  const sub = current().subscribe(pattern, (ev) => void received.push({ seq: ev.seq!, n: (ev.payload as { n: number }).n }), {
    onGap: (gap) => void gaps.push(gap),
  });
  await sub.ready;
}

export function ticks(): { received: Received[]; gaps: Gap[] } {
  return { received: [...received], gaps: [...gaps] };
}

export async function close(): Promise<void> {
  await client?.close();
}

/** Writes `records` into this origin's outbox database in the version 1 layout, as if an older
 * release had queued them. */
export function seedVersion1Outbox(records: Version1Record[]): Promise<void> {
  return seedV1(indexedDB, 'fete-outbox:browser-test', records);
}
