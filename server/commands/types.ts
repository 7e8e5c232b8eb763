// The public types of commands and queries on the server: what a handler gets (`ctx`), how it is
// registered (`fete.handle`), how it is called (`fete.execute` / `fete.query`) and the options
// under `createFete({ commands })`. Vocabulary as in DESIGN.md: command, query, principal, tenant.
import type {
  AnyCommand,
  AnyQuery,
  AnyRequest,
  HandlerInputOf,
  HandlerOutputOf,
  ReasonOf,
  TopicCatalog,
} from '../../shared/index.js';
import type { Role } from '../options.js';
import type { DeferredEmitFn, TxQuery } from '../types.js';

/** What every handler gets. */
export interface RequestContext<R extends AnyRequest = AnyRequest> {
  /** The command id (a UUID): the same on every retry of one call. Queries get a fresh one. */
  id: string;
  /** Who called: what `auth` returned for a browser or HTTP caller, `options.principal` or the
   * current principal (`runAs`) for a server caller. Also the current principal while it runs. */
  principal: unknown;
  /** The caller's tenant ('' without one): results are recorded per tenant. */
  tenant: string;
  /** Aborted when the handler runs past its `timeoutMs` (reason: FeteError TIMEOUT); whatever it
   * returns afterwards is discarded and its writes rolled back. */
  signal: AbortSignal;
  /** SQL on the request's transaction (`store` only; `dispatch: 'inline'` has none). Read-only
   * for queries. */
  tx: TxQuery;
  /** Refuses the request on purpose with one of the declared `reasons`: writes and emits roll back
   * and the caller gets FeteError REJECTED with `details.reason` (recorded for the command id). */
  reject(reason: ReasonOf<R>, message?: string): never;
}

/** A command handler's context: `emit` commits with the handler's writes, only if it returns. */
export interface CommandContext<C extends TopicCatalog, R extends AnyRequest = AnyCommand> extends RequestContext<R> {
  /** Admits the event now through ingress (its schema runs here, once: a bad payload throws here)
   * and appends that envelope when the handler returns, in the same transaction as its writes (a
   * `latest` value is upserted there, a `volatile` event sent after the commit); a throw or
   * rejection drops it. Resolves with the event id only: it has no seq (or version) before the
   * commit. */
  emit: DeferredEmitFn<C>;
}

export type CommandHandler<C extends TopicCatalog, R extends AnyCommand> = (
  input: HandlerInputOf<R>,
  ctx: CommandContext<C, R>,
) => HandlerOutputOf<R> | Promise<HandlerOutputOf<R>>;

export type QueryHandler<R extends AnyQuery> = (input: HandlerInputOf<R>, ctx: RequestContext<R>) => HandlerOutputOf<R> | Promise<HandlerOutputOf<R>>;

export type RequestHandler<C extends TopicCatalog, R extends AnyRequest> = R extends AnyCommand
  ? CommandHandler<C, R>
  : R extends AnyQuery
    ? QueryHandler<R>
    : never;

export interface HandleOptions {
  /** The roles whose processes run this handler. A process running none of them forwards the
   * command through the store to one that does. @default every role (runs where registered) */
  roles?: readonly Role[];
  /** The handler's deadline, in ms: then `ctx.signal` aborts and the request fails TIMEOUT.
   * @default commands.timeoutMs (30_000) */
  timeoutMs?: number;
}

export interface ExecuteOptions {
  /** The command id (a UUID): a call with an id already executed for this tenant returns the first
   * result without running the handler. @default a new UUIDv7 */
  id?: string;
  /** Who calls. @default the current principal (`runAs`), or undefined */
  principal?: unknown;
  /** The tenant. @default `security.tenant(principal)` (createFete's one security config) */
  tenant?: string;
}

export interface CommandOptions {
  /** How long the result of a command id is kept for retries, in ms. @default 86_400_000 (a day) */
  resultTtlMs?: number;
  /** Default handler deadline, in ms. @default 30_000 */
  timeoutMs?: number;
  /** How long a forwarded command waits for a process with the owner's role to take it before
   * failing NO_HANDLER, in ms. @default 10_000 */
  forwardTimeoutMs?: number;
  /** How often forwarded requests are looked for without a NOTIFY, in ms. @default 1000 */
  pollIntervalMs?: number;
  /** How many commands and queries one principal (its actor, command-actor.ts, per tenant) may
   * have in flight in this process at once, across every door (Socket.IO, HTTP, `fete.execute` /
   * `fete.query`, forwarded). A call over it fails at once with FeteError RATE_LIMITED (retryable,
   * `details.limit`), nothing run, so one signed-in caller cannot take every worker of the server.
   * Calls without a principal (`auth: 'anonymous'`, server code outside `runAs`) are all one
   * caller and are not capped here (only by each socket's own in-flight cap). @default 32 */
  maxInFlightPerPrincipal?: number;
}

export type ResolvedCommandOptions = Required<CommandOptions>;
