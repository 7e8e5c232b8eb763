// The topic catalogue of the presence tests, imported by the test servers and by the browser page
// (presence-page.ts) alike: one room topic with presence, one exposed topic without.
import { z } from 'zod';
import { defineTopic, defineTopics } from '../../shared/index.js';

export const topics = defineTopics({
  chat: defineTopic('rooms.{room}.chat', { kind: 'presentation', presence: true, schema: z.object({ room: z.string(), text: z.string() }) }),
  lobby: defineTopic('lobby.{room}', { kind: 'presentation', schema: z.object({ room: z.string() }) }),
});
export type Topics = typeof topics;
