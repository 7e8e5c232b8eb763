// Events leave by kind: the one rule for what may reach a browser. Only `presentation` topics and
// topics declared `expose: true` are sent, by Socket.IO or SSE, live or replayed, and only to
// callers of the event's tenant. Both doors admit a subscription with `admitPattern` and pass each
// event through `visible`: every replay through follow()'s `visible` option (log/follow.ts, the
// one cursor loop), live events of sockets and SSE streams alike in the node tail's routing
// (fanout/node-tail.ts).
import { type AnyTopic, type Envelope, FeteError, type TopicCatalog } from '../../shared/index.js';
import { patternsOverlap } from '../fanout/pattern-overlap.js';
import { tenantOf } from './tenant.js';

/** Whether a topic's events may leave the server for a browser. */
export function isExposed(topic: AnyTopic): boolean {
  return topic.kind === 'presentation' || topic.expose === true;
}

/** The exposure rule of one catalogue (the topic lookups are done once here). */
export class Exposure {
  readonly #catalog: TopicCatalog;
  readonly #exposed: ReadonlySet<string>;

  constructor(catalog: TopicCatalog) {
    this.#catalog = catalog;
    this.#exposed = new Set(Object.values(catalog).filter(isExposed).map((t) => t.name));
  }

  /** Whether events of the topic named `name` may leave (a topic no longer in the catalogue may not). */
  exposes(name: string): boolean {
    return this.#exposed.has(name);
  }

  /**
   * Refuses (FORBIDDEN) a subscription whose pattern can match no exposed topic: it could only
   * ever receive nothing, which is a mistake worth a clear answer. The message names the topics the
   * pattern could match, so the app sees which one needs `expose: true`.
   */
  admitPattern(pattern: string): void {
    const overlapping = Object.values(this.#catalog).filter((t) => patternsOverlap(pattern, t.pattern));
    if (overlapping.some(isExposed)) return;
    const names = overlapping.map((t) => `${t.name} (${t.kind})`);
    throw new FeteError(
      'FORBIDDEN',
      names.length === 0
        ? `pattern "${pattern}" matches no topic of the catalogue`
        : `pattern "${pattern}" matches no topic exposed to browsers; it could match ${names.join(', ')}: only presentation topics and topics declared expose: true are sent to browsers`,
      { details: { pattern, topics: overlapping.map((t) => t.name) } },
    );
  }

  /** Whether `e` may be sent to a browser caller of `tenant`: an exposed topic, the same tenant. */
  visible(e: Envelope, tenant: string): boolean {
    return this.#exposed.has(e.topic) && tenantOf(e) === tenant;
  }
}

/** The Exposure of a catalogue, built once per catalogue. */
const cache = new WeakMap<TopicCatalog, Exposure>();
export function exposureOf(catalog: TopicCatalog): Exposure {
  let x = cache.get(catalog);
  if (!x) {
    x = new Exposure(catalog);
    cache.set(catalog, x);
  }
  return x;
}
