// Property: over any sequence of browser calls (principals of several tenants and roles, command
// ids shared across tenants), a call runs only if `authorize.command` allows it, a command id runs
// its handler at most once per tenant, and no caller ever gets another tenant's result.
import fc from 'fast-check';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFete, type Fete } from '../../server/index.js';
import { callFromClient } from '../../server/fanout/command-packet.js';
import { encodeValue, isFeteError, uuidv7 } from '../../shared/index.js';
import { freshSchema } from '../support/postgres.js';
import { topics, type Topics } from '../store/suite/harness.js';
import { commands } from './commands-fixtures.js';

type User = { id: string; tenant: string; admin: boolean };
const users: User[] = [
  { id: 'a1', tenant: 'acme', admin: true },
  { id: 'a2', tenant: 'acme', admin: false },
  { id: 'g1', tenant: 'globex', admin: true },
  { id: 'g2', tenant: 'globex', admin: false },
  { id: 'i1', tenant: 'initech', admin: true },
];
const authorize = { command: (p: User, name: string) => p.admin || name === 'orders.list' };

describe('per-command authorization and tenant isolation (property)', () => {
  let db: PGlite;
  let fete: Fete<Topics>;
  const runs: Array<{ tenant: string; id: string }> = [];

  beforeAll(async () => {
    db = await PGlite.create();
    fete = await createFete({ topics, store: { pglite: db }, schema: freshSchema('prop'), security: { auth: 'anonymous', tenant: (p: User) => p.tenant } });
    fete.handle(commands.place, (input, ctx) => {
      runs.push({ tenant: ctx.tenant, id: ctx.id });
      return { orderId: `${ctx.tenant}:${(ctx.principal as User).id}:${input.sku}`, number: runs.length, at: new Date(0) };
    });
    fete.handle(commands.list, (_input, ctx) => [{ orderId: ctx.tenant, sku: 'all' }]);
  }, 60_000);
  afterAll(async () => {
    await fete?.stop();
    await db?.close();
  });

  it('calls run only when authorized, once per (tenant, id), and answer only their own tenant', async () => {
    const call = fc.record({ user: fc.integer({ min: 0, max: users.length - 1 }), query: fc.boolean(), id: fc.integer({ min: 0, max: 3 }), sku: fc.constantFrom('tea', 'cake') });
    await fc.assert(
      fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 12 }), async (calls) => {
        const ids = Array.from({ length: 4 }, () => uuidv7());
        runs.length = 0;
        const first = new Map<string, unknown>();
        for (const c of calls) {
          const user = users[c.user]!;
          const name = c.query ? 'orders.list' : 'orders.place';
          const input = c.query ? {} : { sku: c.sku, qty: 1 };
          const outcome = await callFromClient(fete, { caller: { principal: user, tenant: user.tenant }, authorize: authorize as never }, { id: ids[c.id], name, input: encodeValue(input), encoded: true }).then(
            (value) => ({ ok: true as const, value }),
            (error: unknown) => ({ ok: false as const, error }),
          );
          if (c.query) {
            expect(outcome).toEqual({ ok: true, value: [{ orderId: user.tenant, sku: 'all' }] });
            continue;
          }
          if (!user.admin) {
            expect(outcome.ok).toBe(false);
            expect(isFeteError(!outcome.ok && outcome.error, 'FORBIDDEN')).toBe(true);
            continue;
          }
          expect(outcome.ok).toBe(true);
          const value = (outcome as { value: { orderId: string } }).value;
          // Only ever this tenant's result: recorded by this tenant's first call with the id.
          expect(value.orderId.startsWith(`${user.tenant}:`)).toBe(true);
          const key = `${user.tenant}/${c.id}`;
          if (first.has(key)) expect(value).toEqual(first.get(key));
          else first.set(key, value);
        }
        // One run per (tenant, id) that an authorized caller used, and no other.
        const keys = runs.map((r) => `${r.tenant}/${ids.indexOf(r.id)}`);
        expect(new Set(keys).size).toBe(keys.length);
        expect(new Set(keys)).toEqual(new Set(first.keys()));
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});
