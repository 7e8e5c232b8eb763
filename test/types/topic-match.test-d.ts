// Type tests for pattern-typed topics: a subscription pattern's event type is exactly the union of
// the catalogue topics whose template can produce a matching subject, narrowable on `ev.topic`.
import { describe, expectTypeOf, test } from 'vitest';
import { z } from 'zod';
import type { Envelope } from '../../shared/envelope.js';
import type { CheckedPattern, MatchingTopics, PatternError, PatternEvent, TemplateMatches } from '../../shared/topic-match.js';
import { defineTopic, defineTopics, type Topic } from '../../shared/topic.js';

const status = z.enum(['placed', 'paid', 'shipped']);
const topics = defineTopics({
  orderStatus: defineTopic('orders.{orderId}.status', { kind: 'domain', schema: z.object({ orderId: z.string(), status }) }),
  orderCreated: defineTopic('orders.{orderId}.created', {
    kind: 'domain',
    schema: z.object({ orderId: z.string(), total: z.number() }),
  }),
  userCreated: defineTopic('users.{userId}.created', { kind: 'domain', schema: z.object({ userId: z.number(), email: z.string() }) }),
  ping: defineTopic('system.ping', { kind: 'presentation', schema: z.object({ at: z.date() }) }),
  tenantOrder: defineTopic('t.{tenant}.orders.{orderId}', {
    kind: 'integration',
    schema: z.object({ tenant: z.string(), orderId: z.string(), note: z.string().optional() }),
  }),
});
type Catalog = typeof topics;
type T = { [K in keyof Catalog]: Catalog[K] };

describe('TemplateMatches', () => {
  test('a {param} template token matches a literal or * pattern token', () => {
    expectTypeOf<TemplateMatches<'orders.{orderId}.status', 'orders.o-17.status'>>().toEqualTypeOf<true>();
    expectTypeOf<TemplateMatches<'orders.{orderId}.status', 'orders.*.status'>>().toEqualTypeOf<true>();
    expectTypeOf<TemplateMatches<'orders.{orderId}.status', '*.*.*'>>().toEqualTypeOf<true>();
  });

  test('literal template tokens must equal literal pattern tokens', () => {
    expectTypeOf<TemplateMatches<'orders.{orderId}.status', 'orders.*.created'>>().toEqualTypeOf<false>();
    expectTypeOf<TemplateMatches<'orders.{orderId}.status', 'users.*.status'>>().toEqualTypeOf<false>();
  });

  test('* is exactly one token: the token counts must agree', () => {
    expectTypeOf<TemplateMatches<'orders.{orderId}.status', 'orders.*'>>().toEqualTypeOf<false>();
    expectTypeOf<TemplateMatches<'orders.{orderId}.status', 'orders.*.status.*'>>().toEqualTypeOf<false>();
    expectTypeOf<TemplateMatches<'system.ping', 'system.ping'>>().toEqualTypeOf<true>();
  });

  test('> matches one or more trailing tokens, never zero', () => {
    expectTypeOf<TemplateMatches<'orders.{orderId}.status', 'orders.>'>>().toEqualTypeOf<true>();
    expectTypeOf<TemplateMatches<'orders.{orderId}.status', 'orders.*.>'>>().toEqualTypeOf<true>();
    expectTypeOf<TemplateMatches<'orders.{orderId}.status', '>'>>().toEqualTypeOf<true>();
    expectTypeOf<TemplateMatches<'system.ping', 'system.ping.>'>>().toEqualTypeOf<false>();
    expectTypeOf<TemplateMatches<'system.ping', 'users.>'>>().toEqualTypeOf<false>();
  });

  test('> anywhere but last is an invalid pattern and matches nothing', () => {
    expectTypeOf<TemplateMatches<'orders.{orderId}.status', 'orders.>.status'>>().toEqualTypeOf<false>();
  });

  test('the wide string type on either side answers true', () => {
    expectTypeOf<TemplateMatches<string, 'orders.*'>>().toEqualTypeOf<true>();
    expectTypeOf<TemplateMatches<'system.ping', string>>().toEqualTypeOf<true>();
    expectTypeOf<TemplateMatches<'system.ping', `users.${string}`>>().toEqualTypeOf<true>();
  });

  test('a union pattern matches when any member does', () => {
    expectTypeOf<TemplateMatches<'system.ping', 'users.>' | 'system.*'>>().toEqualTypeOf<true>();
    expectTypeOf<TemplateMatches<'system.ping', 'users.>' | 'orders.*'>>().toEqualTypeOf<false>();
  });

  test('16-token templates and patterns', () => {
    type Tpl = 'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.{p}';
    expectTypeOf<TemplateMatches<Tpl, 'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.x'>>().toEqualTypeOf<true>();
    expectTypeOf<TemplateMatches<Tpl, '*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*'>>().toEqualTypeOf<true>();
    expectTypeOf<TemplateMatches<Tpl, 'a.b.c.d.e.f.g.h.i.j.k.l.m.n.x.*'>>().toEqualTypeOf<false>();
    expectTypeOf<TemplateMatches<Tpl, '*.*.*.*.*.*.*.*.*.*.*.*.*.*.*'>>().toEqualTypeOf<false>();
  });
});

describe('MatchingTopics and PatternEvent', () => {
  test('orders.*.status is the status topic only', () => {
    expectTypeOf<MatchingTopics<Catalog, 'orders.*.status'>>().toEqualTypeOf<T['orderStatus']>();
    expectTypeOf<PatternEvent<Catalog, 'orders.*.status'>>().toEqualTypeOf<
      Envelope<{ orderId: string; status: 'placed' | 'paid' | 'shipped' }, 'orders.{orderId}.status'>
    >();
  });

  test('orders.> is every orders topic', () => {
    expectTypeOf<MatchingTopics<Catalog, 'orders.>'>>().toEqualTypeOf<T['orderStatus'] | T['orderCreated']>();
  });

  test('> is every topic of the catalogue', () => {
    expectTypeOf<MatchingTopics<Catalog, '>'>>().toEqualTypeOf<Catalog[keyof Catalog]>();
    expectTypeOf<PatternEvent<Catalog, '>'>['topic']>().toEqualTypeOf<
      'orders.{orderId}.status' | 'orders.{orderId}.created' | 'users.{userId}.created' | 'system.ping' | 't.{tenant}.orders.{orderId}'
    >();
  });

  test('*.*.created is the created topics of any domain', () => {
    expectTypeOf<MatchingTopics<Catalog, '*.*.created'>>().toEqualTypeOf<T['orderCreated'] | T['userCreated']>();
  });

  test('a literal subject is the topic that can produce it', () => {
    expectTypeOf<MatchingTopics<Catalog, 'orders.o-17.status'>>().toEqualTypeOf<T['orderStatus']>();
    expectTypeOf<MatchingTopics<Catalog, 't.acme.orders.o-17'>>().toEqualTypeOf<T['tenantOrder']>();
    expectTypeOf<MatchingTopics<Catalog, 'system.ping'>>().toEqualTypeOf<T['ping']>();
  });

  test('a pattern matching no topic gives never', () => {
    expectTypeOf<MatchingTopics<Catalog, 'orders.*'>>().toEqualTypeOf<never>();
    expectTypeOf<MatchingTopics<Catalog, 'nothing.here'>>().toEqualTypeOf<never>();
    expectTypeOf<PatternEvent<Catalog, 'system.ping.>'>>().toEqualTypeOf<never>();
  });

  test('a wide string pattern is every topic', () => {
    expectTypeOf<MatchingTopics<Catalog, string>>().toEqualTypeOf<Catalog[keyof Catalog]>();
  });

  test('a union of patterns is the union of their topics', () => {
    expectTypeOf<MatchingTopics<Catalog, 'system.ping' | 'users.*.created'>>().toEqualTypeOf<T['ping'] | T['userCreated']>();
  });

  test('narrowing on ev.topic gives the payload of that topic', () => {
    const handle = (ev: PatternEvent<Catalog, 'orders.>'>) => {
      if (ev.topic === 'orders.{orderId}.status') {
        expectTypeOf(ev.payload.status).toEqualTypeOf<'placed' | 'paid' | 'shipped'>();
        // @ts-expect-error a status event has no total
        void ev.payload.total;
      } else {
        expectTypeOf(ev.topic).toEqualTypeOf<'orders.{orderId}.created'>();
        expectTypeOf(ev.payload.total).toEqualTypeOf<number>();
      }
      // @ts-expect-error users are not under orders.>
      if (ev.topic === 'users.{userId}.created') return;
    };
    void handle;
  });

  test('switch over ev.topic is exhaustive for *.*.created', () => {
    const handle = (ev: PatternEvent<Catalog, '*.*.created'>): string => {
      switch (ev.topic) {
        case 'orders.{orderId}.created':
          return ev.payload.orderId;
        case 'users.{userId}.created':
          return ev.payload.email;
        default:
          expectTypeOf(ev).toEqualTypeOf<never>();
          return ev;
      }
    };
    void handle;
  });
});

describe('a catalogue of 50 topics with 16-token templates', () => {
  type Digit = '0' | '1' | '2' | '3' | '4';
  type Id = `${Digit}${'0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9'}`;
  type Big = { readonly [K in Id as `t${K}`]: Topic<{ n: K; id: string }, `svc.t${K}.{id}.c.d.e.f.g.h.i.j.k.l.m.n.o`> };

  test('resolves exact, wildcard and > patterns without blowing the instantiation depth', () => {
    expectTypeOf<keyof Big>().toEqualTypeOf<`t${Id}`>();
    expectTypeOf<MatchingTopics<Big, 'svc.t07.x.c.d.e.f.g.h.i.j.k.l.m.n.o'>>().toEqualTypeOf<Big['t07']>();
    expectTypeOf<MatchingTopics<Big, 'svc.*.*.c.d.e.f.g.h.i.j.k.l.m.n.o'>>().toEqualTypeOf<Big[keyof Big]>();
    expectTypeOf<MatchingTopics<Big, 'svc.t49.>'>>().toEqualTypeOf<Big['t49']>();
    expectTypeOf<MatchingTopics<Big, '*.*.*.*.*.*.*.*.*.*.*.*.*.*.*.*'>>().toEqualTypeOf<Big[keyof Big]>();
    expectTypeOf<MatchingTopics<Big, '*.*.*.*.*.*.*.*.*.*.*.*.*.*.*'>>().toEqualTypeOf<never>();
    expectTypeOf<PatternEvent<Big, 'svc.t3*.>'>>().toEqualTypeOf<never>();
    expectTypeOf<PatternEvent<Big, 'svc.t31.>'>['payload']>().toEqualTypeOf<{ n: '31'; id: string }>();
  });
});

describe('CheckedPattern and PatternError', () => {
  test('a valid pattern that some topic can match is itself', () => {
    expectTypeOf<CheckedPattern<Catalog, 'orders.*.status'>>().toEqualTypeOf<'orders.*.status'>();
    expectTypeOf<CheckedPattern<Catalog, '>'>>().toEqualTypeOf<'>'>();
    expectTypeOf<CheckedPattern<Catalog, string>>().toEqualTypeOf<string>();
  });

  test('a pattern no topic can match becomes a message naming it', () => {
    expectTypeOf<CheckedPattern<Catalog, 'ordrs.>'>>().toEqualTypeOf<'pattern "ordrs.>" matches no topic of the catalogue'>();
  });

  test('an invalid pattern becomes a message with the reason validatePattern gives', () => {
    expectTypeOf<PatternError<'orders.>.status'>>().toEqualTypeOf<'">" may only be the last token'>();
    expectTypeOf<PatternError<'orders..status'>>().toEqualTypeOf<'a token is empty'>();
    expectTypeOf<PatternError<'orders.a*.status'>>().toEqualTypeOf<'"a*" mixes a wildcard into a token'>();
    expectTypeOf<PatternError<'orders.*.>'>>().toEqualTypeOf<never>();
    expectTypeOf<CheckedPattern<Catalog, 'orders.>.status'>>().toEqualTypeOf<'invalid pattern "orders.>.status": ">" may only be the last token'>();
  });
});

