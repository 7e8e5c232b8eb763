// The client's presence watches (client/presence.ts) against a scripted transport: what reaches
// the app from untrusted packets, and how a reconnect's snapshot is merged.
import { expect, test } from 'vitest';
import { PresenceWatches } from '../../client/presence.js';
import type { Transport } from '../../client/transport.js';
import type { FeteError, PresenceMember, PresenceWatchAck, PresenceWatchPacket } from '../../shared/index.js';

const m = (id: string, connections = 1, subject = 'rooms.r1.chat'): PresenceMember => ({ subject, id, connections, state: undefined });

function setup() {
  const acks: Array<{ packet: PresenceWatchPacket; answer: (a: PresenceWatchAck) => void }> = [];
  let connected = true;
  const transport = {
    get connected() {
      return connected;
    },
    pwatch: (packet: PresenceWatchPacket) => new Promise<PresenceWatchAck>((answer) => acks.push({ packet, answer })),
    punwatch: () => undefined,
  } as unknown as Transport;
  const errors: FeteError[] = [];
  const watches = new PresenceWatches({ transport, ackTimeoutMs: 1000, retry: { initialDelayMs: 10, maxDelayMs: 10 }, onError: (e) => void errors.push(e) });
  return { watches, acks, errors, setConnected: (c: boolean) => (connected = c) };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

test('changes before the snapshot, malformed packets and subjects outside the pattern never reach the app', async () => {
  const { watches, acks, errors } = setup();
  const view = watches.watch('rooms.*.chat');
  const seen: string[] = [];
  view.on('join', (x) => void seen.push(`join ${x.id}`));
  view.on('leave', (x) => void seen.push(`leave ${x.id}`));
  watches.pev({ wid: acks[0]!.packet.wid, changes: [{ type: 'join', member: m('@early') }] }); // before the ack: ignored
  acks[0]!.answer({ ok: true, members: [m('@alice')] });
  await view.ready;
  expect(seen).toEqual(['join @alice']);
  watches.pev({ wid: acks[0]!.packet.wid, changes: [{ type: 'join', member: { id: 1 } }] });
  watches.pev({ wid: acks[0]!.packet.wid, changes: [{ type: 'join', member: m('@spy', 1, 'vault.x') }] });
  watches.pev(null);
  expect(errors.map((e) => e.code)).toEqual(['MALFORMED', 'MALFORMED', 'MALFORMED']);
  watches.pev({ wid: acks[0]!.packet.wid, changes: [{ type: 'join', member: m('@bob') }, { type: 'leave', member: m('@alice', 0) }] });
  expect(seen).toEqual(['join @alice', 'join @bob', 'leave @alice']);
  expect(view.members.map((x) => x.id)).toEqual(['@bob']);
});

test('a reconnect snapshot replaces the list: leave for the gone, join for the new, update for the changed, nothing for the same', async () => {
  const { watches, acks, setConnected } = setup();
  const view = watches.watch('rooms.>');
  acks[0]!.answer({ ok: true, members: [m('@a'), m('@b'), m('@c')] });
  await view.ready;
  const seen: string[] = [];
  for (const type of ['join', 'leave', 'update'] as const) view.on(type, (x) => void seen.push(`${type} ${x.id}x${x.connections}`));
  const synced: string[][] = [];
  view.on('sync', (all) => void synced.push(all.map((x) => x.id)));
  setConnected(false);
  watches.disconnected();
  expect(view.live).toBe(false);
  setConnected(true);
  watches.connected();
  expect(acks).toHaveLength(2);
  acks[1]!.answer({ ok: true, members: [m('@a'), m('@b', 2), m('@d')] });
  await flush();
  expect(seen.sort()).toEqual(['join @dx1', 'leave @cx0', 'update @bx2']);
  expect(synced).toEqual([['@a', '@b', '@d']]);
  expect(view.live).toBe(true);
});

test('a refusal for good ends the view and rejects ready; a retryable one is retried', async () => {
  const { watches, acks } = setup();
  const refused = watches.watch('lobby.*');
  acks[0]!.answer({ ok: false, error: { code: 'FORBIDDEN', message: 'no' } });
  await expect(refused.ready).rejects.toMatchObject({ code: 'FORBIDDEN' });
  expect(refused.closed).toBe(true);
  const busy = watches.watch('rooms.*.chat');
  acks[1]!.answer({ ok: false, error: { code: 'TIMEOUT', message: 'later' } });
  await new Promise((r) => setTimeout(r, 50));
  expect(acks).toHaveLength(3);
  acks[2]!.answer({ ok: true, members: [] });
  await busy.ready;
  expect(busy.live).toBe(true);
});
