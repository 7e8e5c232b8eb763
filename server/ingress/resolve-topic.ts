// A topic argument (a topic object or its name) resolved against the catalogue: the first step of
// a server emit, and how listeners name their topic. Depends on shared/ only (no import circles).
import { type AnyTopic, FeteError, type TopicCatalog, topicByName } from '../../shared/index.js';

/** The catalogue's topic for `topic` (a topic object or its name), or UNKNOWN_TOPIC. */
export function resolveTopic(catalog: TopicCatalog, topic: AnyTopic | string): AnyTopic {
  const name = typeof topic === 'string' ? topic : topic?.name;
  const found = typeof name === 'string' ? topicByName(catalog, name) : undefined;
  if (!found) throw new FeteError('UNKNOWN_TOPIC', `topic ${JSON.stringify(name)} is not in the catalogue`, { details: { topic: name } });
  return found;
}
