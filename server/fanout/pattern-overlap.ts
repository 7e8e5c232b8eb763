// Whether two subject patterns can match a common subject, and the pattern of a topic by name:
// a resume on `orders.>` has a gap if retention pruned `orders.{orderId}.status` past its cursor,
// not if it pruned `audit.log`. Topics no longer in the catalogue still have their name (the
// template), so their pattern is derived from it the way defineTopic does.
import { type TopicCatalog, topicByName } from '../../shared/index.js';

/** NATS semantics: `*` is one token, `>` one or more trailing tokens. */
export function patternsOverlap(a: string, b: string): boolean {
  const x = a.split('.');
  const y = b.split('.');
  let i = 0;
  for (; i < x.length && i < y.length; i++) {
    const s = x[i]!;
    const t = y[i]!;
    // `>` takes every remaining token of the other side (one at least: this one).
    if (s === '>' || t === '>') return true;
    if (s !== '*' && t !== '*' && s !== t) return false;
  }
  // One ended: the other's next token (a literal, `*` or `>`) needs a token that is not there.
  return x.length === y.length;
}

/** The pattern of every subject of the topic named `name` (its template, parameters as `*`). */
export function topicPattern(catalog: TopicCatalog, name: string): string {
  return topicByName(catalog, name)?.pattern ?? name.split('.').map((t) => (/^\{.*\}$/.test(t) ? '*' : t)).join('.');
}
