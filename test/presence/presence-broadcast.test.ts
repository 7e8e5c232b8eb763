// The batching of presence changes to sockets (server/presence/presence-broadcast.ts), against a
// recording stand-in for a Socket.IO namespace.
import type { Namespace } from 'socket.io';
import { expect, test } from 'vitest';
import type { PresenceChange } from '../../shared/index.js';
import { PresenceBroadcast } from '../../server/presence/presence-broadcast.js';

function recorder() {
  const sent: Array<{ to: string[]; event: string; packet: unknown }> = [];
  const nsp = { local: { to: (to: string[]) => ({ emit: (event: string, packet: unknown) => void sent.push({ to, event, packet }) }) } };
  return { nsp: nsp as unknown as Namespace, sent };
}
const tick = () => new Promise((r) => setImmediate(r));
const change = (id: string, type: PresenceChange['type'] = 'join'): PresenceChange => ({ type, member: { subject: 'rooms.r1.chat', id, connections: 1, state: undefined } });

test('watches that took the same changes under the same wid share one packet, each watch gets its changes in order, ended watches get none', async () => {
  const { nsp, sent } = recorder();
  const b = new PresenceBroadcast(nsp);
  const t = (socketId: string, wid: string, ended = false) => ({ socketId, wid, ended });
  const [a, bb, c, d, gone] = [t('a', 'w0'), t('b', 'w0'), t('c', 'w0'), t('d', 'w1'), t('e', 'w0', true)];
  const alice = change('@alice');
  const bob = change('@bob');
  for (const target of [a, bb, c, d, gone]) b.push(target, alice);
  for (const target of [a, bb, d, gone]) b.push(target, bob);
  await tick();
  expect(sent).toEqual([
    { to: ['a', 'b'], event: 'pev', packet: { wid: 'w0', changes: [alice, bob] } },
    { to: ['c'], event: 'pev', packet: { wid: 'w0', changes: [alice] } },
    { to: ['d'], event: 'pev', packet: { wid: 'w1', changes: [alice, bob] } },
  ]);
  b.push(a, change('@alice', 'leave'));
  await tick();
  expect(sent).toHaveLength(4);
  expect(sent[3]).toMatchObject({ to: ['a'], packet: { wid: 'w0', changes: [{ type: 'leave' }] } });
});
