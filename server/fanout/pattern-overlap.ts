// Whether two subject patterns can match a common subject, and the pattern of a topic by name:
// a resume on `orders.>` has a gap if retention pruned `orders.{orderId}.status` past its cursor,
// not if it pruned `audit.log`. Topics no longer in the catalogue still have their name (the
// template), so their pattern is derived from it the way defineTopic does.
import { type TopicCatalog, topicByName } from '../../shared/index.js';

/** NATS semantics: `*` is one token, `>` one or more trailing tokens (one implementation, in shared/). */
export { patternsOverlap } from '../../shared/pattern-overlap.js';

/** The pattern of every subject of the topic named `name` (its template, parameters as `*`). */
export function topicPattern(catalog: TopicCatalog, name: string): string {
  return topicByName(catalog, name)?.pattern ?? name.split('.').map((t) => (/^\{.*\}$/.test(t) ? '*' : t)).join('.');
}
