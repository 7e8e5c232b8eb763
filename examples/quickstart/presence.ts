// presence.ts: who is in a room. A connection subscribed to exactly `rooms.<id>.chat` is a member
// there, under the public id `security.publicId` gives its principal, with an optional state.
import { createClient } from 'fete/client';
import { createFete, type StoreOption } from 'fete/server';
import { defineTopic, defineTopics, type PresenceMember } from 'fete/shared';
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

// Without the SDK (a script, a mobile app, EventSource): GET /fete/presence with
// `Accept: text/event-stream` sends a `snapshot` of the members, then each `join`, `update` and
// `leave` (JSON data, as the socket's presence packets); a reconnect gets a new snapshot. Without
// that Accept header, the same URL answers the members once as JSON: { members }.
export async function watchRoomOverHttp(base: string, token: string, roomId: string, show: (who: string[]) => void, signal: AbortSignal) {
  const res = await fetch(`${base}/fete/presence?pattern=rooms.${roomId}.chat`, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` },
    signal,
  });
  if (res.status !== 200) throw new Error(`presence refused: ${res.status} ${await res.text()}`);
  const members = new Map<string, PresenceMember>(); // by id: one subject, one entry per member
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const lines = buffer.slice(0, end).split('\n');
        buffer = buffer.slice(end + 2);
        const event = lines.find((line) => line.startsWith('event: '))?.slice('event: '.length);
        const data = lines.find((line) => line.startsWith('data: '))?.slice('data: '.length);
        if (event === undefined || data === undefined) continue; // retry: / : ping
        if (event === 'snapshot') {
          members.clear();
          for (const m of (JSON.parse(data) as { members: PresenceMember[] }).members) members.set(m.id, m);
        } else {
          const { type, member } = JSON.parse(data) as { type: 'join' | 'update' | 'leave'; member: PresenceMember };
          if (type === 'leave') members.delete(member.id);
          else members.set(member.id, member);
        }
        show([...members.keys()].sort());
      }
    }
  } catch (err) {
    if (!signal.aborted) throw err; // aborted: the caller stopped watching
  }
}
