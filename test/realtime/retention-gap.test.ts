// Per-topic retention seen from a subscriber: after `fete.prune()` drops the oldest events of one
// topic (pulses.*, newest 3 kept), a resume from an older cursor gets a `gap` exactly when its
// pattern matches that topic, after everything still in the log before the watermark, and
// delivery goes on after it. On PGlite and on PostgreSQL.
import { afterAll, describe, expect, it } from 'vitest';
import type { Socket } from 'socket.io-client';
import { decodeWireEnvelope, type EvPacket, type EvsPacket, type GapPacket } from '../../shared/index.js';
import { dropSchemasAt, postgresAvailability } from '../support/postgres.js';
import { RawClient, sharePGlite, startServer, topics, until, type TestServer } from './support.js';
import { closedAfterEach } from '../support/closed-after-each.js';

sharePGlite();
const availability = await postgresAvailability();
if (availability.skipReason) console.log(`skipping the PostgreSQL retention gap tests: ${availability.skipReason}`);

const servers = closedAfterEach<TestServer>();
const raws = closedAfterEach<RawClient>();
const pgSchemas: string[] = [];
afterAll(async () => {
  if (pgSchemas.length === 0) return;
  await dropSchemasAt(availability.url!, pgSchemas);
});

/** Everything one socket received, in arrival order: `ev` as `<sid>:<seq>`, `gap` as `<sid>:gap(<after>,<resumedAt>)`. */
function timeline(socket: Socket): string[] {
  const out: string[] = [];
  socket.on('ev', (p: EvPacket) => out.push(`${p.sid}:${decodeWireEnvelope(p.e).seq}`));
  socket.on('evs', (p: EvsPacket) => out.push(...p.es.map((e) => `${p.sid}:${decodeWireEnvelope(e).seq}`)));
  socket.on('gap', (g: GapPacket) => out.push(`${g.sid}:gap(${g.after},${g.resumedAt})`));
  return out;
}
const of = (t: string[], sid: string) => t.filter((x) => x.startsWith(`${sid}:`)).map((x) => x.slice(sid.length + 1));

const engines = [
  { name: 'PGlite', store: undefined },
  { name: 'PostgreSQL', store: availability.url },
];

describe.each(engines)('retention gaps on $name', ({ name, store }) => {
  it.skipIf(name === 'PostgreSQL' && store === undefined)(
    'a resume older than the watermark of a topic its pattern matches gets a gap after what is left before it; other patterns get none',
    async () => {
      const s = await startServer({}, { ...(store ? { store } : {}), retention: { intervalMs: 0, graceMs: 0 } });
      servers.push(s);
      if (store) pgSchemas.push(s.schema);
      for (let n = 1; n <= 5; n++) await s.fete.emit(topics.tick, { n }); // seq 1..5
      for (let n = 1; n <= 6; n++) await s.fete.emit(topics.pulse, { n }); // seq 6..11
      for (let n = 6; n <= 7; n++) await s.fete.emit(topics.tick, { n }); // seq 12..13
      expect(await s.fete.prune()).toEqual([{ topic: 'pulses.{n}', deleted: 3, prunedThrough: 8 }]);
      expect(await s.fete.log.pruned(0)).toEqual([{ topic: 'pulses.{n}', through: 8 }]);
      // A second pass has nothing left to do.
      expect(await s.fete.prune()).toEqual([{ topic: 'pulses.{n}', deleted: 0, prunedThrough: undefined }]);

      const c = new RawClient(s.url);
      raws.push(c);
      await c.connected();
      const t = timeline(c.socket);
      expect(await c.sub('ticks', 'ticks.*', 2)).toEqual({ ok: true, cursor: 2, epoch: expect.any(String) });
      expect(await c.sub('all', '>', 2)).toEqual({ ok: true, cursor: 2, epoch: expect.any(String) });
      expect(await c.sub('late', 'pulses.*', 7)).toEqual({ ok: true, cursor: 7, epoch: expect.any(String) });
      expect(await c.sub('fresh', 'pulses.*', 8)).toEqual({ ok: true, cursor: 8, epoch: expect.any(String) });
      await until(() => of(t, 'all').length === 9 && of(t, 'ticks').length === 5 && of(t, 'late').length === 4 && of(t, 'fresh').length === 3);
      expect(of(t, 'ticks')).toEqual(['3', '4', '5', '12', '13']);
      expect(of(t, 'all')).toEqual(['3', '4', '5', 'gap(2,8)', '9', '10', '11', '12', '13']);
      expect(of(t, 'late')).toEqual(['gap(7,8)', '9', '10', '11']);
      expect(of(t, 'fresh')).toEqual(['9', '10', '11']);
      expect(s.fanout.stats().retentionGaps).toBe(2);

      // Live events after the resume flow on, once each.
      await s.fete.emit(topics.pulse, { n: 7 });
      await until(() => of(t, 'fresh').length === 4 && of(t, 'all').length === 10);
      expect(of(t, 'fresh').at(-1)).toBe('14');
    },
  );
});
