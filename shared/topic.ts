// Topics: the one declaration from which every server and client signature is derived.
// `defineTopic('orders.{orderId}.status', { schema, kind })` types the payload from a Standard
// Schema (zod, valibot, arktype...), types the template's parameters, and checks at compile time
// that each parameter is a payload field. `subjectOf` fills the parameters from a payload.
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { FeteError } from './errors.js';
import { isValidToken, MAX_SUBJECT_TOKENS, validatePattern, validateSubject } from './subject.js';

export type TopicKind = 'domain' | 'integration' | 'presentation';
export const TOPIC_KINDS: readonly TopicKind[] = ['domain', 'integration', 'presentation'];

/**
 * How a topic's events travel (the route splits after the one admission, server/ingress/):
 * - `log` (default): appended to the log; durable listeners, replay from a cursor, no gaps.
 * - `volatile`: never stored; sent live to the subscribers connected at that moment (and to
 *   non-durable listeners of the emitting process). A resume cannot replay them: receivers get them
 *   marked `volatile: true`, without a seq, and a client is told with a `volatile` gap notice.
 * - `latest`: only the last value per (tenant, subject) is kept (an upsert, not an append), with a
 *   per-subject `version` that grows with each change. A new subscription gets the current values
 *   of its pattern first, then the changes, each version once; receivers drop a stale version.
 */
export type TopicDelivery = 'log' | 'volatile' | 'latest';
export const TOPIC_DELIVERIES: readonly TopicDelivery[] = ['log', 'volatile', 'latest'];

/** `Log`, `Latest` or `Volatile` by the delivery of topic `T` (their union when `T`'s delivery is
 * not known): how an emit's result and a receipt's answer are typed per topic. */
export type ByDelivery<T, Log, Latest, Volatile> = T extends { readonly delivery: infer D } ? ByDeliveryOf<D, Log, Latest, Volatile> : Log | Latest | Volatile;
type ByDeliveryOf<D, Log, Latest, Volatile> = D extends 'latest' ? Latest : D extends 'volatile' ? Volatile : Log;

/** How long the log keeps a topic's events for replay (resume from a cursor). */
export interface Retention {
  /** Events older than this many milliseconds may be pruned. @default unbounded */
  maxAgeMs?: number;
  /** At most this many of the newest events of the topic are kept. @default unbounded */
  maxEvents?: number;
}

export interface TopicOptions<S extends StandardSchemaV1 | undefined = StandardSchemaV1 | undefined> {
  /** Payload schema (any Standard Schema). Without one the payload is not checked at runtime. */
  schema?: S;
  kind: TopicKind;
  /** Browsers may emit this topic (after auth and schema). Never allowed for presentation. @default false */
  clientEmit?: boolean;
  /** Events of this topic may be sent to browsers (Socket.IO, SSE) although it is not a
   * presentation topic: declare it on a domain or integration topic whose payload is safe to show.
   * Presentation topics are always exposed. @default false */
  expose?: boolean;
  /** Replay window of the log for this topic (`delivery: 'log'` only). @default unbounded */
  retention?: Retention;
  /** How events travel: appended to the `log`, sent live only (`volatile`), or kept as the
   * `latest` value per subject. See TopicDelivery. @default 'log' */
  delivery?: TopicDelivery;
  /** Who is subscribed to this topic's subjects may be seen (`client.presence`, `fete.presence`):
   * a connection subscribed to exactly one of its subjects is a member there. Presence reveals
   * who is there, so it is off unless declared, and only on topics sent to browsers. @default false */
  presence?: boolean;
  /** `delivery: 'latest'` only: a subject's value expires this many milliseconds after its last
   * emit (a positive integer). An expired value is not sent to new subscribers, and the server's
   * sweep removes it and tells current subscribers, as `fete.clearLatest` does (reason
   * 'expired'). @default none: a value stays until replaced or cleared */
  ttlMs?: number;
}

/** The parameter names of a template: `'orders.{orderId}.status'` -> `'orderId'`. */
export type ParamsOf<T extends string> = T extends `${string}{${infer P}}${infer Rest}` ? P | ParamsOf<Rest> : never;

/** The subjects a template can produce: `'orders.{orderId}.status'` -> `` `orders.${string}.status` ``. */
export type SubjectOfTemplate<T extends string> = T extends `${infer Head}{${string}}${infer Rest}`
  ? `${Head}${string}${SubjectOfTemplate<Rest>}`
  : T;

/** What a topic declares about browsers, kept in its type so that the client's `subscribe` and
 * `emit` only type what the server will allow (a wide `boolean` when not known at compile time). */
export interface TopicFlags {
  kind: TopicKind;
  clientEmit: boolean;
  expose: boolean;
  delivery: TopicDelivery;
  presence: boolean;
}

/** A declared topic. `TPayload` is what listeners receive (schema output); `TInput` what emit takes. */
export interface Topic<TPayload = unknown, TTemplate extends string = string, TInput = TPayload, TFlags extends TopicFlags = TopicFlags> {
  /** The template is the topic's name on the wire and in storage. */
  readonly name: TTemplate;
  readonly template: TTemplate;
  readonly kind: TFlags['kind'];
  readonly clientEmit: TFlags['clientEmit'];
  /** Sent to browsers: true for presentation topics and topics declared `expose: true`. */
  readonly expose: TFlags['expose'];
  readonly retention: Retention | undefined;
  /** How its events travel (TopicDelivery); 'log' unless declared. */
  readonly delivery: TFlags['delivery'];
  /** Subscribers of its subjects are listed by presence (declared `presence: true`). */
  readonly presence: TFlags['presence'];
  /** `latest` topics: how long a value lives after its last emit, in milliseconds (declared
   * `ttlMs`); undefined: until replaced or cleared. */
  readonly ttlMs: number | undefined;
  readonly schema: StandardSchemaV1<TInput, TPayload> | undefined;
  readonly params: readonly string[];
  /** The template with every parameter as `*`: the pattern of all this topic's subjects. */
  readonly pattern: string;
  /** Type carrier only; never present at runtime. */
  readonly '~types'?: { readonly payload: TPayload; readonly input: TInput };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTopic = Topic<any, string, any>;
/** The flags `defineTopic` records from its options: presentation topics are always exposed. */
export type FlagsOf<K extends TopicKind, CE extends boolean, X extends boolean, DL extends TopicDelivery = 'log', PR extends boolean = false> = {
  kind: K;
  clientEmit: CE;
  expose: K extends 'presentation' ? true : X;
  delivery: DL;
  presence: PR;
};
/** Topics whose events are not in the log (`volatile` or `latest`): no durable listeners. */
export type LiveOnlyTopic = Topic<any, string, any, TopicFlags & { delivery: 'volatile' | 'latest' }>; // eslint-disable-line @typescript-eslint/no-explicit-any
/** Topics a browser may receive (not known to be unexposed). */
export type ExposedTopicsOf<C extends TopicCatalog> = { [K in keyof C]: C[K]['expose'] extends false ? never : C[K] }[keyof C];
/** The catalogue restricted to the topics whose subscribers presence lists (not known to lack `presence`). */
export type PresenceCatalog<C extends TopicCatalog> = { [K in keyof C as C[K]['presence'] extends false ? never : K]: C[K] };
/** The catalogue restricted to the topics a browser may receive. */
export type ExposedCatalog<C extends TopicCatalog> = { [K in keyof C as C[K]['expose'] extends false ? never : K]: C[K] };
/** Topics a browser may emit (not known to lack `clientEmit`). */
export type ClientEmitTopicsOf<C extends TopicCatalog> = { [K in keyof C]: C[K]['clientEmit'] extends false ? never : C[K] }[keyof C];
export type TopicCatalog = Readonly<Record<string, AnyTopic>>;
export type PayloadOf<T> = T extends Topic<infer P, string, unknown> ? P : never;
export type InputOf<T> = T extends Topic<unknown, string, infer I> ? I : never;
export type TemplateOf<T> = T extends Topic<unknown, infer N, unknown> ? N : never;
/** Every topic of a catalogue, as a union. */
export type TopicsOf<C extends TopicCatalog> = C[keyof C];

// Type-level errors are written to read well on TypeScript 5.9 and 7 alike: `defineTopic` has ONE
// signature (with overloads, TypeScript 7 reports only "No overload matches this call" and the last
// overload's complaint, hiding ours), and each check turns a mistake into a type that names it.

/** `unknown` (no constraint) when every template parameter is a payload field; otherwise an object
 * type whose one key is the message, so the error reads "… is not assignable to … { '~error':
 * "template parameter "orderId" is not a field of the payload" }". */
type ParamsCheck<T extends string, O> = [ParamsOf<T>] extends [never]
  ? unknown
  : [ParamsOf<T>] extends [keyof O]
    ? unknown
    : { '~error': `template parameter "${Exclude<ParamsOf<T>, keyof O> & string}" is not a field of the payload` };

type DefaultPayload<T extends string> = [ParamsOf<T>] extends [never]
  ? unknown
  : { [K in ParamsOf<T>]: string | number } & Record<string, unknown>;

/** What listeners receive: the schema's output, or without a schema `P` (the template's
 * parameters unless given or inferred from context). */
type PayloadFor<S, P> = [S] extends [StandardSchemaV1] ? StandardSchemaV1.InferOutput<S> : P;
/** What emit takes: the schema's input, or without a schema `P`. */
type InputFor<S, P> = [S] extends [StandardSchemaV1] ? StandardSchemaV1.InferInput<S> : P;
type SchemaCheck<T extends string, S> = [S] extends [StandardSchemaV1] ? ParamsCheck<T, StandardSchemaV1.InferOutput<S>> : unknown;

/** Names no topic may have: an SSE frame's `event:` is its topic's name, and these name fete's own
 * notices (`gap`, `cleared`) and EventSource's default event (`message`). */
const RESERVED_TOPIC_NAMES: readonly string[] = ['gap', 'cleared', 'message'];

/**
 * Declares a topic: `template` is its name and subject shape (`orders.{orderId}.status`, each
 * `{param}` one token filled from the payload field of that name); `options.kind` is required,
 * `options.schema` (any Standard Schema) types and validates the payload; `clientEmit` and
 * `expose` are kept as literal types (the client's emit and subscribe are typed by them). One
 * signature, not overloads: TypeScript 7 shows only the last overload's error. `delivery`
 * (TopicDelivery, default 'log') is kept as a literal type too. Throws INVALID_TOPIC for a bad
 * template, kind, schema, delivery or retention, a presentation topic with `clientEmit`,
 * `retention` on a topic that is not in the log, and a `ttlMs` that is not a positive integer or
 * is on a topic that is not `latest`.
 */
export function defineTopic<
  const T extends string,
  S extends StandardSchemaV1 | undefined = undefined,
  P = DefaultPayload<T>,
  K extends TopicKind = TopicKind,
  CE extends boolean = false,
  X extends boolean = false,
  DL extends TopicDelivery = 'log',
  PR extends boolean = false,
>(
  template: T,
  options: TopicOptions<S> & { schema?: S & SchemaCheck<T, S>; kind: K; clientEmit?: CE; expose?: X; delivery?: DL; presence?: PR },
): Topic<PayloadFor<S, P>, T, InputFor<S, P>, NoInfer<FlagsOf<K, CE, X, DL, PR>>>;
export function defineTopic(template: string, options: TopicOptions): AnyTopic {
  const bad = (m: string) => new FeteError('INVALID_TOPIC', `topic "${template}": ${m}`, { details: { template } });
  if (typeof template !== 'string' || template.length === 0) throw bad('template must be a non-empty string');
  if (RESERVED_TOPIC_NAMES.includes(template))
    throw bad(`"${template}" is reserved: Server-Sent Events name fete's own notices (and EventSource's default event) so`);
  if (!options || !TOPIC_KINDS.includes(options.kind)) throw bad(`kind must be one of ${TOPIC_KINDS.join(', ')}`);
  if (options.schema !== undefined && typeof options.schema?.['~standard']?.validate !== 'function')
    throw bad('schema must implement Standard Schema (`~standard.validate`)');
  if (options.expose !== undefined && typeof options.expose !== 'boolean') throw bad('expose must be a boolean');
  if (options.presence !== undefined && typeof options.presence !== 'boolean') throw bad('presence must be a boolean');
  if (options.presence && options.kind !== 'presentation' && options.expose !== true)
    throw bad('presence lists who subscribes to a topic, so it needs a topic sent to browsers (presentation, or expose: true)');
  if (options.kind === 'presentation' && options.clientEmit)
    throw bad('presentation topics are output only; clientEmit is not allowed');
  const delivery = options.delivery ?? 'log';
  if (!TOPIC_DELIVERIES.includes(delivery)) throw bad(`delivery must be one of ${TOPIC_DELIVERIES.join(', ')}`);
  if (delivery !== 'log' && options.retention !== undefined)
    throw bad(`retention applies to the log; a '${delivery}' topic is not in it`);
  const ttlMs = options.ttlMs;
  if (ttlMs !== undefined) {
    if (delivery !== 'latest') throw bad(`ttlMs applies to delivery: 'latest' (the value kept per subject); this topic's delivery is '${delivery}'`);
    if (!(Number.isSafeInteger(ttlMs) && ttlMs > 0)) throw bad(`ttlMs must be a positive integer of milliseconds, got ${describe(ttlMs)}`);
  }
  const tokens = template.split('.');
  if (tokens.length > MAX_SUBJECT_TOKENS) throw bad(`more than ${MAX_SUBJECT_TOKENS} tokens`);
  const params: string[] = [];
  const patternTokens = tokens.map((t) => {
    const m = /^\{([A-Za-z_$][\w$]*)\}$/.exec(t);
    if (m) {
      if (params.includes(m[1]!)) throw bad(`parameter {${m[1]}} appears twice`);
      params.push(m[1]!);
      return '*';
    }
    if (!isValidToken(t) || t.includes('{') || t.includes('}'))
      throw bad(`"${t}" is neither a valid token nor a {parameter}`);
    return t;
  });
  const pattern = patternTokens.join('.');
  try {
    validatePattern(pattern);
  } catch (err) {
    throw new FeteError('INVALID_TOPIC', `topic "${template}": ${(err as Error).message}`, { cause: err });
  }
  const retention = options.retention;
  if (retention !== undefined) {
    for (const k of ['maxAgeMs', 'maxEvents'] as const) {
      const v = retention[k];
      if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw bad(`retention.${k} must be a positive number`);
    }
  }
  return Object.freeze({
    name: template,
    template,
    kind: options.kind,
    clientEmit: options.clientEmit ?? false,
    expose: options.kind === 'presentation' || options.expose === true,
    retention: retention ? Object.freeze({ ...retention }) : undefined,
    delivery,
    presence: options.presence === true,
    ttlMs,
    schema: options.schema,
    params: Object.freeze(params),
    pattern,
  });
}

/** A typed catalogue of topics, imported by both server and browser. Checks templates are unique. */
export function defineTopics<const C extends TopicCatalog>(catalog: C): C {
  const seen = new Map<string, string>();
  for (const [key, topic] of Object.entries(catalog)) {
    if (!topic || typeof topic.template !== 'string' || typeof topic.pattern !== 'string')
      throw new FeteError('INVALID_TOPIC', `catalogue entry "${key}" is not a topic (use defineTopic)`);
    const other = seen.get(topic.template);
    if (other !== undefined)
      throw new FeteError('INVALID_TOPIC', `catalogue entries "${other}" and "${key}" declare the same topic "${topic.template}"`);
    seen.set(topic.template, key);
  }
  return Object.freeze({ ...catalog });
}

/** A short text for an offending value in an error message; never throws (cycles, BigInt, null
 * prototypes would make a bare JSON.stringify or String throw a TypeError instead of our error). */
function describe(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    if (text !== undefined) return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    // fall through
  }
  return typeof value;
}

/** Fills a topic's template parameters from the payload's fields of the same name. */
export function subjectOf<T extends AnyTopic>(topic: T, payload: InputOf<T> | PayloadOf<T>): SubjectOfTemplate<TemplateOf<T>> {
  if (topic.params.length === 0) return topic.template as SubjectOfTemplate<TemplateOf<T>>;
  if (payload === null || typeof payload !== 'object')
    throw new FeteError('INVALID_PAYLOAD', `topic "${topic.name}": payload must be an object holding ${topic.params.join(', ')}`);
  const subject = topic.template.replace(/\{([A-Za-z_$][\w$]*)\}/g, (_, name: string) => {
    const value: unknown = (payload as Record<string, unknown>)[name];
    // NaN and Infinity would make the tokens "NaN"/"Infinity": a bug upstream, not an id.
    const text =
      typeof value === 'string'
        ? value
        : (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'bigint'
          ? String(value)
          : undefined;
    if (text === undefined || !isValidToken(text))
      throw new FeteError(
        'INVALID_PAYLOAD',
        `topic "${topic.name}": parameter {${name}} must be a non-empty string or number without ".", "*", ">" or whitespace; got ${describe(value)}`,
        { details: { topic: topic.name, param: name } },
      );
    return text;
  });
  try {
    return validateSubject(subject) as SubjectOfTemplate<TemplateOf<T>>;
  } catch (err) {
    throw new FeteError('INVALID_PAYLOAD', `topic "${topic.name}": ${(err as Error).message}`, { cause: err });
  }
}

function issuesToError(topic: AnyTopic, issues: readonly StandardSchemaV1.Issue[]): FeteError {
  const text = issues
    .slice(0, 5)
    .map((i) => {
      const path = (i.path ?? []).map((p) => (typeof p === 'object' ? String(p.key) : String(p))).join('.');
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
  return new FeteError('INVALID_PAYLOAD', `topic "${topic.name}": invalid payload: ${text}`, {
    details: { topic: topic.name, issues: issues.map((i) => ({ message: i.message, path: i.path })) },
  });
}

/** Validates a payload against its topic's schema and returns the schema's output. Sync schemas only;
 * use `validatePayload` where an async schema is possible. */
export function validatePayloadSync<T extends AnyTopic>(topic: T, payload: unknown): PayloadOf<T> {
  if (!topic.schema) return payload as PayloadOf<T>;
  const result = topic.schema['~standard'].validate(payload);
  if (result instanceof Promise)
    throw new FeteError('INVALID_TOPIC', `topic "${topic.name}": schema is async; use the async emit path`);
  if (result.issues) throw issuesToError(topic, result.issues);
  return result.value as PayloadOf<T>;
}

/** Validates a payload against its topic's schema (sync or async) and returns the schema's output. */
export async function validatePayload<T extends AnyTopic>(topic: T, payload: unknown): Promise<PayloadOf<T>> {
  if (!topic.schema) return payload as PayloadOf<T>;
  const result = await topic.schema['~standard'].validate(payload);
  if (result.issues) throw issuesToError(topic, result.issues);
  return result.value as PayloadOf<T>;
}

/** Looks a topic up by name (template) in a catalogue, building the index once per catalogue. */
const byNameCache = new WeakMap<TopicCatalog, Map<string, AnyTopic>>();
export function topicByName(catalog: TopicCatalog, name: string): AnyTopic | undefined {
  let index = byNameCache.get(catalog);
  if (!index) {
    index = new Map(Object.values(catalog).map((t) => [t.name, t]));
    byNameCache.set(catalog, index);
  }
  return index.get(name);
}
