// Store suite, part 4: per-topic retention. `fete.prune()` (and the worker's periodic job) drops
// events past their topic's `retention`, only those whose durable deliveries are all done, never
// younger than the grace, and records each topic's watermark for resumes (fanout gaps).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createEnvelope, defineTopic, defineTopics } from '../../../shared/index.js';
import { type Fete, type FeteOptions, createFete } from '../../../server/index.js';
import { waitFor } from '../../support/wait.js';
import { FAST_WORKER, type Harness, type TestStore } from './harness.js';

const topics = defineTopics({
  last5: defineTopic('metrics.{n}', { kind: 'presentation', schema: z.object({ n: z.number() }), retention: { maxEvents: 5 } }),
  hour: defineTopic('prices.{n}', { kind: 'presentation', schema: z.object({ n: z.number() }), retention: { maxAgeMs: 3_600_000 } }),
  kept: defineTopic('orders.{n}', { kind: 'domain', schema: z.object({ n: z.number() }) }),
});

const HOUR = 3_600_000;

export function retentionTests(h: Harness): void {
  async function open(options: Partial<FeteOptions<typeof topics>> = {}): Promise<{ fete: Fete<typeof topics>; db: TestStore; close(): Promise<void> }> {
    const db = h.engine.fresh();
    const fete = await createFete({ topics, store: db.store, schema: db.schema, worker: FAST_WORKER, retention: { intervalMs: 0, graceMs: 0 }, ...options });
    return { fete, db, close: () => fete.stop({ drain: false }) };
  }
  const seqsOf = async (db: TestStore, topic: string) =>
    (await db.rows<{ seq: string | number }>(`SELECT seq FROM ${db.tables.events} WHERE topic = $1 ORDER BY seq`, [topic])).map((r) => Number(r.seq));

  describe('retention', () => {
    it('maxEvents keeps the newest events of the topic, leaves other topics alone and records the watermark', async () => {
      const { fete, db, close } = await open();
      try {
        const seqs: number[] = [];
        for (let n = 0; n < 10; n++) {
          seqs.push((await fete.emit(topics.last5, { n })).seq);
          await fete.emit(topics.kept, { n });
        }
        const reports = await fete.prune();
        expect(reports).toContainEqual({ topic: 'metrics.{n}', deleted: 5, prunedThrough: seqs[4] });
        expect(await seqsOf(db, 'metrics.{n}')).toEqual(seqs.slice(5));
        expect(await seqsOf(db, 'orders.{n}')).toHaveLength(10);
        expect(await fete.log.pruned(0)).toEqual([{ topic: 'metrics.{n}', through: seqs[4] }]);
        expect(await fete.log.pruned(seqs[4]!)).toEqual([]);
      } finally {
        await close();
      }
    });

    it('maxAgeMs drops events older than the age, and the grace keeps young events whatever the rule', async () => {
      const { fete, db, close } = await open();
      try {
        const old = new Date(Date.now() - 2 * HOUR);
        const appended = await fete.log.append([0, 1, 2].map((n) => createEnvelope(topics.hour, { n }, { time: old })));
        const young = await fete.emit(topics.hour, { n: 3 });
        expect(await fete.prune()).toContainEqual({ topic: 'prices.{n}', deleted: 3, prunedThrough: (appended[2] as { seq: number }).seq });
        expect(await seqsOf(db, 'prices.{n}')).toEqual([young.seq]);
      } finally {
        await close();
      }
      const graced = await open({ retention: { intervalMs: 0, graceMs: 3 * HOUR } });
      try {
        const old = new Date(Date.now() - 2 * HOUR);
        await graced.fete.log.append([0, 1].map((n) => createEnvelope(topics.hour, { n }, { time: old })));
        for (let n = 0; n < 8; n++) await graced.fete.emit(topics.last5, { n });
        const reports = await graced.fete.prune();
        expect(reports.map((r) => r.deleted)).toEqual([0, 0]);
        expect(await graced.fete.log.pruned(0)).toEqual([]);
      } finally {
        await graced.close();
      }
    });

    it('keeps events whose durable deliveries are not done (pending, dead) and prunes them once their listeners are finished', async () => {
      const { fete, db, close } = await open();
      try {
        fete.on(topics.last5, 'slow to start', () => undefined);
        fete.on('metrics.3', 'fails', () => {
          throw new Error('never works');
        }, { retries: 0 });
        const seqs: number[] = [];
        for (let n = 0; n < 8; n++) seqs.push((await fete.emit(topics.last5, { n })).seq);
        // Nothing is started: every event has a pending delivery.
        expect(await fete.prune()).toContainEqual({ topic: 'metrics.{n}', deleted: 0, prunedThrough: undefined });
        await fete.start();
        await waitFor(async () => (await h.backlog(db)) === 0, { what: 'backlog drained' });
        await waitFor(async () => (await fete.deadLetters()).length === 1, { what: 'the dead letter' });
        const reports = await fete.prune();
        // seqs[0..2] go; seqs[3] (metrics.3) has a dead letter and stays; seqs[3..7] are the newest 5 anyway.
        expect(reports).toContainEqual({ topic: 'metrics.{n}', deleted: 3, prunedThrough: seqs[2] });
        expect(await seqsOf(db, 'metrics.{n}')).toEqual(seqs.slice(3));
      } finally {
        await close();
      }
    });

    it('a dead letter keeps its event past the retention until it is retried and completes', async () => {
      const { fete, db, close } = await open();
      try {
        let failing = true;
        fete.on(topics.last5, 'flaky', () => {
          if (failing) throw new Error('down');
        }, { retries: 0 });
        await fete.start();
        const first = await fete.emit(topics.last5, { n: 0 });
        await waitFor(async () => (await fete.deadLetters()).length === 1, { what: 'dead letter' });
        failing = false;
        for (let n = 1; n <= 6; n++) await fete.emit(topics.last5, { n });
        await waitFor(async () => (await h.backlog(db)) === 0, { what: 'the others done' });
        await fete.prune();
        expect((await seqsOf(db, 'metrics.{n}'))[0]).toBe(first.seq);
        await fete.retry((await fete.deadLetters())[0]!.id);
        await waitFor(async () => (await h.backlog(db)) === 0 && (await fete.deadLetters()).length === 0, { what: 'retried' });
        await fete.prune();
        expect(await seqsOf(db, 'metrics.{n}')).not.toContain(first.seq);
        expect(await seqsOf(db, 'metrics.{n}')).toHaveLength(5);
      } finally {
        await close();
      }
    });

    it('the worker prunes by itself every retention.intervalMs; a web-only process does not', async () => {
      const web = await open({ roles: ['web'], retention: { intervalMs: 20, graceMs: 0 } });
      try {
        for (let n = 0; n < 7; n++) await web.fete.emit(topics.last5, { n });
        await web.fete.start();
        await new Promise((r) => setTimeout(r, 200));
        expect(await seqsOf(web.db, 'metrics.{n}')).toHaveLength(7);
        const worker = await createFete({ topics, store: web.db.store, schema: web.db.schema, worker: FAST_WORKER, retention: { intervalMs: 20, graceMs: 0 } });
        try {
          await worker.start();
          await waitFor(async () => (await seqsOf(web.db, 'metrics.{n}')).length === 5, { what: 'pruned by the worker' });
        } finally {
          await worker.stop({ drain: false });
        }
      } finally {
        await web.close();
      }
    });
  });
}
