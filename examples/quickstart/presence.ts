// presence.ts: who is in a room. A connection subscribed to exactly `rooms.<id>.chat` is a member
// there, under the public id `security.publicId` gives its principal, with an optional state.
import { createClient } from 'fete/client';
import { createFete, type StoreOption } from 'fete/server';
import { defineTopic, defineTopics } from 'fete/shared';
import { z } from 'zod';

export const roomTopics = defineTopics({
  chat: defineTopic('rooms.{roomId}.chat', {
    kind: 'presentation',
    presence: true, // off unless declared: presence shows who is there
    schema: z.object({ roomId: z.string(), text: z.string() }),
  }),
});

type User = { id: string; handle: string; team: string };

// Server: the one security config says who a caller is, their tenant, and what others may see.
export function startRooms(users: Map<string, User>, store: StoreOption = 'postgres://localhost/app') {
  return createFete({
    topics: roomTopics,
    store, // every process on one PostgreSQL sees every member; PGlite: this process only
    security: {
      auth: ({ credentials }) => users.get(String(credentials.token)),
      tenant: (user) => user.team, // members are only ever listed to their own team
      publicId: (user) => user.handle, // never the internal id
    },
  });
}

// Browser: join a room with a state, and watch who is there (re-synced after every reconnect).
export function joinRoom(url: string, token: string, roomId: string, show: (who: string[]) => void) {
  const client = createClient({ url, topics: roomTopics, auth: () => ({ token }) });
  const room = client.subscribe(`rooms.${roomId}.chat`, () => undefined, { presence: { state: { typing: false } } });
  const members = client.presence(`rooms.${roomId}.chat`);
  const render = () => show(members.members.map((m) => `${m.id}${(m.state as { typing?: boolean } | undefined)?.typing ? ' (typing)' : ''}`));
  members.on('sync', render);
  members.on('join', render);
  members.on('update', render);
  members.on('leave', render);
  return { client, typing: (typing: boolean) => room.setPresence({ typing }) };
}
