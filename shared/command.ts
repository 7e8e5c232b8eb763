// Commands and queries: typed request/response declared once, beside the topics, imported by server
// and browser. A command has one owner handler whose writes and emits commit only if it succeeds;
// a query is read-only. Both take a Standard Schema for input and output: callers pass the input
// schema's input type, handlers get its output (transforms respected), and the same for results.
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { FeteError } from './errors.js';

export type RequestKind = 'command' | 'query';

/** A command or query name: dot-separated tokens of letters, digits, `_` and `-` (`orders.place`). */
const NAME_RE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
/** Longest name: names travel in every `cmd` packet and are keys of metrics. */
export const MAX_REQUEST_NAME_LENGTH = 128;

/** Codes a handler may reject with (`ctx.reject(code, message)`): the app's own vocabulary
 * (`'OUT_OF_STOCK'`), upper snake case, reaching the caller as FeteError REJECTED with `reason`. */
const REASON_RE = /^[A-Z][A-Z0-9_]{0,63}$/;

export interface RequestOptions<I extends StandardSchemaV1 | undefined, O extends StandardSchemaV1 | undefined, R extends string> {
  /** The input schema (any Standard Schema). Without one the input is not checked at runtime. */
  input?: I;
  /** The output schema: the handler's return value is validated (and transformed) by it before it
   * is recorded and returned. Without one the value is returned as is. */
  output?: O;
  /** Reasons the handler may reject with (`ctx.reject(reason, message)`). @default none */
  reasons?: readonly R[];
}

/** A declared command or query. `TIn`/`TInput`: what callers pass / what the handler receives;
 * `TOut`/`TOutput`: what the handler returns / what callers receive. */
export interface RequestDecl<K extends RequestKind, TName extends string, TIn, TInput, TOut, TOutput, TReason extends string> {
  readonly kind: K;
  readonly name: TName;
  readonly input: StandardSchemaV1<TIn, TInput> | undefined;
  readonly output: StandardSchemaV1<TOut, TOutput> | undefined;
  readonly reasons: readonly TReason[];
  /** Type carrier only; never present at runtime. */
  readonly '~types'?: { readonly in: TIn; readonly input: TInput; readonly out: TOut; readonly output: TOutput; readonly reason: TReason };
}

export type Command<TName extends string = string, TIn = unknown, TInput = TIn, TOut = unknown, TOutput = TOut, TReason extends string = string> = RequestDecl<
  'command',
  TName,
  TIn,
  TInput,
  TOut,
  TOutput,
  TReason
>;
export type Query<TName extends string = string, TIn = unknown, TInput = TIn, TOut = unknown, TOutput = TOut, TReason extends string = string> = RequestDecl<
  'query',
  TName,
  TIn,
  TInput,
  TOut,
  TOutput,
  TReason
>;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyCommand = Command<string, any, any, any, any, any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyQuery = Query<string, any, any, any, any, any>;
export type AnyRequest = AnyCommand | AnyQuery;

/** What a caller passes (the input schema's input type). */
export type RequestInputOf<R> = R extends { readonly '~types'?: { readonly in: infer I } } ? I : never;
/** What the handler receives (the input schema's output type). */
export type HandlerInputOf<R> = R extends { readonly '~types'?: { readonly input: infer I } } ? I : never;
/** What the handler returns (the output schema's input type). */
export type HandlerOutputOf<R> = R extends { readonly '~types'?: { readonly out: infer O } } ? O : never;
/** What a caller receives (the output schema's output type). */
export type RequestOutputOf<R> = R extends { readonly '~types'?: { readonly output: infer O } } ? O : never;
/** The declared rejection reasons. */
export type ReasonOf<R> = R extends { readonly '~types'?: { readonly reason: infer X } } ? X : never;

type In<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferInput<S> : unknown;
type Out<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : unknown;

function declare(kind: RequestKind, name: string, options: RequestOptions<StandardSchemaV1 | undefined, StandardSchemaV1 | undefined, string> = {}): AnyRequest {
  const bad = (m: string) => new FeteError('INVALID_OPTIONS', `${kind} "${String(name)}": ${m}`, { details: { name } });
  if (typeof name !== 'string' || name.length > MAX_REQUEST_NAME_LENGTH || !NAME_RE.test(name))
    throw bad(`the name must be dot-separated tokens of letters, digits, _ and - (at most ${MAX_REQUEST_NAME_LENGTH} characters)`);
  for (const k of ['input', 'output'] as const) {
    const s = options[k];
    if (s !== undefined && typeof s?.['~standard']?.validate !== 'function') throw bad(`${k} must implement Standard Schema (\`~standard.validate\`)`);
  }
  const reasons = options.reasons ?? [];
  for (const r of reasons) if (typeof r !== 'string' || !REASON_RE.test(r)) throw bad(`reason ${JSON.stringify(r)} must be UPPER_SNAKE_CASE`);
  return Object.freeze({ kind, name, input: options.input, output: options.output, reasons: Object.freeze([...reasons]) }) as AnyRequest;
}

/** Declares a command: a request with exactly one owner handler (`fete.handle`) whose writes and
 * emits commit only if it returns. Throws INVALID_OPTIONS for a bad name, schema or reason. */
export function defineCommand<const N extends string, I extends StandardSchemaV1 | undefined = undefined, O extends StandardSchemaV1 | undefined = undefined, const R extends string = never>(
  name: N,
  options: RequestOptions<I, O, R> = {},
): Command<N, In<I>, Out<I>, In<O>, Out<O>, R> {
  return declare('command', name, options) as Command<N, In<I>, Out<I>, In<O>, Out<O>, R>;
}

/** Declares a query: a read-only request (its handler runs in a read-only transaction and cannot
 * emit). Throws INVALID_OPTIONS for a bad name, schema or reason. */
export function defineQuery<const N extends string, I extends StandardSchemaV1 | undefined = undefined, O extends StandardSchemaV1 | undefined = undefined, const R extends string = never>(
  name: N,
  options: RequestOptions<I, O, R> = {},
): Query<N, In<I>, Out<I>, In<O>, Out<O>, R> {
  return declare('query', name, options) as Query<N, In<I>, Out<I>, In<O>, Out<O>, R>;
}

export type CommandCatalog = Readonly<Record<string, AnyRequest>>;

/** A catalogue of commands and queries, exported beside `defineTopics` and imported by server and
 * browser. Checks that every entry is a declaration and that names are unique. */
export function defineCommands<const C extends CommandCatalog>(catalog: C): C {
  const seen = new Map<string, string>();
  for (const [key, decl] of Object.entries(catalog)) {
    if (!isRequestDecl(decl)) throw new FeteError('INVALID_OPTIONS', `catalogue entry "${key}" is not a command or query (use defineCommand / defineQuery)`);
    const other = seen.get(decl.name);
    if (other !== undefined) throw new FeteError('INVALID_OPTIONS', `catalogue entries "${other}" and "${key}" declare the same name "${decl.name}"`);
    seen.set(decl.name, key);
  }
  return Object.freeze({ ...catalog });
}

export function isRequestDecl(value: unknown): value is AnyRequest {
  const v = value as { kind?: unknown; name?: unknown } | null;
  return v !== null && typeof v === 'object' && (v.kind === 'command' || v.kind === 'query') && typeof v.name === 'string';
}

/** True for a valid command or query name (the edge check of names that come off the wire). */
export function isRequestName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= MAX_REQUEST_NAME_LENGTH && NAME_RE.test(name);
}

export function isRejectReason(reason: unknown): reason is string {
  return typeof reason === 'string' && REASON_RE.test(reason);
}

function issuesText(issues: readonly StandardSchemaV1.Issue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => {
      const path = (i.path ?? []).map((p) => (typeof p === 'object' ? String(p.key) : String(p))).join('.');
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

/** Runs a request's input schema: the handler's input, or INVALID_PAYLOAD naming the issues. */
export async function validateRequestInput(decl: AnyRequest, input: unknown): Promise<unknown> {
  if (!decl.input) return input;
  const result = await decl.input['~standard'].validate(input);
  if (result.issues) throw new FeteError('INVALID_PAYLOAD', `${decl.kind} "${decl.name}": invalid input: ${issuesText(result.issues)}`, { details: { name: decl.name } });
  return result.value;
}

/** Runs a request's output schema over the handler's result. A handler returning what its own
 * declaration refuses is a bug on the server: INTERNAL (the caller is not told the details). */
export async function validateRequestOutput(decl: AnyRequest, output: unknown): Promise<unknown> {
  if (!decl.output) return output;
  const result = await decl.output['~standard'].validate(output);
  if (result.issues) throw new FeteError('INTERNAL', `${decl.kind} "${decl.name}": the handler's result does not match the output schema: ${issuesText(result.issues)}`);
  return result.value;
}
