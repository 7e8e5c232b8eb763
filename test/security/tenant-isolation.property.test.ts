// Tenant isolation as a property over one server and 2,000 random steps: random principals of
// three tenants (and the default one) emit over HTTP, Socket.IO and the server API with random
// ids and idempotency keys drawn from small shared pools (so they collide across tenants), and
// subscribe with random patterns from random start points. Throughout: no delivery to another
// tenant over Socket.IO (live and replay), SSE or the inspector, nothing unexposed delivered, and
// no emit lost to another tenant's key or id (a duplicate answer always names the same tenant's
// earlier event). `fete.follow` does not exist on this branch yet (log engineer): not covered.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Envelope, Headers, createEnvelope, encodeEnvelope, uuidv7 } from '../../shared/index.js';
import { RawClient, until } from '../realtime/support.js';
import {
  bearer,
  collectSse,
  postEmit,
  sharePGlite,
  startSecureServer,
  tenantOfUser,
  tenantSecurity,
  topics,
  type SecureServer,
  type SseCollector,
} from './support/secure-server.js';

sharePGlite();
/** 2,000 steps; fewer only to debug locally (FETE_TENANT_PROPERTY_RUNS). */
const RUNS = Number(process.env.FETE_TENANT_PROPERTY_RUNS ?? 2000);
const NAMES = ['alice', 'carol', 'bob', 'erin', 'dave'] as const;
type Name = (typeof NAMES)[number];
const TENANTS = ['acme', 'globex', 'initech', ''];
const IDS = Array.from({ length: 4 }, () => uuidv7());
const KEYS = ['order-1', 'order-2', 'order-42'];
const PATTERNS = ['>', 'chats.>', 'chats.*', 'chats.r1', 'notices.*', 'notices.r2', '*.r1', 'orders.>', 'orders.*.placed', 'ledger.*'];
/** Patterns that can match an exposed topic (notices: presentation; chats: expose: true). */
const EXPOSABLE = new Set(['>', 'chats.>', 'chats.*', 'chats.r1', 'notices.*', 'notices.r2', '*.r1']);
const EXPOSED_TOPICS = new Set<string>([topics.notice.name, topics.chat.name]);

let s: SecureServer;
const sockets = new Map<Name, RawClient>();
/** Every SSE stream opened, with its owner. */
const streams: Array<{ who: Name; sse: SseCollector; replay: boolean }> = [];
/** Per tenant: `id:<id>` / `key:<key>` -> the seq of the first event that used it. */
const model = new Map<string, Map<string, number>>();
const delivered = { socket: 0, socketReplay: 0, sse: 0, inspector: 0 };
const checked = new Map<object, number>();
let duplicates = 0;

beforeAll(async () => {
  s = await startSecureServer(tenantSecurity, { inspector: { authorize: () => true } });
  for (const n of NAMES) {
    const c = new RawClient(s.url, { token: n });
    await c.connected();
    sockets.set(n, c);
    const sse = await collectSse(`${s.api}/stream?pattern=>&from=earliest`, bearer(n));
    await sse.started;
    streams.push({ who: n, sse, replay: false });
  }
}, 60_000);
afterAll(async () => {
  for (const { sse } of streams) sse.close();
  for (const c of sockets.values()) c.close();
  await s?.close();
});

function assertOwn(who: Name, events: readonly Envelope[], from: number): number {
  const tenant = tenantOfUser(who);
  for (let i = from; i < events.length; i++) {
    const e = events[i]!;
    expect(e.headers[Headers.tenant] ?? '', `${who} received seq ${e.seq} of another tenant`).toBe(tenant);
    expect(EXPOSED_TOPICS.has(e.topic), `${who} received unexposed ${e.topic}`).toBe(true);
  }
  return events.length - from;
}

/** Checks everything that arrived since the last check, on every socket subscription and stream. */
function checkDeliveries(): void {
  for (const [who, c] of sockets)
    for (const [sid, list] of c.events) {
      const n = assertOwn(who, list, checked.get(list) ?? 0);
      checked.set(list, list.length);
      if (sid.startsWith('replay-')) delivered.socketReplay += n;
      else delivered.socket += n;
    }
  for (const { who, sse } of streams) {
    delivered.sse += assertOwn(who, sse.events, checked.get(sse.events) ?? 0);
    checked.set(sse.events, sse.events.length);
  }
}

/** The emit answer must be what the per-tenant model says: accepted iff neither id nor key was
 * used in the same tenant; a duplicate names that same tenant's event. */
function checkAnswer(tenant: string, id: string, key: string | undefined, status: string, seq: number): void {
  const seen = model.get(tenant) ?? new Map<string, number>();
  model.set(tenant, seen);
  const first = seen.get(`id:${id}`) ?? (key === undefined ? undefined : seen.get(`key:${key}`));
  if (first === undefined) {
    expect(status, `emit in tenant "${tenant}" with id ${id} key ${key} was swallowed`).toBe('accepted');
    seen.set(`id:${id}`, seq);
    if (key !== undefined) seen.set(`key:${key}`, seq);
  } else {
    expect({ status, seq }).toEqual({ status: 'duplicate', seq: first });
    duplicates++;
  }
}

const stepArb = fc.record({
  door: fc.constantFrom('http', 'socket', 'server'),
  who: fc.constantFrom(...NAMES),
  serverTenant: fc.constantFrom(...TENANTS),
  topic: fc.constantFrom('chat', 'order', 'notice'),
  room: fc.constantFrom('r1', 'r2'),
  // A shared id or key one time in four (they collide across tenants); a fresh id otherwise, so
  // that most steps store an event and the read paths have plenty to (not) deliver.
  id: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...IDS) }),
  key: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...KEYS) }),
  sub: fc.record({
    who: fc.constantFrom(...NAMES),
    pattern: fc.constantFrom(...PATTERNS),
    // Mostly a recent seq (replay of a few pages), sometimes live, rarely the whole log.
    from: fc.oneof({ weight: 6, arbitrary: fc.nat(40).map((back) => ({ back })) }, { weight: 3, arbitrary: fc.constant('latest' as const) }, { weight: 1, arbitrary: fc.constant('earliest' as const) }),
  }),
  inspect: fc.record({ who: fc.constantFrom(...NAMES), back: fc.nat(60) }),
});

describe('tenant isolation (property, 2,000 steps on one server)', () => {
  it('delivers nothing to another tenant on any read path and loses no emit to another tenant’s key or id', async () => {
    let step = 0;
    let n = 0;
    await fc.assert(
      fc.asyncProperty(stepArb, async (st) => {
        step++;
        // --- an emit, on one of the three doors
        const id = st.id ?? uuidv7();
        const payload = st.topic === 'order' ? { orderId: `o${n}`, n: n++ } : { room: st.room, n: n++ };
        if (st.door === 'server') {
          const topic = topics[st.topic];
          const r = await s.fete.emit(topic as typeof topics.chat, payload as never, { id, tenant: st.serverTenant, ...(st.key ? { idempotencyKey: st.key } : {}) });
          checkAnswer(st.serverTenant, id, st.key, r.duplicate ? 'duplicate' : 'accepted', r.seq);
        } else {
          const topic = st.topic === 'notice' ? 'chat' : st.topic; // browsers cannot emit presentation topics
          const tenant = tenantOfUser(st.who);
          let status: string;
          let seq = 0;
          if (st.door === 'http') {
            const res = await postEmit(s.api, { topic: topics[topic].name, payload, id, ...(st.key ? { idempotencyKey: st.key } : {}) }, bearer(st.who));
            ({ status, seq = 0 } = res.json.results[0]);
          } else {
            const env = createEnvelope(topics[topic] as typeof topics.chat, payload as never, { id, headers: st.key ? { [Headers.idempotencyKey]: st.key } : {} });
            const ack = await sockets.get(st.who)!.emit([encodeEnvelope(env)]);
            if (!ack.ok) throw new Error(ack.error.message);
            const r = ack.results[0]!;
            status = r.status;
            if ('seq' in r) seq = r.seq;
          }
          checkAnswer(tenant, id, st.key, status, seq);
        }

        // --- a subscription from a random start point (older ones of the socket are dropped)
        const c = sockets.get(st.sub.who)!;
        const head = await s.fete.log.head();
        const from = typeof st.sub.from === 'object' ? Math.max(0, head - st.sub.from.back) : st.sub.from;
        const sid = `${from === 'latest' ? 'live' : 'replay'}-${step}`;
        const ack = await c.sub(sid, st.sub.pattern, from);
        expect(ack.ok, `sub ${st.sub.pattern}: ${JSON.stringify(ack)}`).toBe(EXPOSABLE.has(st.sub.pattern));
        if (!ack.ok) expect(ack.error.code).toBe('FORBIDDEN');
        const old = `${step - 8}`;
        for (const prefix of ['live-', 'replay-']) c.socket.emit('unsub', { sid: prefix + old });

        // --- the inspector, from a random point
        const res = await fetch(`${s.api}/inspector/events?after=${Math.max(0, head - st.inspect.back)}&limit=60`, { headers: bearer(st.inspect.who) });
        expect(res.status).toBe(200);
        const { events } = (await res.json()) as { events: Envelope[] };
        for (const e of events) expect(e.headers[Headers.tenant] ?? '').toBe(tenantOfUser(st.inspect.who));
        for (const e of events) expect(e.context).toEqual({});
        delivered.inspector += events.length;

        // --- now and then, an SSE stream with a random pattern, replaying from a random point
        if (step % 100 === 0) {
          const p = [...EXPOSABLE][step % EXPOSABLE.size]!;
          const sse = await collectSse(`${s.api}/stream?pattern=${encodeURIComponent(p)}&from=${Math.max(0, head - 50)}`, bearer(st.sub.who));
          streams.push({ who: st.sub.who, sse, replay: true });
        }
        checkDeliveries();
      }),
      { numRuns: RUNS },
    );

    // Everything emitted has reached every open subscription and stream: a last full check.
    const head = await s.fete.log.head();
    for (let after = 0; after < head; ) {
      const page = await s.fete.log.read(after, { limit: 1000 });
      all.push(...page.events);
      after = page.cursor;
    }
    for (const c of sockets.values()) await c.sub(`sync`, 'notices.sync');
    await until(() => streams.slice(0, NAMES.length).every(({ who, sse }) => {
      const last = sse.events.at(-1)?.seq ?? 0;
      // A stream has caught up when nothing of its tenant after its last event remains.
      return last >= head || !hasOwnAfter(who, last);
    }), 'streams caught up', 60_000);
    checkDeliveries();
    console.info(`tenant property: ${step} steps, head ${head}, ${duplicates} duplicates, delivered ${JSON.stringify(delivered)}`);
    // Not vacuous: every read path delivered events, and the key and id pools made duplicates.
    expect(duplicates).toBeGreaterThan(0);
    expect(delivered.socket).toBeGreaterThan(0);
    expect(delivered.socketReplay).toBeGreaterThan(0);
    expect(delivered.sse).toBeGreaterThan(0);
    expect(delivered.inspector).toBeGreaterThan(0);
    // Every tenant's own exposed events reached its live SSE stream, in seq order, none missing.
    for (const { who, sse } of streams.slice(0, NAMES.length)) expect(sse.events.map((e) => e.seq)).toEqual(ownExposed(who));
  }, 1_200_000); // ~570 s on the shared 2-core machine while others ran their suites
});

let all: Envelope[] = [];
function ownExposed(who: Name): number[] {
  const tenant = tenantOfUser(who);
  return all.filter((e) => (e.headers[Headers.tenant] ?? '') === tenant && EXPOSED_TOPICS.has(e.topic)).map((e) => e.seq!);
}
function hasOwnAfter(who: Name, seq: number): boolean {
  return ownExposed(who).some((x) => x > seq);
}
afterAll(() => {
  all = [];
});
