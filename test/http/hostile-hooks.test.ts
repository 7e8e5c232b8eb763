// Auth and authorization hooks that throw hostile values (issue 9 item 5, the hook wrappers): the
// request or handshake gets a clear typed refusal, and the server keeps serving other clients.
import { describe, expect, it } from 'vitest';
import { HOSTILE_VALUES } from '../support/hostile-values.js';
import { postJson, startServer } from './http-harness.js';

const ITEM = { topic: 'orders.{orderId}.created', payload: { orderId: 'o1', total: 1 } };

describe('HTTP hooks that throw hostile values', () => {
  it('an auth hook that throws any hostile value answers 401 UNAUTHORIZED, and the next request is served', async () => {
    let hostile: (() => unknown) | undefined;
    const { url } = await startServer({
      security: {
        auth: () => {
          if (hostile) throw hostile();
          return 'alice';
        },
        authorize: { emit: () => true },
      },
    });
    for (const v of HOSTILE_VALUES) {
      hostile = v.make;
      const res = await postJson(`${url}/emit`, ITEM);
      expect({ value: v.name, status: res.status, body: await res.json() }).toEqual({
        value: v.name,
        status: 401,
        body: { error: { code: 'UNAUTHORIZED', message: 'authentication failed' } },
      });
    }
    hostile = undefined;
    expect((await postJson(`${url}/emit`, ITEM)).status).toBe(200);
  });

  it('an emit authorization hook that throws any hostile value rejects that emit with a typed error, and the next is accepted', async () => {
    let hostile: (() => unknown) | undefined;
    const { url } = await startServer({
      security: {
      auth: () => 'alice',
      authorize: {
        emit: () => {
          if (hostile) throw hostile();
          return true;
        },
      },
      },
    });
    for (const v of HOSTILE_VALUES) {
      hostile = v.make;
      const res = await postJson(`${url}/emit`, ITEM);
      const body = (await res.json()) as { results: Array<{ status: string; error?: { code: string; message: string } }> };
      expect({ value: v.name, result: body.results[0] }).toEqual({
        value: v.name,
        result: expect.objectContaining({ status: 'rejected', error: { code: 'INTERNAL', message: 'internal error' } }),
      });
    }
    hostile = undefined;
    expect((await postJson(`${url}/emit`, ITEM)).status).toBe(200);
  });
});
