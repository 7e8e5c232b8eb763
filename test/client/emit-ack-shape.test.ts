// What the client takes as an emit ack off the network (client/wire.ts): a taken item carries a
// log seq, a latest version, or neither (volatile); never both, never a version below 1. An older
// server's `seq: 0` for a live topic is still taken (the receipt drops it: outbox.test.ts).
import { describe, expect, it } from 'vitest';
import { isEmitAck } from '../../client/wire.js';

const ack = (item: unknown) => ({ ok: true, results: [item] });

describe('the emit ack shape the client accepts', () => {
  it('takes a seq, a version or neither for an accepted or duplicate item', () => {
    expect(isEmitAck(ack({ id: 'a', status: 'accepted', seq: 4 }))).toBe(true);
    expect(isEmitAck(ack({ id: 'a', status: 'accepted', version: 1 }))).toBe(true);
    expect(isEmitAck(ack({ id: 'a', status: 'duplicate' }))).toBe(true);
    expect(isEmitAck(ack({ id: 'a', status: 'accepted', seq: 0 }))).toBe(true); // an older server's live item
    expect(isEmitAck(ack({ id: null, status: 'rejected', error: { code: 'FORBIDDEN', message: 'no' } }))).toBe(true);
  });

  it('refuses an item with both a seq and a version, a bad version, or no id', () => {
    expect(isEmitAck(ack({ id: 'a', status: 'accepted', seq: 4, version: 1 }))).toBe(false);
    expect(isEmitAck(ack({ id: 'a', status: 'accepted', version: 0 }))).toBe(false);
    expect(isEmitAck(ack({ id: 'a', status: 'accepted', version: 1.5 }))).toBe(false);
    expect(isEmitAck(ack({ id: 'a', status: 'duplicate', version: '2' }))).toBe(false);
    expect(isEmitAck(ack({ status: 'accepted', version: 1 }))).toBe(false);
  });
});
