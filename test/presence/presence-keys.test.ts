// Tenants and public ids are the app's strings and may hold any character, newlines included: a
// member of one tenant must never be counted as (or hide) a member of another. The hub keyed its
// members by `tenant\nsubject\nmember`, so a tenant and a public id with newlines could name
// another tenant's member: the second connection joined the first one's member, in its tenant.
import { createServer } from 'node:http';
import { io } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { createFete } from '../../server/index.js';
import { topics } from './catalogue.js';
import { closeHttp, listen } from '../support/http-server.js';

type User = { tenant: string; handle: string };
const users: Record<string, User> = {
  one: { tenant: 'a', handle: 'x\nrooms.r2.chat\ny' },
  two: { tenant: 'a\nrooms.r1.chat\nx', handle: 'y' },
};

describe('presence keys', () => {
  it('a tenant and a public id holding newlines never name another tenant’s member', async () => {
    const fete = await createFete({
      topics,
      store: 'memory',
      logger: false,
      security: { auth: ({ credentials }) => users[String(credentials.token)], tenant: (u: User) => u.tenant, publicId: (u: User) => u.handle },
    });
    const http = createServer();
    fete.attach(http);
    const url = `${await listen(http)}/fete`;
    const sockets = ['one', 'two'].map((token) => io(url, { forceNew: true, transports: ['websocket'], reconnection: false, auth: { token } }));
    try {
      await Promise.all(sockets.map((c) => new Promise<void>((r) => c.once('connect', () => r()))));
      expect(await sockets[0]!.timeout(10_000).emitWithAck('sub', { sid: 's', pattern: 'rooms.r1.chat', from: 'latest' })).toMatchObject({ ok: true });
      expect(await sockets[1]!.timeout(10_000).emitWithAck('sub', { sid: 's', pattern: 'rooms.r2.chat', from: 'latest' })).toMatchObject({ ok: true });
      expect(await fete.presence('rooms.>', { tenant: 'a' })).toEqual([{ subject: 'rooms.r1.chat', id: 'x\nrooms.r2.chat\ny', connections: 1, state: undefined }]);
      expect(await fete.presence('rooms.>', { tenant: 'a\nrooms.r1.chat\nx' })).toEqual([{ subject: 'rooms.r2.chat', id: 'y', connections: 1, state: undefined }]);
    } finally {
      for (const c of sockets) c.close();
      await fete.stop({ drain: false });
      await closeHttp(http);
    }
  });
});
