// Turning any thrown value into text, safely: the one place fete reads a value it caught from user
// code (a listener, an auth or authorization hook, a schema) to record or report it.
//
// A thrown value can be anything JavaScript allows: `undefined`, a symbol, a BigInt, a huge string,
// `Object.create(null)` (no toString), a cycle, a Promise, a revoked Proxy, a Proxy that throws on
// every trap, an Error whose `stack` or `message` getter throws, an object whose toString,
// valueOf or Symbol.toPrimitive throws. `err.message`, `String(err)`, `${err}`, `instanceof` and
// JSON.stringify each throw (or run unbounded) for some of these, and a throw while recording a
// failure used to leave the delivery `running` with nobody to finish it. So every read here is
// guarded, no toString-like method is ever called, nested values are bounded in depth, width and
// length, and the result is text a SQL `text` column accepts (no NUL, no lone surrogate).

export interface DescribeOptions {
  /** Longest result, in UTF-16 code units; longer text is cut and ends with `…`. @default 4000 */
  maxLength?: number;
  /** For an Error: its stack (which starts with `Name: message`) instead of the message alone.
   * @default true */
  stack?: boolean;
  /** With `stack: false`: an Error's message is prefixed with its name (`TypeError: ...`).
   * @default true */
  name?: boolean;
}

const DEFAULT_MAX = 4000;
/** Nesting levels shown of a thrown plain object, and of causes / errors thrown by getters. */
const MAX_DEPTH = 3;
const MAX_KEYS = 20;
const MAX_VALUE_CHARS = 200;

/** What describing found: the text, and whether any read of the value threw (a hostile value:
 * FeteError.from does not keep such a value as `cause`, since printing it later would throw). */
export interface Described {
  text: string;
  hostile: boolean;
}

/**
 * Describes any thrown value as bounded text. Never throws and never calls a toString, valueOf or
 * Symbol.toPrimitive of the value; of an Error it reads `name`, `message`, `stack` and `cause`
 * (guarded), of anything else only data properties. Work is bounded (beyond what Proxy traps and
 * Error getters themselves do).
 *
 * - an Error (also from another realm): its stack, or `Name: message` with `stack: false`,
 *   followed by `caused by: ...` for an Error `cause`;
 * - a string: the string itself;
 * - any other value: `thrown <kind>: <rendering>`, e.g. `thrown undefined`, `thrown bigint: 10n`,
 *   `thrown object: {"code":7}`, `thrown Promise (not an Error: ...)`.
 */
export function describeThrown(value: unknown, options: DescribeOptions = {}): string {
  return inspectThrown(value, options).text;
}

/** describeThrown, plus whether the value is hostile (some read of it threw). */
export function inspectThrown(value: unknown, options: DescribeOptions = {}): Described {
  const max = Math.max(16, options.maxLength ?? DEFAULT_MAX);
  const state: State = { hostile: false, budget: max + 1 };
  let text: string;
  try {
    text = describe(value, options.stack ?? true, 0, state, options.name ?? true);
  } catch {
    // Unreachable by design; kept so that this function cannot throw whatever happens above.
    state.hostile = true;
    text = 'thrown value (unreadable)';
  }
  return { text: clean(text, max), hostile: state.hostile };
}

/** A thrown value as an Error `cause`: the value itself, or for a hostile one (printing it, as
 * Node's inspect does with a cause, would throw) a plain Error carrying its description. */
export function keepableCause(value: unknown): unknown {
  const { text, hostile } = inspectThrown(value);
  return hostile ? new Error(`(hostile thrown value, described) ${text}`) : value;
}

interface State {
  hostile: boolean;
  /** Characters still worth producing; renderers stop early once it is spent. */
  budget: number;
}

/** Runs `read`; a throw marks the value hostile and yields `fallback`. */
function guard<T>(state: State, read: () => T, fallback: T): T {
  try {
    return read();
  } catch {
    state.hostile = true;
    return fallback;
  }
}

function describe(value: unknown, withStack: boolean, depth: number, state: State, withName = true): string {
  switch (typeof value) {
    case 'string':
      return value.length > state.budget ? value.slice(0, state.budget) : value;
    case 'undefined':
      return 'thrown undefined';
    case 'number':
    case 'boolean':
      return `thrown ${typeof value}: ${String(value)}`;
    case 'bigint':
      return `thrown bigint: ${bigintText(value)}`;
    case 'symbol':
      // String(symbol) is the built-in SymbolDescriptiveString: no user code runs.
      return `thrown symbol: ${short(String(value))}`;
    case 'function':
      return `thrown function ${short(ownString(value, 'name', state) ?? '') || '(anonymous)'}`;
  }
  if (value === null) return 'thrown null';
  const obj = value as object;
  if (isErrorLike(obj, state)) return errorText(obj, withStack, depth, state, withName);
  if (typeof dataValue(obj, 'then', state, true) === 'function')
    return 'thrown Promise (not an Error: a promise or thenable was thrown instead of being awaited)';
  return `thrown ${kindOf(obj, state)}: ${render(obj, depth, new Set(), state)}`;
}

/** `value instanceof Error`, or a built-in error from another realm, without trusting traps. */
function isErrorLike(obj: object, state: State): boolean {
  if (guard(state, () => obj instanceof Error, false)) return true;
  return guard(state, () => Object.prototype.toString.call(obj) === '[object Error]', false);
}

function errorText(err: object, withStack: boolean, depth: number, state: State, withName: boolean): string {
  // Error fields may be getters (some libraries compute `message`): they are called, guarded.
  const rawName = read(err, 'name', state);
  const name = typeof rawName === 'string' && rawName !== '' ? short(rawName) : 'Error';
  const rawMessage = read(err, 'message', state, UNREADABLE);
  const message =
    typeof rawMessage === 'string'
      ? rawMessage
      : rawMessage === undefined
        ? ''
        : rawMessage === UNREADABLE || depth >= MAX_DEPTH
          ? '(unreadable message)'
          : describe(rawMessage, false, depth + 1, state);
  let text = withName || withStack ? `${name}: ${message}` : message;
  // The stack and the cause are read even when not shown, so that `hostile` covers them: Node's
  // inspect prints both for an Error's cause, and would throw where reading them throws here.
  const stack = read(err, 'stack', state);
  if (withStack && typeof stack === 'string' && stack.length > 0) text = stack.includes(message) ? stack : `${text}\n${stack}`;
  const cause = read(err, 'cause', state);
  if (cause === undefined || depth >= MAX_DEPTH) return text;
  // A record (stack form) also says what caused it; a message (FeteError.from) keeps the cause as
  // `cause` instead.
  const causeText = describe(cause, withStack, depth + 1, state);
  return withStack && text.length < state.budget ? `${text}\ncaused by: ${causeText}` : text;
}

/** `obj[key]`, getters included, guarded. */
function read(obj: object, key: PropertyKey, state: State, unreadable: unknown = undefined): unknown {
  return guard(state, () => Reflect.get(obj, key) as unknown, unreadable);
}

const UNREADABLE = Symbol('unreadable');

/** A data property's value (own, or inherited when `inherited`); accessors are never called. */
function dataValue(obj: object, key: PropertyKey, state: State, inherited = false): unknown {
  return guard(
    state,
    () => {
      let o: object | null = obj;
      for (let hops = 0; o !== null && hops < 8; hops++) {
        const d = Object.getOwnPropertyDescriptor(o, key);
        if (d) return 'value' in d ? d.value : undefined;
        if (!inherited) return undefined;
        o = Object.getPrototypeOf(o) as object | null;
      }
      return undefined;
    },
    undefined,
  );
}

function ownString(obj: object, key: PropertyKey, state: State, inherited = false): string | undefined {
  const v = dataValue(obj, key, state, inherited);
  return typeof v === 'string' ? short(v) : undefined;
}

/** `object`, `array`, or the constructor's name (`Map`, `MyThing`), read without calling getters. */
function kindOf(obj: object, state: State): string {
  if (guard(state, () => Array.isArray(obj), false)) return 'array';
  const proto = guard<object | null | undefined>(state, () => Object.getPrototypeOf(obj) as object | null, undefined);
  if (proto === undefined) return 'object (unreadable)';
  if (proto === null) return 'object (null prototype)';
  const ctor = dataValue(proto, 'constructor', state);
  const name = typeof ctor === 'function' ? dataValue(ctor, 'name', state) : undefined;
  return typeof name === 'string' && name !== '' && name !== 'Object' ? short(name) : 'object';
}

/** A JSON-like rendering, bounded in depth, keys, value length and total length; cycles are
 * shown as [Circular], accessors as [Getter]. */
function render(value: unknown, depth: number, seen: Set<object>, state: State): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(short(value));
    case 'bigint':
      return bigintText(value);
    case 'symbol':
      return short(String(value));
    case 'function':
      return '[Function]';
    case 'undefined':
      return 'undefined';
    case 'number':
    case 'boolean':
      return String(value);
  }
  if (value === null) return 'null';
  const obj = value as object;
  if (seen.has(obj)) return '[Circular]';
  if (depth >= MAX_DEPTH || state.budget <= 0) return '{…}';
  const keys = guard<Array<string | symbol> | undefined>(state, () => Reflect.ownKeys(obj), undefined);
  if (keys === undefined) return '{unreadable}';
  const isArray = guard(state, () => Array.isArray(obj), false);
  seen.add(obj);
  const parts: string[] = [];
  let shown = 0;
  for (const key of keys) {
    if (isArray && key === 'length') continue;
    if (shown === MAX_KEYS || state.budget <= 0) {
      parts.push('…');
      break;
    }
    const d = guard<PropertyDescriptor | undefined>(state, () => Object.getOwnPropertyDescriptor(obj, key), undefined);
    if (d === undefined) continue;
    if (d.enumerable === false) continue;
    const shownValue = 'value' in d ? render(d.value, depth + 1, seen, state) : '[Getter]';
    const part = isArray ? shownValue : `${typeof key === 'symbol' ? `[${short(String(key))}]` : JSON.stringify(short(key))}:${shownValue}`;
    state.budget -= part.length + 1;
    parts.push(part);
    shown++;
  }
  seen.delete(obj);
  return isArray ? `[${parts.join(',')}]` : `{${parts.join(',')}}`;
}

function bigintText(n: bigint): string {
  // Very large BigInts take long to print in decimal; the magnitude is enough.
  const bits = n < 0n ? -n : n;
  return bits >= 1n << 1024n ? `${n < 0n ? '-' : ''}(a ${bits.toString(16).length * 4}-bit bigint)n` : `${n}n`;
}

function short(s: string): string {
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS)}…` : s;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Bounded, and storable as SQL text: PostgreSQL refuses NUL in text ("invalid byte sequence"),
 * which would make recording the failure itself fail. */
function clean(text: string, max: number): string {
  return storableText(text.length > max ? `${text.slice(0, max - 1)}…` : text);
}

/** `text` as SQL text and jsonb accept it: a NUL becomes the two characters `\0`, a lone surrogate
 * U+FFFD. For text fete records that may quote a caller's input (an error message). */
export function storableText(text: string): string {
  // eslint-disable-next-line no-control-regex
  const t = text.includes('\u0000') ? text.replace(/\u0000/g, '\\0') : text;
  return t.replace(LONE_SURROGATE, '\uFFFD');
}
