// The `cmd` packet of a socket (and the body of the HTTP command routes): a command or query call
// from a browser, answered through its ack. Every field is untrusted: the id must be a UUID, the
// name a declared one, the input superjson text decoded with the size bound and the prototype-key
// walk; then the owner's schema validates it and `authorize.command` (deny by default) judges it
// before anything runs. Failures are answered with a code, never thrown past the session.
import {
  type CmdAck,
  type CmdError,
  DEFAULT_MAX_ENVELOPE_BYTES,
  FeteError,
  type RequestKind,
  decodeValue,
  encodeValue,
  isUuid,
} from '../../shared/index.js';
import type { CommandBus } from '../commands/command-bus.js';
import { allowed, toWireError } from './client-emit.js';
import type { Caller } from '../security/security.js';
import type { FanoutAuthorize } from './types.js';

/** The part of a fete the doors need for commands (any `Fete<C>` fits). */
export interface CommandTarget {
  readonly commands?: CommandBus;
}

export interface CommandCaller {
  /** Who calls, as the door authenticated it (security/security.ts): principal and tenant. */
  caller: Caller;
  authorize: FanoutAuthorize<unknown> | undefined;
  /** Largest encoded input accepted, in UTF-8 bytes. @default 1 MiB */
  maxPayloadBytes?: number | undefined;
}

/** A failure as the caller sees it: the code, the message (INTERNAL's hidden) and the app's reason. */
export function toCmdError(err: unknown): CmdError {
  const e = FeteError.from(err);
  const reason = e.code === 'REJECTED' ? e.details?.reason : undefined;
  return typeof reason === 'string' ? { ...toWireError(e), reason } : toWireError(e);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Runs one call from a browser; `kind` is what the door was asked for (a socket `cmd` runs
 * whatever kind `name` is declared as). Resolves with the output; rejects with a FeteError. */
export async function callFromClient(
  target: CommandTarget,
  caller: CommandCaller,
  call: { kind?: RequestKind; id: unknown; name: unknown; input: unknown; encoded: boolean },
): Promise<unknown> {
  const bus = target.commands;
  if (!bus) throw new FeteError('NO_HANDLER', 'this server has no commands');
  if (typeof call.name !== 'string') throw new FeteError('MALFORMED', 'the command name must be a string');
  const decl = bus.declaration(call.name);
  const kind = call.kind ?? decl?.kind ?? 'command';
  const hook = caller.authorize?.command;
  // A door nobody opened does no work: without the hook nothing is decoded or validated (an input
  // schema may be costly, or refine against the database), and a name without an owner is not told
  // apart from one with (probe3: callers no hook could ever allow had their input validated).
  if (!hook) throw denied(kind, call.name);
  if (kind === 'command' && !isUuid(call.id)) throw new FeteError('MALFORMED', 'a command id must be a UUID');
  const maxBytes = caller.maxPayloadBytes ?? DEFAULT_MAX_ENVELOPE_BYTES;
  const input = call.encoded ? decodeValue(call.input, { maxBytes }) : call.input;
  return bus.call({
    kind,
    name: call.name,
    input,
    id: kind === 'command' ? (call.id as string) : undefined,
    principal: caller.caller.principal,
    tenant: caller.caller.tenant,
    // A browser runs only what the app's hook allows, judged on the validated input.
    authorize: async (name, validated) => {
      await allowed(() => hook(caller.caller.principal, name, validated, kind), `${kind} "${name}"`);
    },
  });
}

/** The answer of the door when no `authorize.command` hook is configured (deny by default). */
function denied(kind: RequestKind, name: string): FeteError {
  return new FeteError(
    'FORBIDDEN',
    `${kind} ${JSON.stringify(name.slice(0, 140))} is denied: commands and queries from browsers and HTTP run only where createFete({ security: { authorize: { command: (principal, name, input, kind) => boolean } } }) allows them`,
  );
}

/** The recorded output of command `id` for a browser caller (its principal and tenant only; with
 * `name`, only a call of that command); see CommandBus.commandResult. Rejects with a FeteError:
 * the recorded one, NOT_FOUND, MALFORMED. */
export async function resultForClient(target: CommandTarget, caller: CommandCaller, id: unknown, name: unknown): Promise<{ name: string; value: unknown }> {
  const bus = target.commands;
  if (!bus) throw new FeteError('NOT_FOUND', 'this server has no commands');
  if (name !== undefined && typeof name !== 'string') throw new FeteError('MALFORMED', 'the command name must be a string');
  const decl = name === undefined ? undefined : bus.declaration(name);
  if (name !== undefined && decl?.kind !== 'command') throw new FeteError('NOT_FOUND', `no recorded outcome of command ${String(id)}`);
  return bus.commandResult(id, { principal: caller.caller.principal, tenant: caller.caller.tenant }, decl);
}

/** Runs `answer` and sends its value, or the error it threw, through the ack. Never throws: a
 * socket gone before the ack asks again (a `cmd` retried with its id gets the recorded result). */
async function ackWith(ack: (res: CmdAck) => void, answer: () => Promise<unknown>): Promise<void> {
  let res: CmdAck;
  try {
    res = { ok: true, result: encodeValue(await answer()) };
  } catch (err) {
    res = { ok: false, error: toCmdError(err) };
  }
  try {
    ack(res);
  } catch {
    // A disconnected socket.
  }
}

/** Answers a socket's `cmdr` packet (a command's recorded result) through its ack. Never throws. */
export function answerResultPacket(target: CommandTarget, caller: CommandCaller, packet: unknown, ack: (res: CmdAck) => void): Promise<void> {
  return ackWith(ack, async () => {
    if (!isObject(packet)) throw new FeteError('MALFORMED', 'cmdr expects { id, name? }');
    return (await resultForClient(target, caller, packet.id, packet.name)).value;
  });
}

/** Answers a socket's `cmd` packet through its ack. Never throws. */
export function answerCommandPacket(target: CommandTarget, caller: CommandCaller, packet: unknown, ack: (res: CmdAck) => void): Promise<void> {
  return ackWith(ack, () => {
    if (!isObject(packet)) throw new FeteError('MALFORMED', 'cmd expects { id, name, input }');
    return callFromClient(target, caller, { id: packet.id, name: packet.name, input: packet.input, encoded: true });
  });
}
