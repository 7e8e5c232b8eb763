// Commands and queries over plain HTTP, through the same path as the socket's `cmd` packet
// (callFromClient: catalogue lookup, bounded decode, schema, `authorize.command` deny-by-default):
//   POST /commands/:name   body { id?, input, meta? }     200 { id, result, meta? } | 4xx/5xx { error }
//   POST /queries/:name    body { input, meta? }          200 { result, meta? }
//   GET  /queries/:name?input=<JSON>                      200 { result, meta? }
//   GET  /commands/results/:id[?name=<command>]           200 { id, name, result, meta? }
// A recorded result is read back only by the principal that ran the command, in its tenant
// (another one gets 404 NOT_FOUND, as for an id never run); a recorded failure answers as the
// command did (REJECTED 422 with its reason...).
// `input`/`result` are JSON; `meta` is superjson's (Dates, BigInt, Maps survive when a client sends
// or reads it). The command id (a UUID) comes from the body or an `Idempotency-Key` header; a
// retried request with the same id gets the first result. Errors: `{ error: { code, message,
// reason? } }` with the code's status (REJECTED 422, NO_HANDLER 503, FORBIDDEN 403...).
import type { Request, Response, Router } from 'express';
import { expressModule } from './express-module.js';
import superjson from 'superjson';
import { FeteError, type RequestKind, uuidv7 } from '../../shared/index.js';
import { type CommandTarget, callFromClient, resultForClient, toCmdError } from '../fanout/command-packet.js';
import type { Security } from '../security/security.js';
import { authenticate } from './authenticate.js';
import { httpStatusOf } from './http-errors.js';
import { jsonText, parseJsonBody } from './json-body.js';
import type { ResolvedExpressOptions } from './options.js';
import { stringParam } from './query-params.js';

/** What the command routes need of a fete: its commands and its one security config. */
type CommandDoorTarget = CommandTarget & { readonly security: Security };

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

async function answer(req: Request, res: Response, fete: CommandDoorTarget, o: ResolvedExpressOptions, kind: RequestKind, body: Record<string, unknown>, id: unknown): Promise<void> {
  try {
    const caller = await authenticate(req, fete.security);
    // Re-encoded as superjson text, so the input takes the same bounded, prototype-safe decode as a socket's.
    const encoded = JSON.stringify(body.meta === undefined ? { json: body.input } : { json: body.input, meta: body.meta });
    const value = await callFromClient(fete, { caller, authorize: fete.security.authorize, maxPayloadBytes: o.maxPayloadBytes }, { kind, id, name: req.params.name, input: encoded, encoded: true });
    const { json, meta } = superjson.serialize(value);
    res.status(200).json({ ...(kind === 'command' ? { id } : {}), result: json ?? null, ...(meta ? { meta } : {}) });
  } catch (err) {
    res.status(httpStatusOf(err)).json({ error: toCmdError(err) });
  }
}

/** GET /inspector/commands: the owners registered in this process and its recent calls. */
export function commandInspectorRoutes(fete: CommandTarget): Router {
  const r = expressModule().Router();
  r.get('/commands', (_req: Request, res: Response) => {
    const bus = fete.commands;
    res.json(bus ? { commands: bus.owners(), counts: bus.metrics.counts(), ...bus.metrics.recent() } : { commands: [], counts: [], results: [], failures: [] });
  });
  return r;
}

export function commandRoutes(fete: CommandDoorTarget, o: ResolvedExpressOptions): Router {
  const r = expressModule().Router();
  const body = jsonText(o.maxBodyBytes);

  r.post('/commands/:name', body, async (req: Request, res: Response) => {
    const b = parseJsonBody(req);
    if (!isObject(b)) throw new FeteError('MALFORMED', 'the body must be an object { id?, input }');
    const header = req.get('idempotency-key');
    const id = b.id ?? header ?? uuidv7();
    await answer(req, res, fete, o, 'command', b, id);
  });

  r.get('/commands/results/:id', async (req: Request, res: Response) => {
    const id = req.params.id;
    try {
      const caller = await authenticate(req, fete.security);
      const recorded = await resultForClient(fete, { caller, authorize: fete.security.authorize }, id, stringParam(req.query.name, 'name'));
      const { json, meta } = superjson.serialize(recorded.value);
      res.status(200).json({ id, name: recorded.name, result: json ?? null, ...(meta ? { meta } : {}) });
    } catch (err) {
      res.status(httpStatusOf(err)).json({ error: toCmdError(err) });
    }
  });

  r.post('/queries/:name', body, async (req: Request, res: Response) => {
    const b = parseJsonBody(req);
    if (!isObject(b)) throw new FeteError('MALFORMED', 'the body must be an object { input }');
    await answer(req, res, fete, o, 'query', b, undefined);
  });

  r.get('/queries/:name', async (req: Request, res: Response) => {
    const text = stringParam(req.query.input, 'input');
    let input: unknown;
    try {
      input = text === undefined ? undefined : JSON.parse(text);
    } catch (err) {
      throw new FeteError('MALFORMED', 'input must be JSON', { cause: err });
    }
    await answer(req, res, fete, o, 'query', { input }, undefined);
  });

  return r;
}
