// The commands and queries of one fete: the owners registered here (one per name), and the one
// path every caller goes through (server `fete.execute`/`fete.query`, Socket.IO `cmd`, HTTP):
// look up the owner, validate the input, run it here (run-request.ts) or forward it to a process
// running the owner's role (forwarder.ts), and count and log the outcome.
import createDebug from 'debug';
import {
  type AnyRequest,
  FeteError,
  type RequestKind,
  type TopicCatalog,
  isFeteError,
  isRequestDecl,
  isRequestName,
  isUuid,
  uuidv7,
  validateRequestInput,
} from '../../shared/index.js';
import { currentPrincipal, runAs } from '../context/principal.js';
import { validTenant } from '../security/tenant.js';
import { commandActor } from './command-actor.js';
import type { Role } from '../options.js';
import type { Store } from '../store/open-store.js';
import { CommandMetrics, type RequestOutcome } from './command-metrics.js';
import { type ResultLedger, memoryLedger, sqlLedger } from './command-results.js';
import { Forwarder } from './forwarder.js';
import { InFlight } from './in-flight.js';
import { type RunHost, isDeliberate, runCommand, runQuery } from './run-request.js';
import type { ExecuteOptions, HandleOptions, ResolvedCommandOptions } from './types.js';

const debug = createDebug('fete:commands');

export interface CommandBusHost {
  readonly topics: TopicCatalog;
  readonly store: Store | undefined;
  /** The roles this process runs. */
  readonly roles: readonly Role[];
  transaction: RunHost['transaction'];
  admit: RunHost['admit'];
  assertOpen(): void;
  /** The tenant of a principal: the fete's one `security.tenant` hook (security/security.ts). */
  tenantOf(principal: unknown): string;
  /** Told of each call that failed by surprise (not an answer on purpose): the fete's logger. */
  failed?(f: { kind: RequestKind; name: string; id: string; code: string; error: unknown }): void;
}

export interface Registration {
  decl: AnyRequest;
  handler: (input: unknown, ctx: never) => unknown;
  /** undefined: runs wherever it is registered. */
  roles: readonly Role[] | undefined;
  timeoutMs: number;
}

/** One call as the doors hand it over: the name (or declaration), raw input, who and which id. */
export interface Call {
  kind: RequestKind;
  name: string;
  input: unknown;
  id?: string | undefined;
  principal: unknown;
  tenant?: string | undefined;
  /** Checked after the input is validated, before anything runs (a door's `authorize.command`). */
  authorize?: ((name: string, input: unknown) => Promise<void>) | undefined;
}

/** A UUID is case-insensitive (RFC 9562): the ledger keys ids in lower case, so a retry that
 * spells the id in upper case is the same command. Anything else is left for the UUID check. */
function canonicalId(id: unknown): string {
  return typeof id === 'string' ? id.toLowerCase() : (id as string);
}

export class CommandBus {
  readonly metrics = new CommandMetrics();
  readonly #host: CommandBusHost;
  readonly #o: ResolvedCommandOptions;
  readonly #owners = new Map<string, Registration>();
  readonly #run: RunHost;
  readonly #forwarder: Forwarder | undefined;
  #lastPrune = Date.now();
  readonly #inFlight: InFlight;

  constructor(host: CommandBusHost, options: ResolvedCommandOptions) {
    this.#host = host;
    this.#o = options;
    this.#inFlight = new InFlight(options.maxInFlightPerPrincipal);
    const ledger: ResultLedger = host.store
      ? sqlLedger(host.store.tables, options.resultTtlMs, { literals: host.store.driver.kind === 'postgres' })
      : memoryLedger(options.resultTtlMs);
    this.#run = { topics: host.topics, transaction: (fn) => host.transaction(fn), admit: (t, p, o) => host.admit(t, p, o), hasStore: host.store !== undefined, ledger, db: host.store?.driver, running: new Map() };
    this.#forwarder = host.store
      ? new Forwarder(host.store, options, {
          roles: host.roles,
          // Only owners registered for roles can be forwarded to: the others run where they are called.
          names: () => [...this.#owners.values()].filter((r) => r.roles !== undefined && this.#runsHere(r)).map((r) => r.decl.name),
          // The row does not say command or query: the owner's declaration does.
          // Its input was admitted by the origin's schema (see #call): not validated a second time.
          serve: (c) => this.#call({ ...c, kind: this.declaration(c.name)?.kind ?? 'command' }, true),
        })
      : undefined;
  }

  /** Registers the one owner of a command or query. Throws CONFLICT for a second owner of a name,
   * INVALID_OPTIONS for a non-declaration, a non-function handler or a bad option. */
  handle(decl: AnyRequest, handler: unknown, options: HandleOptions = {}): void {
    this.#host.assertOpen();
    if (!isRequestDecl(decl)) throw new FeteError('INVALID_OPTIONS', 'fete.handle expects a defineCommand / defineQuery declaration');
    if (typeof handler !== 'function') throw new FeteError('INVALID_OPTIONS', `fete.handle("${decl.name}"): the handler must be a function`);
    const existing = this.#owners.get(decl.name);
    if (existing)
      throw new FeteError('CONFLICT', `${decl.kind} "${decl.name}" already has an owner: a ${decl.kind} has exactly one handler`, { details: { name: decl.name } });
    const timeoutMs = options.timeoutMs ?? this.#o.timeoutMs;
    if (!Number.isFinite(timeoutMs) || timeoutMs < 1) throw new FeteError('INVALID_OPTIONS', `fete.handle("${decl.name}"): timeoutMs must be a number >= 1`);
    if (options.roles !== undefined && (!Array.isArray(options.roles) || options.roles.length === 0))
      throw new FeteError('INVALID_OPTIONS', `fete.handle("${decl.name}"): roles must be a non-empty array`);
    const reg: Registration = { decl, handler: handler as Registration['handler'], roles: options.roles ? [...options.roles] : undefined, timeoutMs };
    this.#owners.set(decl.name, reg);
    if (this.#runsHere(reg)) this.#forwarder?.wake();
  }

  /** The owners registered here, for the inspector. */
  owners(): Array<{ name: string; kind: RequestKind; roles: readonly Role[] | null; runsHere: boolean; timeoutMs: number }> {
    return [...this.#owners.values()].map((r) => ({ name: r.decl.name, kind: r.decl.kind, roles: r.roles ?? null, runsHere: this.#runsHere(r), timeoutMs: r.timeoutMs }));
  }

  /** The registered declaration of `name`, if any (the doors list and look up by name). */
  declaration(name: string): AnyRequest | undefined {
    return this.#owners.get(name)?.decl;
  }

  #runsHere(r: Registration): boolean {
    return r.roles === undefined || r.roles.some((role) => this.#host.roles.includes(role));
  }

  /** Starts answering forwarded requests for the owners this process runs (LISTEN + poll). */
  async start(): Promise<void> {
    await this.#forwarder?.start();
  }

  async stop(): Promise<void> {
    await this.#forwarder?.stop();
  }

  /** Runs a call from any door; see Call. Resolves with the handler's (or the recorded) output;
   * rejects with a FeteError: MALFORMED / INVALID_PAYLOAD (input), FORBIDDEN (authorize),
   * NO_HANDLER, REJECTED (with `details.reason`), CONFLICT (id used by another command),
   * TIMEOUT, STORE_UNAVAILABLE, INTERNAL (an unexpected throw, its cause kept). */
  call(call: Call): Promise<unknown> {
    return this.#call(call, false);
  }

  /** `admitted`: the input is the output of the owner's input schema already (a forwarded call,
   * validated by the process that received it), so the schema runs once per call. */
  async #call(call: Call, admitted: boolean): Promise<unknown> {
    const started = performance.now();
    const reg = isRequestName(call.name) ? this.#owners.get(call.name) : undefined;
    const id = call.kind === 'command' ? canonicalId(call.id ?? uuidv7()) : uuidv7();
    const name = reg ? reg.decl.name : '(unknown)';
    let outcome: RequestOutcome = 'failed';
    let error = undefined as FeteError | undefined;
    let tenant = call.tenant;
    let release: (() => void) | undefined;
    let shed = false;
    try {
      this.#host.assertOpen();
      // A tenant given by server code (`execute(..., { tenant })`) is checked as every app-given
      // tenant is (security/tenant.ts): it keys the result ledger.
      tenant = tenant === undefined ? this.#tenantOf(call.principal) : validTenant(tenant, `${call.kind}: tenant`);
      if (!reg || reg.decl.kind !== call.kind) throw new FeteError('NO_HANDLER', `no handler for ${call.kind} ${JSON.stringify(String(call.name).slice(0, 140))}`);
      const local = this.#runsHere(reg);
      if (!local && !this.#forwarder)
        throw new FeteError('NO_HANDLER', `${call.kind} "${name}" runs only in roles ${reg.roles!.join(', ')}, which this process does not run, and there is no store to forward it through`);
      // One slot of the caller's in-flight cap for the rest of the call (released in finally).
      // Over it: refused, not a fault of the server (a flood must not flood the error log too).
      // Anonymous callers and server code outside runAs (no actor) are one caller: not capped here.
      const actor = commandActor(call.principal);
      shed = true;
      outcome = 'refused';
      if (actor !== null) release = this.#inFlight.take(JSON.stringify([tenant, actor]), call.kind);
      outcome = 'failed';
      shed = false;
      // Validated where the call came in, forwarded or not: a bad input fails without a round trip
      // through the store, the door's authorize hook judges the handler's input, and the owner's
      // process takes the output as admitted (the schema runs once per call).
      const input = admitted
        ? call.input
        : await validateRequestInput(reg.decl, call.input).catch((err: unknown) => {
            outcome = 'refused';
            throw err;
          });
      if (call.authorize) {
        outcome = 'refused';
        await call.authorize(name, input);
        outcome = 'failed';
      }
      const r = local
        ? await this.#local({ reg, input, id, principal: call.principal, tenant })
        : await this.#forwarder!.forward({ reg, input, id, principal: call.principal, tenant });
      outcome = r.duplicate ? 'duplicate' : 'ok';
      return r.value;
    } catch (err) {
      error = isFeteError(err) ? err : new FeteError('INTERNAL', `${call.kind} "${name}" failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      if (error.code === 'REJECTED') outcome = 'rejected';
      else if (error.code === 'NO_HANDLER' || error.code === 'FORBIDDEN' || error.code === 'MALFORMED') outcome = 'refused';
      throw error;
    } finally {
      release?.();
      const durationMs = performance.now() - started;
      const reason = error?.details?.reason;
      this.metrics.record({
        id,
        tenant,
        kind: call.kind,
        name,
        outcome,
        durationMs,
        ...(error ? { code: error.code } : {}),
        ...(typeof reason === 'string' ? { reason } : {}),
      });
      const e: FeteError | undefined = error;
      if (e && !isDeliberate(e) && e.code !== 'NO_HANDLER' && !shed) {
        debug('%s %s %s failed (%s): %O', call.kind, name, id, e.code, e.cause ?? e);
        // CLOSED is the process stopping, not a fault to report per call.
        if (e.code !== 'CLOSED') this.#host.failed?.({ kind: call.kind, name, id, code: e.code, error: e.cause ?? e });
      } else debug('%s %s %s: %s in %d ms', call.kind, name, id, outcome, Math.round(durationMs));
      this.#maybePrune();
    }
  }

  /** Runs a call whose input is validated, here. */
  async #local(c: { reg: Registration; input: unknown; id: string; principal: unknown; tenant: string }): Promise<{ value: unknown; duplicate: boolean }> {
    const call = { decl: c.reg.decl, handler: c.reg.handler, input: c.input, id: c.id, principal: c.principal, tenant: c.tenant, timeoutMs: c.reg.timeoutMs };
    // The caller is the current principal while the handler runs: its emits record it as actor.
    return runAs(c.principal, async () =>
      c.reg.decl.kind === 'command' ? runCommand(this.#run, call) : { value: await runQuery(this.#run, call), duplicate: false },
    );
  }

  /** Server-side callers: `fete.execute` / `fete.query`. */
  serverCall(kind: RequestKind, decl: unknown, input: unknown, options: ExecuteOptions = {}): Promise<unknown> {
    if (!isRequestDecl(decl)) return Promise.reject(new FeteError('INVALID_OPTIONS', `fete.${kind === 'command' ? 'execute' : 'query'} expects a defineCommand / defineQuery declaration`));
    return this.call({
      kind,
      name: decl.name,
      input,
      id: options.id,
      principal: 'principal' in options ? options.principal : currentPrincipal(),
      tenant: options.tenant,
    });
  }

  /** The recorded outcome of command `id` as `principal` sees it (in its tenant, or `tenant`):
   * resolves with the command's name and output, or rejects with the error it was recorded with
   * (REJECTED with `details.reason`, FORBIDDEN...). NOT_FOUND when no outcome of `id` is recorded
   * for this principal in this tenant: never run, still running, past `resultTtlMs`, or run by
   * another principal or tenant (told apart from none at all by nobody). MALFORMED for a non-UUID. */
  async commandResult(id: unknown, who: { principal: unknown; tenant?: string | undefined }, command?: unknown): Promise<{ name: string; value: unknown }> {
    this.#host.assertOpen();
    if (command !== undefined && (!isRequestDecl(command) || command.kind !== 'command'))
      throw new FeteError('INVALID_OPTIONS', 'commandResult expects a defineCommand declaration (or only the id)');
    if (!isUuid(id)) throw new FeteError('MALFORMED', `a command id must be a UUID, got ${JSON.stringify(String(id).slice(0, 64))}`);
    const tenant = who.tenant === undefined ? this.#tenantOf(who.principal) : validTenant(who.tenant, 'commandResult: tenant');
    const recorded = await this.#run.ledger.read(this.#host.store?.driver, tenant, canonicalId(id), commandActor(who.principal));
    if (!recorded || (command !== undefined && recorded.name !== (command as AnyRequest).name))
      throw new FeteError('NOT_FOUND', `no recorded outcome of command ${id}`, { details: { id } });
    if (!recorded.ok) throw recorded.error;
    return { name: recorded.name, value: recorded.value };
  }

  /** `fete.commandResult`: as `commandResult`, the caller being `options.principal` or the current one. */
  async serverResult(id: unknown, options: Omit<ExecuteOptions, 'id'> = {}, command?: unknown): Promise<unknown> {
    const principal = 'principal' in options ? options.principal : currentPrincipal();
    return (await this.commandResult(id, { principal, tenant: options.tenant }, command)).value;
  }

  #tenantOf(principal: unknown): string {
    return this.#host.tenantOf(principal);
  }

  /** Old results are deleted at most once a minute, by whichever call comes along. */
  #maybePrune(): void {
    const now = Date.now();
    if (now - this.#lastPrune < 60_000) return;
    this.#lastPrune = now;
    this.#run.ledger.prune(this.#host.store?.driver).then(
      (n) => n > 0 && debug('pruned %d command results', n),
      (err: Error) => debug('pruning command results failed: %s', err.message),
    );
  }
}
