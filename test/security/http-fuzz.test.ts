// Hostile input to the HTTP door: 5,000 random requests (50 rounds of 100, 20 at a time) to
// POST /emit, GET /stream (with and without `presence`), GET /presence (JSON and SSE), the
// inspector, the metrics and unknown paths, with random bodies,
// credentials and headers. No request is answered with a 5xx or takes the server down, every
// refusal of a fete route is a JSON error with a code, and after every round a well-behaved
// client still gets its events over SSE and Socket.IO.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, until } from '../realtime/support.js';
import { bearer, collectSse, sharePGlite, startSecureServer, tenantSecurity, topics, type SecureServer, type SseCollector } from './support/secure-server.js';

sharePGlite();
let s: SecureServer;
let bystander: RawClient;
let bystanderSse: SseCollector;

beforeAll(async () => {
  s = await startSecureServer(tenantSecurity, {
    inspector: { authorize: (u) => u.id === 'alice' },
    metrics: { authorize: (u) => u.id === 'alice' },
    maxBatch: 20,
  });
  bystander = new RawClient(s.url, { token: 'carol' });
  await bystander.connected();
  expect(await bystander.sub('b', 'chats.*')).toMatchObject({ ok: true });
  bystanderSse = await collectSse(`${s.api}/stream?pattern=chats.*`, bearer('carol'));
  await bystanderSse.started;
}, 60_000);
afterAll(async () => {
  bystanderSse?.close();
  bystander?.close();
  await s?.close();
});

let n = 0;
/** The bystander (tenant acme) still gets live events on both doors. */
async function bystanderServed(): Promise<void> {
  const sock = bystander.seqs('b').length;
  const sse = bystanderSse.events.length;
  await s.fete.emit(topics.chat, { room: 'by', n: n++ }, { tenant: 'acme' });
  await until(() => bystander.seqs('b').length > sock && bystanderSse.events.length > sse, 'bystander served');
}

const validItem = JSON.stringify({ topic: topics.chat.name, payload: { room: 'r', n: 1 }, headers: { traceparent: 'x' }, idempotencyKey: 'k' });
const bodyArb = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constant(validItem),
  fc.constant(`[${validItem},${validItem}]`),
  // A valid item with a random edit: most fail to parse or validate, some pass.
  fc.tuple(fc.nat(validItem.length), fc.string({ maxLength: 6 })).map(([i, t]) => validItem.slice(0, i) + t + validItem.slice(i + 1)),
  fc.constant(JSON.stringify({ topic: topics.chat.name, payload: { room: 'r', n: 1 }, headers: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`h${i}`, 'v'])) })),
  fc.constant(JSON.stringify({ json: { __proto__: { polluted: true } } })),
);
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('>', 'chats.*', 'orders.>', 'a..b', '*.>', 'ledger.*', '', '%00', 'earliest', 'latest', '0', '-1', '1e309'));
const requestArb = fc.record({
  route: fc.constantFrom('emit', 'emit', 'emit', 'stream', 'stream-presence', 'presence', 'presence-sse', 'inspector-events', 'inspector-retry', 'inspector-other', 'metrics', 'unknown'),
  auth: fc.oneof(fc.constant(undefined), fc.constantFrom('Bearer alice', 'Bearer bob', 'Bearer nobody', 'Basic YWxpY2U6', 'Bearer', 'bearer alice'), fc.string({ maxLength: 30 }).map((t) => `Bearer ${t}`)),
  contentType: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1', ''),
  body: bodyArb,
  a: text,
  b: text,
  lastEventId: fc.option(fc.oneof(fc.nat().map(String), fc.string({ maxLength: 10 })), { nil: undefined }),
});
type Req = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

/** Header values fetch accepts (ByteString without CR/LF/NUL); anything else is dropped. */
function safeHeader(v: string | undefined): string | undefined {
  return v !== undefined && /^[\x20-\x7e]*$/.test(v) ? v : undefined;
}

async function send(r: Req): Promise<{ status: number; route: string }> {
  const headers: Record<string, string> = {};
  const auth = safeHeader(r.auth);
  if (auth !== undefined) headers.authorization = auth;
  if (r.contentType) headers['content-type'] = r.contentType;
  const lei = safeHeader(r.lastEventId);
  if (lei !== undefined) headers['last-event-id'] = lei;
  const q = (k: string, v: string) => `${k}=${encodeURIComponent(v)}`;
  const [method, path] = (() => {
    switch (r.route) {
      case 'emit':
        return ['POST', '/emit'];
      case 'stream':
        return ['GET', `/stream?${q('pattern', r.a)}&${q('from', r.b)}`];
      case 'stream-presence':
        return ['GET', `/stream?${q('pattern', r.a)}&${q('presence', r.b)}`];
      case 'presence':
        return ['GET', `/presence?${q('pattern', r.a)}`];
      case 'presence-sse':
        headers.accept = 'text/event-stream';
        return ['GET', `/presence?${q('pattern', r.a)}`];
      case 'inspector-events':
        return ['GET', `/inspector/events?${q('after', r.b)}&${q('pattern', r.a)}&${q('limit', r.b)}`];
      case 'inspector-retry':
        return ['POST', `/inspector/dead-letters/${encodeURIComponent(r.a)}/retry`];
      case 'inspector-other':
        return ['GET', `/inspector/${encodeURIComponent(r.a)}`];
      case 'metrics':
        return ['GET', '/metrics'];
      default:
        return ['GET', `/${encodeURIComponent(r.a)}`];
    }
  })();
  const abort = new AbortController();
  const res = await fetch(`${s.api}${path}`, { method, headers, signal: abort.signal, ...(method === 'POST' ? { body: r.body } : {}) });
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) abort.abort(); // a stream that started: leave it
  else if (res.status >= 400 && res.headers.get('content-type')?.includes('json')) {
    const body = (await res.json()) as { error?: { code?: unknown } };
    expect(typeof body.error?.code, `${method} ${path} -> ${res.status}`).toBe('string');
  } else {
    // Not JSON: only a path no fete route matches (`/inspector/dead-letters//retry`, `/x`) falls
    // through to the app, whose own 404 page answers.
    if (res.status >= 400) expect(res.status, `${method} ${path}`).toBe(404);
    await res.arrayBuffer();
  }
  return { status: res.status, route: r.route };
}

describe('garbage over HTTP', () => {
  it('5,000 random requests: never a 5xx, always a JSON error from fete routes, and the bystander is served after every round', async () => {
    const statuses = new Map<number, number>();
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(requestArb, { minLength: 100, maxLength: 100 }), async (batch) => {
        for (let i = 0; i < batch.length; i += 20) {
          const answers = await Promise.all(batch.slice(i, i + 20).map(send));
          for (const { status } of answers) {
            statuses.set(status, (statuses.get(status) ?? 0) + 1);
            expect(status).toBeLessThan(500);
          }
          sent += answers.length;
        }
        await bystanderServed();
      }),
      { numRuns: 50 },
    );
    expect(sent).toBe(5000);
    // Not vacuous: the fuzz reached both the refusals and the accepting paths.
    for (const status of [200, 400, 401, 403, 404]) expect(statuses.get(status) ?? 0, `status ${status}`).toBeGreaterThan(0);
    console.info(`http fuzz: ${sent} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  }, 600_000);
});
