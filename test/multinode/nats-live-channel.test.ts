// The live channel over NATS (server/bus/nats-live-channel.ts) between two processes' connections
// on a NATS of the test's own: a message reaches the sender's handlers at once and the other
// process's over NATS, never the sender twice; other logs' messages never arrive; a message NATS
// cannot carry is refused with a typed error; a NATS restart is reported through onLost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../../server/bus/nats-connect.js';
import { createNatsLiveChannel } from '../../server/bus/nats-live-channel.js';
import type { LiveChannel, LiveMessage } from '../../server/bus/live-channel.js';
import { isFeteError } from '../../shared/index.js';
import { until } from '../realtime/support.js';
import { PrivateNats, canRunPrivateNats, natsAvailability } from './nats.js';

const avail = await natsAvailability();
if (avail.url && !canRunPrivateNats()) {
  if (process.env.CI === 'true') throw new Error('nats-server is not installed (FETE_NATS_SERVER), and CI=true');
  avail.skipReason = 'nats-server is not installed (set FETE_NATS_SERVER)';
}
if (avail.skipReason) console.log(`skipping the NATS live channel tests: ${avail.skipReason}`);

describe.skipIf(avail.skipReason !== undefined)('the live channel over NATS', () => {
  let nats: PrivateNats;
  const conns: NatsConnection[] = [];
  const channels: LiveChannel[] = [];
  let a: LiveChannel;
  let b: LiveChannel;
  let otherLog: LiveChannel;

  beforeAll(async () => {
    nats = await PrivateNats.start();
    const open = async (root: string) => {
      const nc = await connectNats(nats.url, 'test');
      conns.push(nc);
      const ch = createNatsLiveChannel(nc, { root });
      channels.push(ch);
      return ch;
    };
    [a, b, otherLog] = await Promise.all([open('fete.e1'), open('fete.e1'), open('fete.e2')]);
  });
  afterAll(async () => {
    for (const c of channels) await c.close();
    for (const nc of conns) await nc.close();
    await nats?.stop();
  });

  it('delivers to the sender at once and to the other process once, with tenant and subject', async () => {
    const atA: LiveMessage[] = [];
    const atB: LiveMessage[] = [];
    const atOther: LiveMessage[] = [];
    a.on('volatile', (m) => atA.push(m));
    b.on('volatile', (m) => atB.push(m));
    otherLog.on('volatile', (m) => atOther.push(m));
    await Promise.all(conns.map((nc) => nc.flush())); // the subscriptions are known to the server
    const message: LiveMessage = { kind: 'volatile', tenant: 'acme.eu', subject: 'cursors.doc-1', data: { x: 1, y: [2] } };
    const sent = a.publish(message);
    expect(atA).toEqual([message]); // synchronously, before NATS
    await sent;
    await until(() => atB.length === 1, 'the other process');
    expect(atB).toEqual([message]);
    await new Promise((r) => setTimeout(r, 100));
    expect(atA).toHaveLength(1); // never echoed back
    expect(atOther).toEqual([]); // another log's root
  });

  it('refuses a message larger than NATS carries, with a typed error', async () => {
    const big = { kind: 'latest' as const, tenant: '', subject: 'big.one', data: 'x'.repeat(2 * 1024 * 1024) };
    const err = await a.publish(big).catch((e: unknown) => e);
    expect(isFeteError(err)).toBe(true);
    expect(['LIVE_TOO_LARGE', 'TOO_LARGE']).toContain((err as { code: string }).code);
  });

  it('reports a NATS restart through onLost', async () => {
    let lost = 0;
    b.onLost(() => lost++);
    await nats.stop();
    await nats.start();
    await until(() => lost >= 2, 'disconnect and reconnect reported', 20_000);
    const atB: LiveMessage[] = [];
    b.on('presence', (m) => atB.push(m));
    await until(async () => {
      await conns[0]!.flush().catch(() => undefined);
      await a.publish({ kind: 'presence', tenant: '', subject: 'rooms.1', data: 'hi' });
      return atB.length > 0;
    }, 'a message after the restart', 20_000);
  });
});
