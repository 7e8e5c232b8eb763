// probe3: without `authorize.command` the command door is closed (README: "Closed by default"),
// and a closed door does no work. Before, a caller no hook could ever allow still had its input
// decoded and run through the owner's schema (which may be costly, or refine against a database)
// before FORBIDDEN, and learnt which names had an owner (NO_HANDLER, retryable, for the others).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineCommand, defineQuery, uuidv7 } from '../../shared/index.js';
import { postJson, startServer, testAuth } from '../http/http-harness.js';
import { RawClient } from '../realtime/support.js';

let refined = 0;
const counted = z.object({ sku: z.string() }).refine(() => (refined++, true));
const place = defineCommand('probe3.place', { input: counted, output: z.string() });
const look = defineQuery('probe3.look', { input: counted, output: z.string() });

describe('a command door without authorize.command', () => {
  it('refuses every command and query FORBIDDEN before decoding or validating anything, owned or not', async () => {
    const s = await startServer({ security: testAuth });
    let ran = 0;
    s.fete.handle(place, () => String(++ran));
    s.fete.handle(look, () => String(++ran));
    const user = { 'x-user': 'ann' };
    const answers = [
      await postJson(`${s.url}/commands/probe3.place`, { id: uuidv7(), input: { sku: 'tea' } }, user),
      await postJson(`${s.url}/commands/probe3.place`, { id: uuidv7(), input: { sku: 5 } }, user),
      await postJson(`${s.url}/queries/probe3.look`, { input: { sku: 'tea' } }, user),
      await fetch(`${s.url}/queries/probe3.look?input=${encodeURIComponent('{"sku":"tea"}')}`, { headers: user }),
      await postJson(`${s.url}/commands/probe3.nobody-owns-this`, { id: uuidv7(), input: {} }, user),
    ];
    for (const res of answers) {
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('FORBIDDEN');
    }
    // The socket's `cmd` packet is the same door.
    const origin = new URL(s.url).origin;
    const io = s.fete.attach(s.server);
    const c = new RawClient(origin, { token: 'ann' });
    await c.connected();
    const ack = (await c.socket.timeout(10_000).emitWithAck('cmd', { id: uuidv7(), name: 'probe3.place', input: '{"json":{"sku":"tea"}}' })) as { ok: boolean; error?: { code: string } };
    c.close();
    await io.close();
    expect(ack).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(refined).toBe(0);
    expect(ran).toBe(0);
  });
});
