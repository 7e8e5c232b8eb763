// A socket over one of its limits on work in flight (emit packets queued, commands running) is
// told RATE_LIMITED: retryable, nothing done for the refused packet, and what it had in flight
// still lands. Every "too many" limit of fete answers this one code (commands per principal and
// presence updates have their own tests: command-flood.test.ts, presence-suite.ts); it was TIMEOUT,
// which a client cannot tell from a server that never answered.
import { createServer, type Server } from 'node:http';
import { io, type Socket } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type Fete, createFete } from '../../server/index.js';
import { FeteErrorCode, createEnvelope, defineCommand, defineTopic, defineTopics, encodeEnvelope, encodeValue, uuidv7 } from '../../shared/index.js';
import { closeHttp, listen } from '../support/http-server.js';
import { sharePGlite, sharedStore } from '../realtime/support.js';
import { freshSchema } from '../support/postgres.js';

const topics = defineTopics({ note: defineTopic('notes.{id}', { kind: 'domain', clientEmit: true, schema: z.object({ id: z.string() }) }) });
const slow = defineCommand('notes.slow', { input: z.object({ n: z.number() }), output: z.number() });

sharePGlite();
const opened: Array<{ fete: Fete<typeof topics>; http: Server; socket: Socket }> = [];
afterEach(async () => {
  for (const o of opened.splice(0)) {
    o.socket.close();
    await o.fete.stop({ drain: false }).catch(() => undefined);
    await closeHttp(o.http);
  }
});

/** A fete whose emits and commands wait at `gate` (an emit in its authorize hook, a command in its
 * handler), and one raw socket to it. */
async function gatedApp() {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const fete = await createFete({
    topics,
    // One PGlite for the file, a schema per fete: starting PGlite costs seconds, and these tests
    // are about the socket, not the store.
    store: sharedStore(),
    schema: freshSchema('limits'),
    logger: false,
    security: {
      auth: 'anonymous',
      authorize: {
        emit: async () => {
          await gate;
          return true;
        },
        command: () => true,
      },
    },
  });
  fete.handle(slow, async (input) => {
    await gate;
    return input.n;
  });
  const http = createServer();
  fete.attach(http);
  const socket = io(`${await listen(http)}/fete`, { transports: ['websocket'], reconnection: false, forceNew: true });
  opened.push({ fete, http, socket });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', reject);
  });
  return { fete, socket, open };
}

type Ack = { ok: boolean; error?: { code: string }; results?: Array<{ status: string }> };

describe('a socket over its limits on work in flight', () => {
  it('is told RATE_LIMITED (retryable) for emit packets past its queue, and the queued ones still land', async () => {
    const { socket, open } = await gatedApp();
    const acks = Array.from({ length: 12 }, (_, i) =>
      socket.timeout(20_000).emitWithAck('emit', [encodeEnvelope(createEnvelope(topics.note, { id: `n${i}` }))]) as Promise<Ack>,
    );
    // The refusals answer at once, while the queued packets wait at the gate.
    const refused = await Promise.race([Promise.all(acks.slice(8)), new Promise((r) => setTimeout(r, 10_000, 'late'))]);
    expect(refused).toEqual(Array.from({ length: 4 }, () => ({ ok: false, error: { code: 'RATE_LIMITED', message: expect.stringMatching(/too many emits/) } })));
    expect(FeteErrorCode.RATE_LIMITED.retryable).toBe(true);
    open();
    const landed = await Promise.all(acks.slice(0, 8));
    expect(landed.map((a) => a.ok && a.results?.[0]?.status)).toEqual(Array.from({ length: 8 }, () => 'accepted'));
  });

  it('is told RATE_LIMITED for commands past its running cap, and the running ones answer', async () => {
    const { socket, open } = await gatedApp();
    const acks = Array.from({ length: 70 }, (_, n) =>
      socket.timeout(20_000).emitWithAck('cmd', { id: uuidv7(), name: slow.name, input: encodeValue({ n }) }) as Promise<Ack & { result?: string }>,
    );
    const refused = await Promise.race([Promise.all(acks.slice(64)), new Promise((r) => setTimeout(r, 10_000, 'late'))]);
    expect(refused).toEqual(Array.from({ length: 6 }, () => ({ ok: false, error: { code: 'RATE_LIMITED', message: expect.stringMatching(/too many commands/) } })));
    open();
    const answered = await Promise.all(acks.slice(0, 64));
    expect(answered.every((a) => a.ok)).toBe(true);
  });
});
