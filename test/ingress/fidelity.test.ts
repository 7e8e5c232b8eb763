// Issue 9, class 3: values never change in transit. A value the codec cannot carry unchanged is
// refused at emit with INVALID_PAYLOAD naming its path, on every server door and in the browser;
// the same values built by hostile superjson meta over Socket.IO and HTTP are refused the same
// way. (What the codec does carry is checked at four receivers by fidelity-property.test.ts.)
import { describe, expect, test } from 'vitest';
import { FeteError, MAX_PAYLOAD_DEPTH, assertEncodable } from '../../shared/index.js';
import { RawClient, until } from '../realtime/support.js';
import { browserClient, rawEnvelope, topics, useEngines } from './harness.js';

const [pglite] = useEngines();

function cycle() {
  const root: { posts: Array<{ author: unknown }> } = { posts: [{ author: null }] };
  root.posts[0]!.author = root;
  return root;
}
function nested(depth: number): unknown {
  let v: unknown = 'leaf';
  for (let i = 0; i < depth; i++) v = { d: v };
  return v;
}

/** Payloads that would arrive changed, and the path each refusal must name. */
const unsendable: Array<{ what: string; payload: () => unknown; path: Array<string | number> }> = [
  { what: 'an invalid Date (arrived as null)', payload: () => ({ at: new Date('x') }), path: ['at'] },
  { what: 'a cycle (arrived cut, posts[0].author === null)', payload: cycle, path: ['posts', 0, 'author'] },
  { what: 'a sparse array hole (arrived as null)', payload: () => ({ list: [1, , 3] }), path: ['list', 1] },
  { what: 'a function (dropped)', payload: () => ({ f: () => 1 }), path: ['f'] },
  { what: 'a symbol (dropped)', payload: () => ({ s: Symbol('x') }), path: ['s'] },
  { what: 'a symbol key (dropped)', payload: () => ({ [Symbol('k')]: 1 }), path: [] },
  { what: 'a class instance (arrived as a plain object)', payload: () => ({ p: new (class Point { x = 1 })() }), path: ['p'] },
  { what: 'a getter (arrived as its value of the moment)', payload: () => ({ get g() { return 1; } }), path: ['g'] },
  { what: 'an Error (arrived without its stack and class)', payload: () => ({ e: new TypeError('x') }), path: ['e'] },
  { what: 'a typed array (refused by every decoder)', payload: () => ({ b: new Uint8Array([1]) }), path: ['b'] },
  { what: 'a RegExp', payload: () => ({ r: /x/g }), path: ['r'] },
  { what: 'a boxed primitive', payload: () => ({ n: Object(1) as unknown }), path: ['n'] },
  { what: 'an array with an extra property (dropped)', payload: () => ({ a: Object.assign([1], { extra: 1 }) }), path: ['a'] },
  { what: 'a non-enumerable property (dropped)', payload: () => ({ o: Object.defineProperty({}, 'hidden', { value: 1, enumerable: false }) }), path: ['o', 'hidden'] },
  { what: 'an invalid Date as a Map key', payload: () => ({ m: new Map([[new Date('x'), 1]]) }), path: ['m', '0:key'] },
  { what: 'an undefined hole inside a Set entry array', payload: () => ({ s: new Set([[1, , 2]]) }), path: ['s', '0', 1] },
  { what: 'nesting deeper than every receiver decodes', payload: () => nested(MAX_PAYLOAD_DEPTH + 5), path: Array(MAX_PAYLOAD_DEPTH + 1).fill('d') },
];

describe('refused at emit with INVALID_PAYLOAD naming the path', () => {
  test.each(unsendable)('$what: fete.emit, emitMany, tx.emit and client.emit all refuse it', async ({ payload, path }) => {
    const server = await pglite!.start();
    const { fete } = server;
    const head = await fete.log.head();
    const client = browserClient(server.origin, topics);
    const errors: unknown[] = [];
    const capture = async (p: () => Promise<unknown>) => {
      try {
        await p();
        errors.push(new Error('accepted'));
      } catch (err) {
        errors.push(err);
      }
    };
    try {
      await capture(() => fete.emit(topics.anything, payload()));
      await capture(() => fete.emitMany([{ topic: topics.anything, payload: payload() }]));
      await capture(() => fete.transaction(async (tx) => tx.emit(topics.anything, payload())));
      await capture(() => client.emit(topics.anything, payload()));
    } finally {
      await client.close();
    }
    for (const err of errors) {
      expect(err).toBeInstanceOf(FeteError);
      expect(err).toMatchObject({ code: 'INVALID_PAYLOAD', retryable: false, details: { path } });
    }
    expect(await fete.log.head()).toBe(head);
  });

  test('a shared subtree (the same Date or object twice, no cycle) is carried, not refused', () => {
    const at = new Date(0);
    const tag = { name: 't' };
    expect(() => assertEncodable({ createdAt: at, updatedAt: at, tags: [tag, tag], byKey: new Map([['a', tag]]) })).not.toThrow();
  });

  test('z.instanceof(Date) with an invalid Date is refused at emit instead of arriving as null', async () => {
    const server = await pglite!.start();
    await expect(server.fete.emit(topics.when, { id: 'w', at: new Date('nope') })).rejects.toMatchObject({
      code: 'INVALID_PAYLOAD',
      details: { path: ['at'] },
    });
  });
});

describe('hostile superjson meta over Socket.IO and HTTP', () => {
  /** The ack of one raw envelope over Socket.IO and the answer of POST /fete/emit (superjson form). */
  async function bothDoors(topic: string, payloadJson: string, meta: string) {
    const server = await pglite!.start();
    const raw = new RawClient(server.origin);
    await raw.connected();
    const ack = await raw.emit([rawEnvelope(topic, payloadJson, meta)]);
    raw.close();
    const text = rawEnvelope(topic, payloadJson, meta);
    const res = await fetch(`${server.url}/emit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
    const body = (await res.json()) as { error?: { code: string; message: string } };
    return { socket: ack.ok ? ack.results[0] : ack, http: { status: res.status, error: body.error } };
  }

  test('an invalid Date made by meta is refused with INVALID_PAYLOAD at the path, not stored as null', async () => {
    const { socket, http } = await bothDoors(topics.when.name, '{"id":"w","at":"not a date"}', '{"values":{"payload.at":["Date"]},"v":1}');
    expect(socket).toMatchObject({ status: 'rejected', error: { code: 'INVALID_PAYLOAD' } });
    expect(http).toMatchObject({ status: 400, error: { code: 'INVALID_PAYLOAD' } });
    expect(http.error!.message).toContain('at');
  });

  test('a cycle made by referentialEqualities is refused with INVALID_PAYLOAD, not cut', async () => {
    const { socket, http } = await bothDoors(topics.anything.name, '{"self":null}', '{"referentialEqualities":{"payload":["payload.self"]},"v":1}');
    expect(socket).toMatchObject({ status: 'rejected', error: { code: 'INVALID_PAYLOAD' } });
    expect(http).toMatchObject({ status: 400, error: { code: 'INVALID_PAYLOAD' } });
  });

  test('-0 in a plain JSON POST arrives as -0 (no superjson round trip on the way in)', async () => {
    const server = await pglite!.start();
    const heard: unknown[] = [];
    server.fete.log.onCommit((events) => void heard.push(...events.map((e) => e.payload)));
    const res = await fetch(`${server.url}/emit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"topic":"any.value","payload":{"z":-0}}' });
    expect(res.status).toBe(200);
    await until(() => heard.length === 1, 'the commit');
    expect(Object.is((heard[0] as { z: number }).z, -0)).toBe(true);
  });
});
