// probe3: `{ pglite: 'memory://' }` is how PGlite's users ask for an in-memory database. fete took
// it as a directory path: `./memory:/` filled with a database that outlived the process (a second
// run found the first run's events). Now it is in memory; PGlite's browser URLs are refused.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createFete } from '../../server/index.js';
import { defineTopic, defineTopics, isFeteError } from '../../shared/index.js';

const topics = defineTopics({ note: defineTopic('notes.{id}', { kind: 'domain', schema: z.object({ id: z.string() }) }) });

describe("{ pglite: 'memory://' }", () => {
  it('is an in-memory store: nothing on disk, nothing kept for the next one', async () => {
    for (const round of [1, 2]) {
      const fete = await createFete({ topics, security: { auth: 'anonymous' }, store: { pglite: 'memory://' } });
      const { seq } = await fete.emit(topics.note, { id: `n${round}` });
      expect(seq).toBe(1);
      await fete.stop();
    }
    expect(existsSync('memory:')).toBe(false);
  });

  it("refuses PGlite's browser URLs with INVALID_OPTIONS", async () => {
    const err = await createFete({ topics, security: { auth: 'anonymous' }, store: { pglite: 'idb://shop' } }).catch((e: unknown) => e);
    expect(isFeteError(err, 'INVALID_OPTIONS')).toBe(true);
    expect(existsSync('idb:')).toBe(false);
  });
});
