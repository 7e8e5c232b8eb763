// The fanout's per-socket frames (server/fanout/ev-frame.ts) are byte for byte what Socket.IO's own
// encoder makes of the same `ev` / `evs` packet, so a client cannot tell them apart.
import { Encoder, PacketType } from 'socket.io-parser';
import { describe, expect, it } from 'vitest';
import { createEnvelope, defineTopic, toWireEnvelope } from '../../shared/index.js';
import { evFrame } from '../../server/fanout/ev-frame.js';
import { eventsPacket } from '../../server/fanout/fanout-core.js';

const topic = defineTopic('orders.{orderId}.status', { kind: 'presentation' });

function wire(i: number) {
  const e = createEnvelope(topic, { orderId: `o-${i}`, note: 'quote " backslash \\ unicode é \u2028', at: new Date(0), big: 10n ** 20n } as never);
  return toWireEnvelope({ ...e, seq: i });
}

function socketIoEncoding(namespace: string, sid: string, events: ReturnType<typeof wire>[]): string {
  const [event, packet] = eventsPacket(sid, events);
  const encoded = new Encoder().encode({ type: PacketType.EVENT, nsp: namespace, data: [event, packet] });
  expect(encoded).toHaveLength(1);
  return encoded[0] as string;
}

describe('per-socket ev frames', () => {
  it('an ev frame of one event equals the encoding of socket.emit("ev", { sid, e })', () => {
    const e = wire(1);
    expect(evFrame('/fete', 's0', [JSON.stringify(e)])).toBe(socketIoEncoding('/fete', 's0', [e]));
  });

  it('an evs frame of several events equals the encoding of socket.emit("evs", { sid, es }), for any sid', () => {
    const es = [wire(1), wire(2), wire(3)];
    for (const sid of ['s1', 'a "quoted" sid', 'é\u2028']) expect(evFrame('/fete', sid, es.map((e) => JSON.stringify(e)))).toBe(socketIoEncoding('/fete', sid, es));
  });

  it('the root namespace has no namespace part, as in Socket.IO', () => {
    const e = wire(4);
    expect(evFrame('/', 's0', [JSON.stringify(e)])).toBe(socketIoEncoding('/', 's0', [e]));
  });
});
