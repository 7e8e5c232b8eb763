// Issue 9, class 6: decoding is bounded by the input's size and runs after authorization. A topic
// the sender may not emit, or one not in the catalogue, is refused before its payload is revived;
// references into a Set are resolved without walking the Set; an object graph that would expand
// exponentially when encoded is refused at the door. (Time per KB is in `npm run bench -- codec`.)
import { describe, expect, test } from 'vitest';
import { decodeValue } from '../../shared/codec.js';
import { RawClient } from '../realtime/support.js';
import { rawEnvelope, topics, useEngines, type IngressServer } from './harness.js';

const [pglite] = useEngines();

/** A payload meta the reviver refuses (an annotation fete does not carry): a door that answers
 * anything but MALFORMED for it has not decoded the payload. */
const UNDECODABLE = '{"values":{"payload.x":["regexp"]},"v":1}';

async function overSocket(server: IngressServer, text: string) {
  const raw = new RawClient(server.origin);
  await raw.connected();
  try {
    const ack = await raw.emit([text]);
    return ack.ok ? ack.results[0]! : ack;
  } finally {
    raw.close();
  }
}
async function overHttp(server: IngressServer, text: string) {
  const res = await fetch(`${server.url}/emit`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
  return { status: res.status, ...((await res.json()) as { error?: { code: string } }) };
}

/** The hostile payload meta: N referential equalities pointing into a Set of N entries. */
function setReferences(n: number): { payload: string; meta: string } {
  const s = Array.from({ length: n }, () => '{}').join(',');
  const r = Array.from({ length: n }, () => 'null').join(',');
  const refs = Array.from({ length: n }, (_, i) => `"payload.s.${i}":["payload.r.${i}"]`).join(',');
  return { payload: `{"s":[${s}],"r":[${r}]}`, meta: `{"values":{"payload.s":["set"]},"referentialEqualities":{${refs}},"v":1}` };
}

describe('authorization before decoding', () => {
  test('a topic clients may not emit is refused FORBIDDEN before its payload is decoded, over Socket.IO and HTTP', async () => {
    const server = await pglite!.start();
    const text = rawEnvelope(topics.internal.name, '{"x":"/a/"}', UNDECODABLE);
    expect(await overSocket(server, text)).toMatchObject({ status: 'rejected', error: { code: 'FORBIDDEN' } });
    expect(await overHttp(server, text)).toMatchObject({ status: 403, error: { code: 'FORBIDDEN' } });
  });

  test('a topic not in the catalogue is refused UNKNOWN_TOPIC before its payload is decoded', async () => {
    const server = await pglite!.start();
    const text = rawEnvelope('no.such.topic', '{"x":"/a/"}', UNDECODABLE);
    expect(await overSocket(server, text)).toMatchObject({ status: 'rejected', error: { code: 'UNKNOWN_TOPIC' } });
    expect(await overHttp(server, text)).toMatchObject({ status: 404, error: { code: 'UNKNOWN_TOPIC' } });
  });

  test('the same payload on a topic the sender may emit is decoded, and refused MALFORMED', async () => {
    const server = await pglite!.start();
    const text = rawEnvelope(topics.anything.name, '{"x":"/a/"}', UNDECODABLE);
    expect(await overSocket(server, text)).toMatchObject({ status: 'rejected', error: { code: 'MALFORMED' } });
  });
});

describe('decode work bounded by the input', () => {
  test('N references into a Set of N entries resolve without walking the Set once per reference', () => {
    const n = 2000;
    const { payload, meta } = setReferences(n);
    const text = `{"json":${payload},"meta":${meta.replaceAll('payload.', '')}}`;
    // superjson's deserialize walks the Set to the i-th entry for each reference: N iterator
    // walks, N^2/2 steps. Count every Set iteration made while decoding.
    const proto = Set.prototype as unknown as Record<string | symbol, (...a: unknown[]) => unknown>;
    const originals = { keys: proto.keys!, values: proto.values!, iterator: proto[Symbol.iterator]!, forEach: proto.forEach! };
    let walks = 0;
    const counting = (f: (...a: unknown[]) => unknown) =>
      function (this: unknown, ...a: unknown[]) {
        walks++;
        return f.apply(this, a);
      };
    let decoded: { s: Set<unknown>; r: unknown[] };
    try {
      proto.keys = counting(originals.keys);
      proto.values = counting(originals.values);
      proto[Symbol.iterator] = counting(originals.iterator);
      proto.forEach = counting(originals.forEach);
      decoded = decodeValue(text) as { s: Set<unknown>; r: unknown[] };
    } finally {
      proto.keys = originals.keys;
      proto.values = originals.values;
      proto[Symbol.iterator] = originals.iterator;
      proto.forEach = originals.forEach;
    }
    expect(walks).toBe(0);
    expect(decoded.s.size).toBe(n);
    const entries = [...decoded.s];
    decoded.r.forEach((ref, i) => expect(ref).toBe(entries[i]));
  });

  test('the hostile envelope is admitted over Socket.IO with its shared references, and the next client is answered', async () => {
    const server = await pglite!.start();
    const { payload, meta } = setReferences(5000);
    expect(await overSocket(server, rawEnvelope(topics.anything.name, payload, meta))).toMatchObject({ status: 'accepted' });
    expect(await overSocket(server, rawEnvelope(topics.anything.name, '{"next":1}'))).toMatchObject({ status: 'accepted' });
  });

  test('a small envelope whose references expand exponentially is refused TOO_LARGE at the door, not encoded', async () => {
    const server = await pglite!.start();
    // n0 = [n1, n1], n1 = [n2, n2], ... : 40 levels, 2^40 leaves once written out in full.
    const levels = 40;
    const nodes = Array.from({ length: levels }, (_, i) => `"n${i}":${i === levels - 1 ? '[1,1]' : '[null,null]'}`).join(',');
    const refs = Array.from({ length: levels - 1 }, (_, i) => `"payload.n${i + 1}":["payload.n${i}.0","payload.n${i}.1"]`).join(',');
    const text = rawEnvelope(topics.anything.name, `{${nodes}}`, `{"referentialEqualities":{${refs}},"v":1}`);
    expect(text.length).toBeLessThan(5000);
    expect(await overSocket(server, text)).toMatchObject({ status: 'rejected', error: { code: 'TOO_LARGE' } });
    expect(await overHttp(server, text)).toMatchObject({ status: 413, error: { code: 'TOO_LARGE' } });
    expect(await overSocket(server, rawEnvelope(topics.anything.name, '{"after":1}'))).toMatchObject({ status: 'accepted' });
  });
});
