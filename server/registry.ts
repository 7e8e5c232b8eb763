// The listeners registered in this process: each has a target (a catalogue topic, or a subject
// pattern), a name unique per target, a handler and resolved options. Durable listeners also get
// the id of their row in the store's listener table once recorded.
import { type AnyTopic, type Envelope, FeteError, type TopicCatalog, matches, topicByName, validatePattern } from '../shared/index.js';
import { resolveTopic } from './ingress/resolve-topic.js';
import { type ListenerOptions, type ResolvedListenerOptions, resolveListenerOptions } from './options.js';
import { patternToRegex } from './store/pattern-regex.js';
import { patternsOverlap } from './fanout/pattern-overlap.js';
import { assertDurableTarget } from './live/durable-target.js';
import type { ListenerContext } from './types.js';

export type AnyHandler = (payload: unknown, ctx: ListenerContext<TopicCatalog, Envelope>) => unknown;

export interface RegisteredListener {
  /** The topic name or the pattern, as recorded in the store. */
  readonly target: string;
  readonly name: string;
  readonly topic: AnyTopic | undefined;
  readonly pattern: string | undefined;
  readonly handler: AnyHandler;
  readonly options: ResolvedListenerOptions;
  /** The store's listener id (durable listeners, once recorded). */
  storeId: number | undefined;
  /** Internal listeners (a schedule's runs) match events of this topic name, outside the catalogue. */
  readonly internalTopic?: string;
}

export function listenerMatches(l: RegisteredListener, envelope: Envelope): boolean {
  if (l.internalTopic !== undefined) return envelope.topic === l.internalTopic;
  return l.topic !== undefined ? l.topic.name === envelope.topic : matches(l.pattern!, envelope.subject);
}

/** The store row for a durable listener. */
export function listenerRecord(l: RegisteredListener) {
  const { retries, timeoutMs, concurrency } = l.options;
  return {
    target: l.target,
    name: l.name,
    topic: l.internalTopic ?? l.topic?.name ?? null,
    regex: l.pattern === undefined ? null : patternToRegex(l.pattern),
    options: { retries, timeoutMs, concurrency },
  };
}

export class Registry {
  readonly #byKey = new Map<string, RegisteredListener>();

  constructor(
    private readonly catalog: TopicCatalog,
    private readonly defaults: ListenerOptions,
    private readonly dispatch: 'durable' | 'inline',
  ) {}

  add(targetArg: AnyTopic | string, name: string, handler: AnyHandler, given?: ListenerOptions): RegisteredListener {
    if (typeof name !== 'string' || name.length === 0 || name.length > 200)
      throw new FeteError('INVALID_OPTIONS', 'a listener needs a name (1 to 200 characters)');
    if (typeof handler !== 'function') throw new FeteError('INVALID_OPTIONS', `listener "${name}": the handler must be a function`);
    let topic: AnyTopic | undefined;
    let pattern: string | undefined;
    if (typeof targetArg === 'string' && topicByName(this.catalog, targetArg) === undefined) pattern = this.#pattern(targetArg, name);
    else topic = resolveTopic(this.catalog, targetArg);
    const target = topic?.name ?? pattern!;
    const key = `${target}\u0000${name}`;
    if (this.#byKey.has(key))
      throw new FeteError('CONFLICT', `a listener named "${name}" is already registered on "${target}"`, { details: { target, name } });
    const options = resolveListenerOptions(this.defaults, given, this.dispatch);
    if (options.durable) assertDurableTarget(this.catalog, topic, pattern, name);
    const listener: RegisteredListener = { target, name, topic, pattern, handler, options, storeId: undefined };
    this.#byKey.set(key, listener);
    return listener;
  }

  /** A valid pattern that some catalogue topic can match: only catalogue topics are ever emitted,
   * so a listener on any other pattern would never run (a typo, usually). */
  #pattern(text: string, name: string): string {
    const pattern = validatePattern(text);
    const topics = Object.values(this.catalog);
    if (topics.some((t) => patternsOverlap(pattern, t.pattern))) return pattern;
    const known = topics.map((t) => t.name).join(', ');
    throw new FeteError('UNKNOWN_TOPIC', `listener "${name}": pattern "${pattern}" matches no topic of the catalogue, so it would never run (topics: ${known})`, {
      details: { pattern, name },
    });
  }

  all(): RegisteredListener[] {
    return [...this.#byKey.values()];
  }

  /** Non-durable listeners whose target matches the event (they run in the emitting process). */
  inlineFor(envelope: Envelope): RegisteredListener[] {
    const out: RegisteredListener[] = [];
    for (const l of this.#byKey.values()) if (!l.options.durable && listenerMatches(l, envelope)) out.push(l);
    return out;
  }

  /** Registers the internal listener of a handler schedule: target and topic `topic` (outside the
   * catalogue), name 'run'. */
  addInternal(topic: string, handler: AnyHandler, given?: ListenerOptions): RegisteredListener {
    const key = `${topic}\u0000run`;
    if (this.#byKey.has(key)) throw new FeteError('CONFLICT', `"${topic}" is already registered`);
    const listener: RegisteredListener = {
      target: topic,
      name: 'run',
      topic: undefined,
      pattern: undefined,
      internalTopic: topic,
      handler,
      options: resolveListenerOptions(this.defaults, given, this.dispatch),
      storeId: undefined,
    };
    this.#byKey.set(key, listener);
    return listener;
  }

  /** Unregisters a listener (`fete.off`); the one removed, if it was registered. */
  remove(target: string, name: string): RegisteredListener | undefined {
    const key = `${target}\u0000${name}`;
    const l = this.#byKey.get(key);
    this.#byKey.delete(key);
    return l;
  }

  /** The target a topic object, topic name or pattern is registered under. */
  targetOf(targetArg: AnyTopic | string): string {
    if (typeof targetArg === 'string' && topicByName(this.catalog, targetArg) === undefined) return validatePattern(targetArg);
    return resolveTopic(this.catalog, targetArg).name;
  }

  /** Durable listeners registered here (their store ids once recorded). */
  durable(): RegisteredListener[] {
    return this.all().filter((l) => l.options.durable);
  }

  find(target: string, name: string): RegisteredListener | undefined {
    return this.#byKey.get(`${target}\u0000${name}`);
  }
}
