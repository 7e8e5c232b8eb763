// The `cmd` ack as the client accepts it (shape checked: it comes off the network), and its error as
// a FeteError: known codes kept (REJECTED with the app's `reason` in details), unknown ones INTERNAL.
import { FeteError, FeteErrorCode, type CmdAck, type CmdError } from '../shared/index.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

export function isCmdAck(value: unknown): value is CmdAck {
  if (!isObject(value)) return false;
  if (value.ok === true) return typeof value.result === 'string';
  const e = value.error;
  return value.ok === false && isObject(e) && typeof e.code === 'string' && typeof e.message === 'string' && (e.reason === undefined || typeof e.reason === 'string');
}

export function fromCmdError(error: CmdError): FeteError {
  const known = Object.hasOwn(FeteErrorCode, error.code);
  const details: Record<string, unknown> = {};
  if (!known) details.code = error.code;
  if (error.reason !== undefined) details.reason = error.reason;
  return new FeteError(known ? error.code : 'INTERNAL', error.message, Object.keys(details).length > 0 ? { details } : {});
}
