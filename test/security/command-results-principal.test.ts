// Command results by id belong to the principal that ran the command, also when the app's
// principals carry no `id` (an e-mail, a session object): two such principals of one tenant never
// read each other's recorded results, nor get them by retrying the other's command id. Every door
// reads through CommandBus.commandResult and claims through the ledger, so the HTTP door stands
// for all of them here; the server's fete.commandResult is checked beside it.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { defineCommand, defineCommands, uuidv7 } from '../../shared/index.js';
import { postJson, startServer } from '../http/http-harness.js';

interface Member {
  email: string;
  org: string;
}
const members: Record<string, Member> = { alice: { email: 'alice@a.test', org: 'A' }, bob: { email: 'bob@a.test', org: 'A' } };

const commands = defineCommands({
  secret: defineCommand('vault.open', { input: z.object({ box: z.string() }), output: z.object({ content: z.string() }) }),
});

async function serverWithIdlessPrincipals() {
  const s = await startServer({
    security: {
      auth: ({ headers }) => members[String(headers['x-user'])] as never,
      tenant: (m) => (m as unknown as Member).org,
      authorize: { command: () => true },
    },
  });
  let runs = 0;
  s.fete.handle(commands.secret, (input, ctx) => {
    runs++;
    return { content: `${(ctx.principal as unknown as Member).email} opened ${input.box}` };
  });
  return { ...s, runs: () => runs };
}

describe('command results of principals without an id', () => {
  it('another principal of the same tenant cannot read a recorded result by its command id', async () => {
    const s = await serverWithIdlessPrincipals();
    const id = uuidv7();
    const ran = await postJson(`${s.url}/commands/vault.open`, { id, input: { box: 'b1' } }, { 'x-user': 'alice' });
    expect(ran.status).toBe(200);
    const mine = await fetch(`${s.url}/commands/results/${id}`, { headers: { 'x-user': 'alice' } });
    expect(mine.status).toBe(200);
    expect((await mine.json()).result).toEqual({ content: 'alice@a.test opened b1' });
    const theirs = await fetch(`${s.url}/commands/results/${id}`, { headers: { 'x-user': 'bob' } });
    expect(theirs.status).toBe(404);
    const body = (await theirs.json()) as { error: { code: string }; result?: unknown };
    expect(body.error.code).toBe('NOT_FOUND');
    expect(JSON.stringify(body)).not.toContain('alice');
    await expect(s.fete.commandResult(id, { principal: members.bob, tenant: 'A' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(s.fete.commandResult(id, { principal: { ...members.alice }, tenant: 'A' })).resolves.toEqual({ content: 'alice@a.test opened b1' });
  });

  it("a retry of another principal's command id is a CONFLICT, never the first caller's result", async () => {
    const s = await serverWithIdlessPrincipals();
    const id = uuidv7();
    expect((await postJson(`${s.url}/commands/vault.open`, { id, input: { box: 'b1' } }, { 'x-user': 'alice' })).status).toBe(200);
    const reused = await postJson(`${s.url}/commands/vault.open`, { id, input: { box: 'b1' } }, { 'x-user': 'bob' });
    expect(reused.status).toBe(409);
    const body = await reused.json();
    expect(body.error.code).toBe('CONFLICT');
    expect(JSON.stringify(body)).not.toContain('alice');
    // The owner's own retry still gets its first result, without running again.
    const retried = await postJson(`${s.url}/commands/vault.open`, { id, input: { box: 'b1' } }, { 'x-user': 'alice' });
    expect((await retried.json()).result).toEqual({ content: 'alice@a.test opened b1' });
    expect(s.runs()).toBe(1);
  });
});
