// Context codecs: capture at emit, restore around a function; the trace codec's traceparent.
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { Contexts } from '../../server/context/context-registry.js';
import { principalCodec } from '../../server/context/principal.js';
import { traceCodec } from '../../server/context/trace.js';
import { currentPrincipal, currentTraceparent, nextTraceparent, runAs, withTraceparent } from '../../server/index.js';

describe('contexts', () => {
  it('capture reads every codec, restore makes each value current again', () => {
    const contexts = new Contexts();
    const flags = new AsyncLocalStorage<Set<string>>();
    contexts.register(principalCodec);
    contexts.register(traceCodec);
    contexts.register({ name: 'flags', capture: () => flags.getStore(), restore: (v, run) => flags.run(v as Set<string>, run) });
    const captured = runAs({ id: 42 }, () => flags.run(new Set(['beta']), () => contexts.capture({})));
    expect(captured.context).toEqual({ principal: { id: 42 }, flags: new Set(['beta']) });
    expect(captured.headers).toMatchObject({ actor: '42', traceparent: expect.stringMatching(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/) });
    const inside = contexts.restore({ context: captured.context, headers: captured.headers }, () => ({
      principal: currentPrincipal(),
      flags: flags.getStore(),
      trace: currentTraceparent(),
    }));
    expect(inside).toEqual({ principal: { id: 42 }, flags: new Set(['beta']), trace: captured.headers.traceparent });
  });

  it('headers given by the emitter win over captured ones', () => {
    const contexts = new Contexts();
    contexts.register(traceCodec);
    const given = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    expect(contexts.capture({ traceparent: given }).headers.traceparent).toBeUndefined();
  });

  it('a new traceparent keeps the current trace id and flags, with a new parent id', () => {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    const child = withTraceparent(parent, () => traceCodec.capture())!;
    expect(child).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-00$/);
    expect(child).not.toBe(parent);
    expect(nextTraceparent('garbage')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  });
});
