// Presence over any LiveChannel (server/bus/live-channel.ts): two presence services (two nodes) on
// one PGlite store, linked by an in-test channel that can drop messages and report the loss. What
// a lost message would have said must reach observers after `onLost`, through a re-read.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { LiveChannel, LiveMessage } from '../../server/bus/live-channel.js';
import { openPresence } from '../../server/presence/open-presence.js';
import { resolveSecurity } from '../../server/security/security.js';
import { openStore, type Store } from '../../server/store/open-store.js';
import { freshSchema } from '../support/postgres.js';
import { topics } from './catalogue.js';
import { until } from './fixtures.js';

/** Two channels joined to each other; `dropping` loses messages between them, `lose()` reports it. */
function link(): { a: LiveChannel; b: LiveChannel; setDropping(on: boolean): void; lose(): void } {
  let dropping = false;
  const make = () => {
    const handlers = new Set<(m: LiveMessage) => void>();
    const lost = new Set<() => void>();
    let peer: { deliver(m: LiveMessage): void } | undefined;
    const deliver = (m: LiveMessage) => handlers.forEach((fn) => fn(m));
    const channel: LiveChannel = {
      transport: 'local',
      maxMessageBytes: undefined,
      publish: async (m) => {
        deliver(m);
        if (!dropping) peer?.deliver(structuredClone(m));
      },
      on: (kind, fn) => {
        const h = (m: LiveMessage) => m.kind === kind && fn(m);
        handlers.add(h);
        return () => handlers.delete(h);
      },
      onLost: (fn) => {
        lost.add(fn);
        return () => lost.delete(fn);
      },
      close: async () => undefined,
    };
    return { channel, deliver, lost, connect: (p: { deliver(m: LiveMessage): void }) => (peer = p) };
  };
  const x = make();
  const y = make();
  x.connect(y);
  y.connect(x);
  return { a: x.channel, b: y.channel, setDropping: (on) => (dropping = on), lose: () => y.lost.forEach((fn) => fn()) };
}

let store: Store;
beforeAll(async () => {
  store = await openStore('memory', freshSchema('plc'));
});
afterAll(async () => {
  await store?.close();
});

test('an observer whose channel lost messages re-reads the table on onLost: the missed leave and join arrive, once', async () => {
  const security = resolveSecurity({ auth: 'anonymous', publicId: () => 'x' });
  const { a, b, setDropping, lose } = link();
  const nodeA = await openPresence(topics, security, store, 'memory', { heartbeatMs: 1000, ttlMs: 5000 }, a);
  const nodeB = await openPresence(topics, security, store, 'memory', { heartbeatMs: 1000, ttlMs: 5000 }, b);
  try {
    const seen: string[] = [];
    const observer = nodeB.service.observe('rooms.>', { tenant: 't', onChange: (c) => seen.push(`${c.type} ${c.member.id}`) });
    expect(await observer.ready).toEqual([]);
    const alice = {};
    const key = (member: string) => ({ tenant: 't', subject: 'rooms.r1.chat', member });
    nodeA.service.hub.join(alice, key('@alice'), undefined);
    await until(() => seen.length === 1, 'alice joins on b');
    setDropping(true);
    nodeA.service.hub.leave(alice, key('@alice'));
    nodeA.service.hub.join({}, key('@carol'), JSON.stringify('hi'));
    await until(async () => (await nodeA.service.members('rooms.>', { tenant: 't' })).map((m) => m.id).join() === '@carol', 'the table changed');
    expect(seen).toEqual(['join @alice']); // b heard nothing
    setDropping(false);
    lose();
    await until(() => seen.length === 3, 'the re-read');
    expect(seen.slice(1).sort()).toEqual(['join @carol', 'leave @alice']);
    expect(observer.members).toEqual([{ subject: 'rooms.r1.chat', id: '@carol', connections: 1, state: 'hi' }]);
    observer.close();
  } finally {
    await nodeA.close();
    await nodeB.close();
  }
});
