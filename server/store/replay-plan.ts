// How a log read for a pattern finds its events through an index instead of every row: from the
// pattern and the catalogue, the topics whose templates the pattern can match (`topic = ANY(...)`
// on events (topic, seq)) and the pattern's literal leading tokens (a range on events (subject,
// seq), in byte order). A pattern no topic can match reads nothing at all.
//
// Before: a replay read every row after the cursor and ran the pattern's regex on each, so 64
// subscriptions replaying 20,000 events for a pattern that matched none cost 1.28 million row
// decodes (111 s of a frozen server on PGlite, issue 11).
//
// Only topics of the catalogue are read: events of a topic this process does not declare (removed
// from the catalogue, or added by a newer deploy) cannot be typed, checked for exposure or decoded
// here, so a pattern read does not return them. The unfiltered tail (no pattern) still reads all.
import type { TopicCatalog } from '../../shared/index.js';
import { validatePattern } from '../../shared/index.js';
import { patternsOverlap } from '../fanout/pattern-overlap.js';

export type ReplayPlan =
  /** No topic of the catalogue can produce a matching subject: nothing to read. */
  | { readonly kind: 'none' }
  /** Every subject matches (`>`): read everything, as the tail does. */
  | { readonly kind: 'all' }
  | {
      readonly kind: 'filter';
      /** Topic names (templates) whose subjects the pattern can match, sorted. */
      readonly topics: readonly string[];
      /** Subjects in [from, to) in byte order (`COLLATE "C"`): the pattern's literal leading tokens.
       * Undefined when the pattern starts with a wildcard. */
      readonly subjectRange: { readonly from: string; readonly to: string } | undefined;
    };

const NONE: ReplayPlan = Object.freeze({ kind: 'none' });
const ALL: ReplayPlan = Object.freeze({ kind: 'all' });

/**
 * The plan of reads for `pattern` over `catalog`. Throws INVALID_PATTERN for an invalid pattern.
 * A literal prefix `orders.o-17` gives the range [`orders.o-17.`, `orders.o-17/`) (`/` follows `.`
 * in byte order), or just the subject itself when the pattern has no wildcard. The range and the
 * topics only narrow the read; the pattern's regex still decides each row.
 */
export function planReplay(pattern: string, catalog: TopicCatalog): ReplayPlan {
  validatePattern(pattern);
  if (pattern === '>') return ALL;
  const topics = [...new Set(Object.values(catalog).filter((t) => patternsOverlap(t.pattern, pattern)).map((t) => t.name))].sort();
  if (topics.length === 0) return NONE;
  const tokens = pattern.split('.');
  const wild = tokens.findIndex((t) => t === '*' || t === '>');
  let subjectRange: { from: string; to: string } | undefined;
  if (wild === -1) subjectRange = { from: pattern, to: `${pattern}\u0001` }; // just this subject (text holds no NUL)
  else if (wild > 0) {
    const prefix = tokens.slice(0, wild).join('.');
    subjectRange = { from: `${prefix}.`, to: `${prefix}/` };
  }
  return { kind: 'filter', topics, subjectRange };
}

/** Plans per pattern for one catalogue, remembered (subscriptions repeat a few patterns). */
export function replayPlanner(catalog: TopicCatalog, max = 1000): (pattern: string) => ReplayPlan {
  const cache = new Map<string, ReplayPlan>();
  return (pattern) => {
    let plan = cache.get(pattern);
    if (!plan) {
      plan = planReplay(pattern, catalog);
      if (cache.size >= max) cache.delete(cache.keys().next().value!);
      cache.set(pattern, plan);
    }
    return plan;
  };
}
