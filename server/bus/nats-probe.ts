// Checks that a NATS server answers before the NATS client is asked to connect to it, on sockets
// this file owns and always closes.
//
// Why: @nats-io/transport-node 3.3 leaves a socket open when the handshake of a first connect
// times out (its close does nothing on a transport that never reached `connected`; nats.js issue
// #64, and the dial of a blackholed address is never cancelled). Against a host that accepts and
// never answers, each attempt of the bus's retry loop left one socket behind for good (measured:
// three attempts, three sockets open); against a blackholed one, until the kernel gives up on the
// SYN (about two minutes). The client's own reconnects, once connected, were measured not to. The probe costs one TCP
// connection and NATS's INFO line per attempt; it reads nothing else and sends nothing.
import { connect } from 'node:net';

export interface NatsAddress {
  host: string;
  port: number;
}

export type ProbeOutcome =
  /** A server sent INFO (or, TLS first, accepted the connection). */
  | { outcome: 'answered' }
  /** None answered within the time given, and not all of them refused. */
  | { outcome: 'silent' }
  /** Every server failed at once (refused, unknown host, not NATS): the first error. */
  | { outcome: 'failed'; error: Error }
  /** The servers are not in a form this file reads: the NATS client is left to judge them. */
  | { outcome: 'skipped' };

/** The address of each server of the NATS options (`nats://h:p`, `tls://h:p`, `h:p`, `h`; the
 * client's default 127.0.0.1:4222, or its `port` option, without `servers`); undefined when one
 * cannot be read. */
export function natsAddresses(options: { servers?: string | string[] | undefined; port?: number | undefined }): NatsAddress[] | undefined {
  const servers = [options.servers ?? `127.0.0.1:${options.port ?? 4222}`].flat();
  const out: NatsAddress[] = [];
  for (const s of servers) {
    let url: URL;
    try {
      // A scheme URL does not special-case: no default port is dropped (http would drop :80).
      url = new URL(s.includes('://') ? s.replace(/^[a-z]+:\/\//i, 'nats://') : `nats://${s}`);
    } catch {
      return undefined;
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (host === '') return undefined;
    out.push({ host, port: url.port === '' ? 4222 : Number(url.port) });
  }
  return out;
}

/** Connects to every address at once and resolves with the first that answers, or why none did,
 * within `timeoutMs`. `info`: wait for NATS's INFO line (false for TLS-first servers, which send
 * nothing before the TLS handshake: then an accepted connection is enough). Every socket is
 * destroyed before this resolves. */
export function probeNats(addresses: readonly NatsAddress[], timeoutMs: number, info = true): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const sockets = addresses.map((a) => connect({ host: a.host, port: a.port }));
    const errors: Error[] = [];
    let settled = false;
    const done = (outcome: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      for (const s of sockets) s.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done({ outcome: 'silent' }), timeoutMs);
    const failed = (err: Error) => {
      errors.push(err);
      if (errors.length === sockets.length) done({ outcome: 'failed', error: errors[0]! });
    };
    for (const s of sockets) {
      let out = false;
      const fail = (err: Error) => {
        if (out) return;
        out = true;
        failed(err);
      };
      s.once('connect', () => {
        if (!info) done({ outcome: 'answered' });
      });
      let head = '';
      s.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (head.length < 5) return;
        if (head.startsWith('INFO ')) done({ outcome: 'answered' });
        else {
          fail(new Error(`not a NATS server (it sent ${JSON.stringify(head.slice(0, 20))})`));
          s.destroy();
        }
      });
      s.once('error', fail);
      s.once('close', () => fail(new Error('the connection was closed before NATS said INFO')));
    }
    if (sockets.length === 0) done({ outcome: 'skipped' });
  });
}
