// probe3: strings the store cannot keep as given. PostgreSQL and PGlite store a lone UTF-16
// surrogate in `text` as U+FFFD and refuse it (and NUL) in jsonb. Before: two subjects that differed
// only in a lone surrogate were one latest value, a replayed subject was not the emitted one, and a
// tenant or principal id holding one made every emit fail STORE_UNAVAILABLE (a false outage that
// clients retry forever). Now every such string is refused at the edge with a typed error.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createFete, runAs, runInTenant } from '../../server/index.js';
import { defineCommand, defineTopic, defineTopics, isFeteError, uuidv7, validatePattern, validateSubject } from '../../shared/index.js';
import { RawClient, sharedStore } from '../realtime/support.js';
import { freshSchema } from '../support/postgres.js';
import { bearer, postEmit, sharePGlite, startSecureServer, topics as secureTopics, type SecureServer, type User } from '../security/support/secure-server.js';

sharePGlite();

const topics = defineTopics({
  price: defineTopic('prices.{symbol}', { kind: 'presentation', delivery: 'latest', schema: z.object({ symbol: z.string(), price: z.number() }) }),
  note: defineTopic('notes.{id}', { kind: 'presentation', schema: z.object({ id: z.string() }) }),
});
const ping = defineCommand('pings.send', { input: z.object({}), output: z.number() });

const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return isFeteError(err) ? err.code : `not a FeteError: ${String(err)}`;
  }
}

describe('text the store cannot keep as given', () => {
  it('a subject or pattern with a lone surrogate is refused, so two subjects are never stored as one', async () => {
    for (const bad of ['prices.a\ud800', 'prices.a\udc00', 'prices.\udc00\ud800'])
      expect(() => validateSubject(bad), JSON.stringify(bad)).toThrow(/invalid token/);
    expect(() => validatePattern('prices.*.a\ud800')).toThrow(/invalid token/);
    expect(validateSubject('prices.a\ud83d\ude00')).toBe('prices.a\ud83d\ude00'); // a pair is one character

    const fete = await createFete({ topics, security: { auth: 'anonymous' }, store: sharedStore(), schema: freshSchema('p3') });
    stops.push(() => fete.stop());
    expect(await codeOf(fete.emit(topics.price, { symbol: 'a\ud800', price: 1 }))).toBe('INVALID_PAYLOAD');
    expect(await codeOf(fete.emit(topics.price, { symbol: 'a\udc00', price: 2 }))).toBe('INVALID_PAYLOAD');
    expect(await fete.latest('prices.*')).toEqual([]);
    // Well-formed text outside the BMP keeps its subject through the store.
    await fete.emit(topics.price, { symbol: 'a\ud83d\ude00', price: 3 });
    await fete.emit(topics.note, { id: 'n\ud83d\ude00' });
    expect((await fete.latest('prices.*')).map((v) => v.subject)).toEqual(['prices.a\ud83d\ude00']);
    for await (const page of fete.follow('notes.>', { from: 'earliest' })) {
      if (page.type !== 'events') continue;
      expect(page.events.map((e) => e.subject)).toEqual(['notes.n\ud83d\ude00']);
      break;
    }
  });

  it('a tenant with a NUL or a lone surrogate is a typed error, never a store outage or a shared tenant', async () => {
    const fete = await createFete({ topics, security: { auth: 'anonymous' }, store: sharedStore(), schema: freshSchema('p3') });
    stops.push(() => fete.stop());
    for (const tenant of ['acme\ud800', 'acme\u0000'])
      expect(await codeOf(fete.emit(topics.note, { id: 'n1' }, { tenant })), JSON.stringify(tenant)).toBe('INVALID_OPTIONS');
    expect(await codeOf(fete.latest('prices.*', { tenant: 'acme\udc00' }))).toBe('INVALID_OPTIONS');
    // Every API that takes a tenant from the app checks it in the same place: commands too (their
    // tenant keys the result ledger), and runInTenant.
    let ran = 0;
    fete.handle(ping, () => ++ran);
    expect(await codeOf(fete.execute(ping, {}, { tenant: 'acme\ud800' }))).toBe('INVALID_OPTIONS');
    expect(await codeOf(fete.execute(ping, {}, { tenant: 5 as never }))).toBe('INVALID_OPTIONS');
    expect(await codeOf(fete.commandResult(uuidv7(), { tenant: 'acme\ud800' }))).toBe('INVALID_OPTIONS');
    expect(ran).toBe(0);
    expect(await fete.execute(ping, {}, { tenant: 'acme' })).toBe(1);
    expect(() => runInTenant('acme\udc00', () => fete.emit(topics.note, { id: 'n2' }))).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }));

    // A tenant hook answering such a tenant (an org name a user chose) refuses that caller. HTTP
    // headers are Latin-1, so the token carries JSON escapes, as a JWT's claims would.
    const s = await startSecureServer({
      auth: ({ credentials }) => ({ id: 'ann', tenant: JSON.parse(String(credentials.token)) as string, secret: '' }),
      authorize: { emit: () => true },
      tenant: (u: User) => u.tenant,
    });
    stops.push(() => s.close());
    await s.fete.start();
    const refused = await postEmit(s.api, { topic: secureTopics.chat.name, payload: { room: 'r', n: 1 } }, bearer(JSON.stringify('acme\ud800')));
    expect(refused.json.error.code).toBe('INTERNAL');
    const ok = await postEmit(s.api, { topic: secureTopics.chat.name, payload: { room: 'r', n: 2 } }, bearer(JSON.stringify('acme')));
    expect(ok.status).toBe(200);
    expect((await fetch(`${s.api}/health`)).status).toBe(200); // no store outage reported
    const stored: number[] = [];
    for await (const page of s.fete.follow('chats.>', { from: 'earliest' })) {
      if (page.type === 'events') stored.push(...page.events.map((e) => (e.payload as { n: number }).n));
      break;
    }
    expect(stored).toEqual([2]);
  });

  it('a principal whose id holds a NUL or a lone surrogate is refused UNAUTHORIZED at every door', async () => {
    const s = await startSecureServer({
      auth: ({ credentials }) => ({ id: JSON.parse(String(credentials.token)) as string, tenant: 'acme', secret: '' }),
      authorize: { emit: () => true },
      tenant: (u: User) => u.tenant,
    });
    stops.push(() => s.close());
    for (const id of ['bob\ud800', 'bob\u0000']) {
      const token = JSON.stringify(id); // JSON escapes: HTTP headers are Latin-1
      const res = await postEmit(s.api, { topic: secureTopics.chat.name, payload: { room: 'r', n: 1 } }, bearer(token));
      expect(res.status, JSON.stringify(id)).toBe(401);
      expect(res.json.error.code).toBe('UNAUTHORIZED');
      const c = new RawClient(s.url, { token });
      const refusal = await c.refused();
      c.close();
      expect(refusal.data).toMatchObject({ code: 'UNAUTHORIZED' });
    }
    // Server code acting as such a principal gets a typed error too, not a store error.
    expect(await codeOf(runAs({ id: 'bob\udc00' }, () => s.fete.emit(secureTopics.chat, { room: 'r', n: 3 })))).toBe('INVALID_OPTIONS');
  });
});
