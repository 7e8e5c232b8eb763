// Presence on PGlite (one process) and inline (memory), the shared suite.
import { describe, expect, test } from 'vitest';
import { freshSchema } from '../support/postgres.js';
import { sharedStore, sharePGlite } from '../realtime/support.js';
import { presenceSuite } from './presence-suite.js';

describe('presence on PGlite', () => {
  sharePGlite();
  presenceSuite(() => ({ store: sharedStore(), schema: freshSchema('pr') }));
});

describe('presence inline (no store)', () => {
  presenceSuite(() => ({ dispatch: 'inline', schema: freshSchema('pr') }));
});

describe('presence on a PGlite data directory', () => {
  test("members a crashed run left in the table are removed when the directory is opened again, not listed until they expire", async () => {
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { PGlite } = await import('@electric-sql/pglite');
    const { createFete } = await import('../../server/index.js');
    const { security, topics } = await import('./fixtures.js');
    const dir = await mkdtemp(join(tmpdir(), 'fete-presence-'));
    try {
      const first = await createFete({ topics, security, store: { pglite: dir } });
      await first.stop();
      // What a process killed mid-session leaves: its node row (not yet expired) and its members.
      const db = await PGlite.create(dir);
      await db.query(`INSERT INTO fete.presence_nodes (node, expires_at) VALUES ('crashed', now() + interval '1 hour')`);
      await db.query(`INSERT INTO fete.presence (tenant, subject, member, node, connections, state, version) VALUES ('', 'rooms.r1.chat', '@ghost', 'crashed', 1, NULL, 1)`);
      await db.close();
      const second = await createFete({ topics, security, store: { pglite: dir } });
      try {
        expect(await second.presence('rooms.>')).toEqual([]);
      } finally {
        await second.stop();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
