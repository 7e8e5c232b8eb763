// Type tests for presence: `presence: true` is kept as a literal by defineTopic, and the client's
// `presence(pattern)` accepts only patterns that can match a topic declaring it.
import { describe, expectTypeOf, test } from 'vitest';
import { createClient, defineTopic, defineTopics, type PresenceMember, type PresenceState, type PresenceView } from '../../client/index.js';

const topics = defineTopics({
  chat: defineTopic('rooms.{roomId}.chat', { kind: 'presentation', presence: true }),
  feed: defineTopic('feed.{id}', { kind: 'presentation' }),
});
const client = createClient({ url: 'http://localhost', topics, outbox: 'memory' });

describe('presence types', () => {
  test('defineTopic keeps presence as a literal', () => {
    expectTypeOf(topics.chat.presence).toEqualTypeOf<true>();
    expectTypeOf(topics.feed.presence).toEqualTypeOf<false>();
  });

  test('client.presence takes patterns of presence topics only, and gives a typed view', () => {
    expectTypeOf(client.presence('rooms.*.chat')).toEqualTypeOf<PresenceView>();
    expectTypeOf(client.presence('rooms.r1.chat').members).toEqualTypeOf<PresenceMember[]>();
    expectTypeOf(client.presence('>')).toEqualTypeOf<PresenceView>();
    // @ts-expect-error feed.* declares no presence
    client.presence('feed.*');
    // @ts-expect-error not a valid pattern
    client.presence('rooms..chat');
  });

  test('subscribe takes a presence state, and sub.setPresence a JSON state', () => {
    const sub = client.subscribe('rooms.r1.chat', () => undefined, { presence: { state: { typing: true, at: [1, 2] } } });
    expectTypeOf(sub.setPresence).parameter(0).toEqualTypeOf<PresenceState>();
    // @ts-expect-error a Date is not JSON
    void sub.setPresence(new Date());
  });
});
