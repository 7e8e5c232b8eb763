// `client.execute` / `client.query` without the outbox: one `cmd` over the connection, answered
// through its ack. The call keeps its id across resends, so when the connection drops before the
// ack (the server may or may not have run it) it is sent again after the reconnect and the server
// answers with the recorded result instead of running the command twice. Retryable answers (the
// store down, the socket's command limit) are retried with backoff; everything stops at `timeoutMs`.
import {
  FeteError,
  type AnyRequest,
  type CmdAck,
  type RequestKind,
  decodeValue,
  encodeValue,
  isRequestDecl,
  isUuid,
  uuidv7,
  validateRequestInput,
} from '../shared/index.js';
import { backoffDelay, type RetryOptions } from './backoff.js';
import { fromCmdError } from './command-ack.js';
import type { Transport } from './transport.js';

export interface CallOptions {
  /** Give up after this long (connection waits and resends included), failing TIMEOUT. @default 30_000 */
  timeoutMs?: number;
  /** The command id, a UUID: a call with an id the server already ran answers its recorded result.
   * Ignored for queries. @default a new UUIDv7 */
  id?: string;
}

export interface CommandCallerOptions {
  transport: Transport;
  retry: Required<RetryOptions>;
  maxEnvelopeBytes: number;
}

/** Server answers worth sending again with the same id: the server or its store had a bad moment. */
const RETRY_CODES = new Set(['STORE_UNAVAILABLE', 'TIMEOUT', 'RATE_LIMITED', 'CLOSED', 'NETWORK']);
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

const encoder = new TextEncoder();

function checkTimeout(timeoutMs: number | undefined): number {
  const t = timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  if (!(t > 0)) throw new FeteError('INVALID_OPTIONS', `timeoutMs must be a positive number, got ${String(t)}`);
  return t;
}

/** Checks a call at the edge and encodes its input; throws what the server would answer. */
export async function prepareCall(kind: RequestKind, decl: unknown, input: unknown, id: string | undefined, maxBytes: number): Promise<{ decl: AnyRequest; id: string; encoded: string }> {
  if (!isRequestDecl(decl) || decl.kind !== kind)
    throw new FeteError('INVALID_OPTIONS', `client.${kind === 'command' ? 'execute' : 'query'} expects a ${kind} declared with define${kind === 'command' ? 'Command' : 'Query'}`);
  if (id !== undefined && !isUuid(id)) throw new FeteError('MALFORMED', `a command id must be a UUID, got ${JSON.stringify(id)}`);
  // Checked here for an early, local error; the server checks again (and applies transforms itself).
  await validateRequestInput(decl, input);
  const encoded = encodeValue(input);
  const size = encoded.length * 3 <= maxBytes ? encoded.length : encoder.encode(encoded).length;
  if (size > maxBytes) throw new FeteError('TOO_LARGE', `the ${kind} input is ${size} bytes, over the limit of ${maxBytes}`, { details: { size, max: maxBytes } });
  return { decl, id: id ?? uuidv7(), encoded };
}

/** The output in an ok ack, decoded as untrusted input. */
export function decodeResult(result: string, maxBytes: number): unknown {
  return decodeValue(result, { maxBytes });
}

export class CommandCaller {
  readonly #o: CommandCallerOptions;
  readonly #connectWaiters = new Set<() => void>();
  #closed = false;

  constructor(options: CommandCallerOptions) {
    this.#o = options;
  }

  /** A connection is up: calls waiting for one send now. */
  connected(): void {
    for (const w of [...this.#connectWaiters]) w();
  }

  /** Calls still waiting fail CLOSED. */
  close(): void {
    this.#closed = true;
    this.connected();
  }

  async call(kind: RequestKind, decl: unknown, input: unknown, options: CallOptions = {}): Promise<unknown> {
    if (this.#closed) throw new FeteError('CLOSED', 'the client is closed');
    const timeoutMs = checkTimeout(options.timeoutMs);
    const prepared = await prepareCall(kind, decl, input, kind === 'command' ? options.id : undefined, this.#o.maxEnvelopeBytes);
    const packet = { id: prepared.id, name: prepared.decl.name, input: prepared.encoded };
    const { transport } = this.#o;
    if (!transport.cmd) throw new FeteError('NETWORK', 'this transport cannot send commands');
    return this.#exchange(`${kind} "${prepared.decl.name}"`, prepared.id, timeoutMs, (left) => transport.cmd!(packet, left));
  }

  /** The server's recorded result of command `id` (`cmdr`), as this connection's principal ran it;
   * `name` restricts it to a call of that command. Rejects with the recorded error, NOT_FOUND, or
   * as `call` does (TIMEOUT, CLOSED); waits for a connection like `call`. */
  async result(id: string, name: string | undefined, options: Pick<CallOptions, 'timeoutMs'> = {}): Promise<unknown> {
    if (this.#closed) throw new FeteError('CLOSED', 'the client is closed');
    const timeoutMs = checkTimeout(options.timeoutMs);
    if (!isUuid(id)) throw new FeteError('MALFORMED', `a command id must be a UUID, got ${JSON.stringify(id)}`);
    const packet = name === undefined ? { id } : { id, name };
    const { transport } = this.#o;
    if (!transport.cmdResult) throw new FeteError('NOT_FOUND', `no queued command ${id}, and this transport cannot ask the server for results`, { details: { id } });
    return this.#exchange(`the result of command ${id}`, id, timeoutMs, (left) => transport.cmdResult!(packet, left));
  }

  /** Sends with `send` until an answer that is not worth retrying, or `timeoutMs`. */
  async #exchange(what: string, id: string, timeoutMs: number, send: (left: number) => Promise<CmdAck>): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    const { transport } = this.#o;
    let attempt = 0;
    let last: FeteError | undefined;
    for (;;) {
      if (this.#closed) throw new FeteError('CLOSED', 'the client closed before the server answered');
      const left = deadline - Date.now();
      if (left <= 0) throw new FeteError('TIMEOUT', `${what} got no answer within ${timeoutMs} ms${last ? ` (last: ${last.message})` : ''}`, { details: { id }, cause: last });
      if (!transport.connected) {
        await this.#whenConnected(left);
        continue;
      }
      let ack: CmdAck;
      try {
        ack = await send(left);
      } catch (err) {
        last = FeteError.from(err, 'NETWORK');
        // Dropped before the answer: the server may have run it. Same id again after the reconnect.
        if (last.code === 'NETWORK') {
          // Still connected by the transport's account: pause, so that a flapping socket is not hammered.
          if (transport.connected) await new Promise((r) => setTimeout(r, Math.min(backoffDelay(attempt++, this.#o.retry), Math.max(0, deadline - Date.now()))));
          continue;
        }
        throw new FeteError(last.code, last.message, { details: { id }, cause: last });
      }
      if (ack.ok) return decodeResult(ack.result, this.#o.maxEnvelopeBytes);
      const error = fromCmdError(ack.error);
      if (!RETRY_CODES.has(error.code)) throw error;
      last = error;
      await new Promise((r) => setTimeout(r, Math.min(backoffDelay(attempt++, this.#o.retry), Math.max(0, deadline - Date.now()))));
    }
  }

  #whenConnected(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#connectWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.#connectWaiters.add(done);
    });
  }
}
