// Context propagation: registered codecs capture values from the emitter's async context
// (AsyncLocalStorage) into the envelope at emit, and restore them around the listener, so the
// acting principal, trace, log fields or flags follow an event across processes and retries.
import { FeteError } from '../../shared/index.js';

export interface ContextCodec<T = unknown> {
  /** Key of the value in `envelope.context` (and `ctx.context`). */
  name: string;
  /** Carry the value in this header instead of `envelope.context` (the value must be a string). */
  header?: string;
  /** The current value at emit, or undefined for none. Must survive superjson. */
  capture(): T | undefined;
  /** Runs `run` with the value made current again (typically `storage.run(value, run)`). */
  restore<R>(value: T, run: () => R): R;
  /** Extra headers derived from a captured value (e.g. `actor` from the principal). */
  headers?(value: T): Record<string, string> | undefined;
}

export interface ContextRegistry {
  /** Adds a codec; a second codec with the same name is a CONFLICT. */
  register<T>(codec: ContextCodec<T>): void;
  /** The registered codec names, in order. */
  names(): string[];
}

export interface Captured {
  context: Record<string, unknown>;
  headers: Record<string, string>;
}

export class Contexts implements ContextRegistry {
  readonly #codecs: ContextCodec<unknown>[] = [];
  #carried = new Set<string>();

  register<T>(codec: ContextCodec<T>): void {
    if (!codec || typeof codec.name !== 'string' || codec.name.length === 0 || typeof codec.capture !== 'function' || typeof codec.restore !== 'function')
      throw new FeteError('INVALID_OPTIONS', 'a context codec needs { name, capture(), restore(value, run) }');
    if (this.#codecs.some((c) => c.name === codec.name))
      throw new FeteError('CONFLICT', `a context codec named "${codec.name}" is already registered`);
    this.#codecs.push(codec as ContextCodec<unknown>);
    if (codec.header !== undefined) this.#carried = new Set([...this.#carried, codec.header.toLowerCase()]);
  }

  /** The headers (lowercased) that carry a codec's value: restored as the app's context around
   * listeners, so a client door must not set them (security/client-headers.ts). */
  get carriedHeaders(): ReadonlySet<string> {
    return this.#carried;
  }

  names(): string[] {
    return this.#codecs.map((c) => c.name);
  }

  /** Captures every codec's current value. Headers already given by the emitter win. */
  capture(given: Record<string, string>): Captured {
    const context: Record<string, unknown> = {};
    const headers: Record<string, string> = {};
    for (const codec of this.#codecs) {
      if (codec.header !== undefined && given[codec.header] !== undefined) continue;
      const value = codec.capture();
      if (value === undefined) continue;
      if (codec.header !== undefined) headers[codec.header] = String(value);
      else context[codec.name] = value;
      const extra = codec.headers?.(value);
      if (extra) for (const [k, v] of Object.entries(extra)) if (given[k] === undefined) headers[k] = v;
    }
    return { context, headers };
  }

  /** Runs `run` inside every codec's restored value from the envelope. The first codec's value
   * is the outermost. Most events carry one value (the traceparent header) or none, and those
   * run without a closure per event: this wraps every listener attempt. */
  restore<R>(envelope: Carrier, run: () => R): R {
    let only: ContextCodec<unknown> | undefined;
    let onlyValue: unknown;
    for (const codec of this.#codecs) {
      const value = valueIn(codec, envelope);
      if (value === undefined) continue;
      if (only !== undefined) return this.#restoreFrom(0, envelope, run);
      only = codec;
      onlyValue = value;
    }
    return only === undefined ? run() : only.restore(onlyValue, run);
  }

  #restoreFrom<R>(from: number, envelope: Carrier, run: () => R): R {
    for (let i = from; i < this.#codecs.length; i++) {
      const codec = this.#codecs[i]!;
      const value = valueIn(codec, envelope);
      if (value !== undefined) return codec.restore(value, () => this.#restoreFrom(i + 1, envelope, run));
    }
    return run();
  }
}

type Carrier = { context: Record<string, unknown>; headers: Record<string, string> };

function valueIn(codec: ContextCodec<unknown>, envelope: Carrier): unknown {
  return codec.header !== undefined ? envelope.headers[codec.header] : envelope.context[codec.name];
}
