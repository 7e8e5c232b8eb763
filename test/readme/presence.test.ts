// The README's presence example (examples/quickstart/presence.ts), run as written: two members of
// one team see each other with their state; a member of another team in the same room is not
// listed to them; a leave reaches the one who stays; a watcher over plain HTTP sees the same.
import 'fake-indexeddb/auto';
import { createServer } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fete } from '../../server/index.js';
import { joinRoom, roomTopics, startRooms, watchRoomOverHttp } from '../../examples/quickstart/presence.js';
import { waitFor } from '../support/wait.js';
import { closeHttp, listen } from '../support/http-server.js';

describe('examples/quickstart/presence.ts', () => {
  let fete: Fete<typeof roomTopics>;
  let http: ReturnType<typeof createServer>;
  let base: string;
  const users = new Map([
    ['t-ann', { id: 'u1', handle: 'ann', team: 'red' }],
    ['t-bob', { id: 'u2', handle: 'bob', team: 'red' }],
    ['t-eve', { id: 'u3', handle: 'eve', team: 'blue' }],
  ]);
  beforeAll(async () => {
    fete = await startRooms(users, 'memory');
    http = createServer(express().use('/fete', fete.express()));
    fete.attach(http);
    base = await listen(http);
  });
  afterAll(async () => {
    await fete.stop();
    await closeHttp(http);
  });

  it('members of one team see each other with their state, never another team, and see a leave', async () => {
    let annSees: string[] = [];
    let eveSees: string[] = [];
    const ann = joinRoom(base, 't-ann', 'r1', (who) => void (annSees = who));
    const eve = joinRoom(base, 't-eve', 'r1', (who) => void (eveSees = who));
    const bob = joinRoom(base, 't-bob', 'r1', () => undefined);
    try {
      await waitFor(() => annSees.join() === 'ann,bob', { what: 'ann sees ann and bob' });
      await bob.typing(true);
      await waitFor(() => annSees.join() === 'ann,bob (typing)', { what: 'bob typing' });
      expect(eveSees).toEqual(['eve']); // the same room, another tenant
      expect(JSON.stringify(await fete.presence('rooms.>', { tenant: 'red' }))).not.toMatch(/u1|u2/); // handles only
      await bob.client.close();
      await waitFor(() => annSees.join() === 'ann', { what: 'bob left' });
    } finally {
      await ann.client.close();
      await eve.client.close();
    }
  });

  it('watchRoomOverHttp lists the members of its own team over SSE, and sees them leave', async () => {
    let seen: string[] = [];
    const abort = new AbortController();
    const watching = watchRoomOverHttp(base, 't-bob', 'r2', (who) => void (seen = who), abort.signal);
    const ann = joinRoom(base, 't-ann', 'r2', () => undefined);
    const eve = joinRoom(base, 't-eve', 'r2', () => undefined);
    try {
      await waitFor(() => seen.join() === 'ann', { what: 'bob sees ann' });
      await ann.client.close();
      await waitFor(() => seen.length === 0, { what: 'ann left' });
    } finally {
      await eve.client.close();
      abort.abort();
      await watching;
    }
  });
});
