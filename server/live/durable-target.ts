// Durable listeners read the log: a topic that is not in it (`volatile`, `latest`) has nothing for
// them, so registering one there is a mistake refused at `fete.on` (and at the type level by
// `ListenerOptionsFor`). Non-durable listeners (`{ durable: false }`, and every listener under
// `dispatch: 'inline'`) do run on live events: in the emitting process, after the publish (or the
// upsert), with in-memory retries, like after a log commit. A durable pattern listener receives
// the log topics its pattern matches; a pattern that matches only live topics is refused.
import { type AnyTopic, FeteError, type TopicCatalog, patternsOverlap } from '../../shared/index.js';

export function assertDurableTarget(catalog: TopicCatalog, topic: AnyTopic | undefined, pattern: string | undefined, name: string): void {
  if (topic !== undefined) {
    if (topic.delivery === 'log') return;
    throw new FeteError(
      'INVALID_OPTIONS',
      `listener "${name}": topic "${topic.name}" has delivery '${topic.delivery}', so its events are not in the log and a durable listener would never get one; register it with { durable: false } (runs in the emitting process)`,
      { details: { topic: topic.name, name, delivery: topic.delivery } },
    );
  }
  if (pattern === undefined) return;
  const matching = Object.values(catalog).filter((t) => patternsOverlap(pattern, t.pattern));
  if (matching.length === 0 || matching.some((t) => t.delivery === 'log')) return;
  throw new FeteError(
    'INVALID_OPTIONS',
    `listener "${name}": pattern "${pattern}" matches only topics that are not in the log (${matching.map((t) => `${t.name}: ${t.delivery}`).join(', ')}); register it with { durable: false }`,
    { details: { pattern, name } },
  );
}
