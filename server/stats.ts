// fete.stats(): the backlog per listener and per topic, from the store's delivery rows (durable
// listeners, including ones recorded by other processes) and from memory (non-durable ones).
import type { TopicCatalog } from '../shared/index.js';
import type { InlineDispatcher } from './dispatch/inline-dispatcher.js';
import type { Registry } from './registry.js';
import { headSeq } from './store/event-queries.js';
import { backlogStats, listListeners } from './store/listener-queries.js';
import type { Store } from './store/open-store.js';
import type { BacklogCounts, FeteStats, ListenerStats, TopicStats } from './types.js';

const zero = (): BacklogCounts => ({ pending: 0, running: 0, retrying: 0, dead: 0, oldestPendingAgeMs: 0 });

function add(into: BacklogCounts, c: BacklogCounts): void {
  into.pending += c.pending;
  into.running += c.running;
  into.retrying += c.retrying;
  into.dead += c.dead;
  into.oldestPendingAgeMs = Math.max(into.oldestPendingAgeMs, c.oldestPendingAgeMs);
}

export async function collectStats(s: {
  store: Store | undefined;
  catalog: TopicCatalog;
  registry: Registry;
  inline: InlineDispatcher;
  memoryHead: number | undefined;
  orphanAfterMs?: number;
}): Promise<FeteStats> {
  const listeners: ListenerStats[] = [];
  const topics = new Map<string, TopicStats>();
  for (const t of Object.values(s.catalog)) topics.set(t.name, { topic: t.name, ...zero() });
  let head = s.memoryHead ?? 0;
  if (s.store) {
    const { driver, tables } = s.store;
    const rows = await backlogStats(driver, tables);
    const recorded = await listListeners(driver, tables, s.orphanAfterMs);
    head = await headSeq(driver, tables);
    const byId = new Map<number, ListenerStats>();
    for (const l of recorded) {
      const stats: ListenerStats = {
        target: l.target,
        name: l.name,
        durable: true,
        local: s.registry.find(l.target, l.name) !== undefined,
        orphaned: l.orphaned,
        retired: l.retired,
        seenAt: l.seenAt,
        ...zero(),
      };
      byId.set(l.id, stats);
      listeners.push(stats);
    }
    for (const r of rows) {
      const l = byId.get(r.listenerId);
      if (l) add(l, r);
      let t = topics.get(r.topic);
      if (!t) topics.set(r.topic, (t = { topic: r.topic, ...zero() }));
      add(t, r);
    }
  }
  for (const l of s.registry.all()) {
    if (l.options.durable) continue;
    const counts = { ...s.inline.counts(l), oldestPendingAgeMs: 0 };
    listeners.push({ target: l.target, name: l.name, durable: false, local: true, orphaned: false, retired: false, ...counts });
    if (l.topic) add(topics.get(l.topic.name)!, counts);
  }
  return { listeners, topics: [...topics.values()], headSeq: head };
}
