// Pattern-typed topics: which catalogue topics a subscription pattern can match, computed on types
// only, so `subscribe('orders.*.status', (ev) => ...)` gets exactly the union of matching events.
// Types only; the runtime equivalent is `matches(pattern, subject)` on each concrete subject.
import type { EnvelopeOf } from './envelope.js';
import type { TemplateOf, TopicCatalog } from './topic.js';

/** `'a.b.c'` -> `['a', 'b', 'c']`. Tail-recursive (accumulator), so 16 tokens cost 16 steps. */
type Tokens<S extends string, Acc extends string[] = []> = S extends `${infer Head}.${infer Rest}`
  ? Tokens<Rest, [...Acc, Head]>
  : [...Acc, S];

/** True for a string literal type; false for `string` and for template-literal patterns such as
 * `` `orders.${string}` ``, which TypeScript treats as index-signature keys. */
type IsLiteral<S extends string> = {} extends Record<S, 1> ? false : true;

/** A template token `{param}` stands for any one token; `*` matches any one token; otherwise the
 * literal tokens must be equal. An empty pattern token is invalid and matches nothing. */
type TokenMatches<TemplateToken extends string, PatternToken extends string> = PatternToken extends '*'
  ? true
  : PatternToken extends ''
    ? false
    : TemplateToken extends `{${string}}`
      ? true
      : TemplateToken extends PatternToken
        ? true
        : false;

/** Walks both token lists in step. `>` matches when at least one template token remains, and only
 * as the last pattern token (anywhere else the pattern is invalid at runtime and matches nothing). */
type MatchTokens<T extends string[], P extends string[]> = P extends [infer PH extends string, ...infer PR extends string[]]
  ? PH extends '>'
    ? PR extends []
      ? T extends [string, ...string[]]
        ? true
        : false
      : false
    : T extends [infer TH extends string, ...infer TR extends string[]]
      ? TokenMatches<TH, PH> extends true
        ? MatchTokens<TR, PR>
        : false
      : false
  : T extends []
    ? true
    : false;

/** Distributes over unions of templates and patterns; a non-literal side answers `true`. */
type MatchAny<Template extends string, Pattern extends string> = Template extends string
  ? Pattern extends string
    ? IsLiteral<Template> extends false
      ? true
      : IsLiteral<Pattern> extends false
        ? true
        : MatchTokens<Tokens<Template>, Tokens<Pattern>>
    : never
  : never;

/**
 * `true` if some subject the topic template can produce (`orders.{orderId}.status`, where `{x}` is
 * any single token) can match the NATS-style pattern, else `false`. When either side is the wide
 * `string` type (or not a plain literal), the answer is `true`: permissive rather than wrong.
 * For unions, `true` if any template matches any pattern.
 */
export type TemplateMatches<Template extends string, Pattern extends string> = [Template] extends [never]
  ? false
  : [Pattern] extends [never]
    ? false
    : true extends MatchAny<Template, Pattern>
      ? true
      : false;

/** The union of the catalogue's topic types whose template can match `Pattern` (`never` if none). */
export type MatchingTopics<Catalog extends TopicCatalog, Pattern extends string> = {
  [K in keyof Catalog]: TemplateMatches<TemplateOf<Catalog[K]>, Pattern> extends true ? Catalog[K] : never;
}[keyof Catalog];

/** The event a subscription to `Pattern` receives: one envelope type per matching topic,
 * discriminated on `topic`, so `if (ev.topic === 'orders.{orderId}.status')` narrows the payload. */
export type PatternEvent<Catalog extends TopicCatalog, Pattern extends string> = EnvelopeOf<MatchingTopics<Catalog, Pattern>>;

/** Why the tokens of a literal pattern are invalid (as `validatePattern` would say), or `never`. */
type TokensProblem<Ts extends string[]> = Ts extends [infer H extends string, ...infer R extends string[]]
  ? H extends ''
    ? 'a token is empty'
    : H extends '>'
      ? R extends []
        ? never
        : '">" may only be the last token'
      : H extends '*'
        ? TokensProblem<R>
        : H extends `${string}${'*' | '>'}${string}`
          ? `"${H}" mixes a wildcard into a token`
          : H extends `${string}${' ' | '\t' | '\n'}${string}`
            ? `"${H}" holds whitespace`
            : TokensProblem<R>
  : never;

/** Why a literal pattern is invalid, or `never` when it is valid (or not a literal: checked at runtime). */
export type PatternError<P extends string> = IsLiteral<P> extends false ? never : TokensProblem<Tokens<P>>;

/**
 * `P` itself when it is a valid pattern that some topic of the catalogue can match; otherwise a
 * string type naming the problem, which the argument cannot be assigned to, so the compiler's
 * error quotes it: `Argument of type '"ordrs.>"' is not assignable to parameter of type
 * '"pattern \"ordrs.>\" matches no topic of the catalogue"'`. Used as the pattern parameter's type
 * (TypeScript infers `P` through it).
 */
export type CheckedPattern<C extends TopicCatalog, P extends string> = [PatternError<P>] extends [never]
  ? [MatchingTopics<C, P>] extends [never]
    ? `pattern "${P}" matches no topic of the catalogue`
    : P
  : `invalid pattern "${P}": ${PatternError<P>}`;
