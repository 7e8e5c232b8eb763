// The inspector shows a caller only its own tenant's activity: its events and dead letters, and
// also the recent commands and queries of /inspector/commands (their ids, names, outcomes and
// reasons say what another tenant's users are doing).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineCommand, defineCommands, uuidv7 } from '../../shared/index.js';
import { postJson, startServer } from '../http/http-harness.js';

const commands = defineCommands({
  pay: defineCommand('invoices.pay', { input: z.object({ invoice: z.string() }), output: z.string(), reasons: ['OVERDUE'] }),
});

describe('inspector commands by tenant', () => {
  it("recent command results and failures in /inspector/commands are only the caller's tenant's", async () => {
    const s = await startServer({
      security: {
        // `ann@acme` is user ann of tenant acme.
        auth: ({ headers }) => (typeof headers['x-user'] === 'string' ? headers['x-user'] : undefined),
        tenant: (user) => user.split('@')[1],
        authorize: { command: () => true },
      },
      inspector: { authorize: () => true },
    });
    s.fete.handle(commands.pay, (input, ctx) => (input.invoice === 'late' ? ctx.reject('OVERDUE', 'invoice late is overdue') : 'paid'));
    const acmeIds = [uuidv7(), uuidv7()];
    const globexId = uuidv7();
    await postJson(`${s.url}/commands/invoices.pay`, { id: acmeIds[0], input: { invoice: 'a1' } }, { 'x-user': 'ann@acme' });
    await postJson(`${s.url}/commands/invoices.pay`, { id: acmeIds[1], input: { invoice: 'late' } }, { 'x-user': 'ann@acme' });
    await postJson(`${s.url}/commands/invoices.pay`, { id: globexId, input: { invoice: 'late' } }, { 'x-user': 'gus@globex' });
    const seen = async (user: string) => {
      const body = (await (await fetch(`${s.url}/inspector/commands`, { headers: { 'x-user': user } })).json()) as {
        results: Array<{ id: string }>;
        failures: Array<{ id: string }>;
      };
      return { results: body.results.map((r) => r.id).sort(), failures: body.failures.map((r) => r.id) };
    };
    expect(await seen('ops@acme')).toEqual({ results: [...acmeIds].sort(), failures: [acmeIds[1]] });
    expect(await seen('ops@globex')).toEqual({ results: [globexId], failures: [globexId] });
    expect(await seen('ops@initech')).toEqual({ results: [], failures: [] });
  });
});
