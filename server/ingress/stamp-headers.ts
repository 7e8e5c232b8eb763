// Server headers: who acted and for which tenant are the server's to say. The one place where an
// admitted envelope gets them (and the context codecs' snapshot), for every door. A client's headers
// pass security/client-headers.ts (actor and tenant dropped, traceparent only in W3C form, sizes
// bounded); its tenant is stamped by the tenant codec from `runInTenant` (fanout/client-emit.ts).
import { type Envelope, type TopicCatalog, subjectOf } from '../../shared/index.js';
import type { Contexts } from '../context/context-registry.js';
import { clientHeaders } from '../security/client-headers.js';
import { resolveTopic } from './resolve-topic.js';

/** Where an emit came in: the server's own code (`fete.emit`, `tx.emit`, `ctx.emit`) is trusted
 * with every header; a client door (Socket.IO, HTTP) is not. */
export type Door = 'server' | 'client';

/**
 * The headers and context of an envelope admitted from `door`, captured from the current async
 * context (run it inside `runAs(principal, ...)` for a client). A server emit's own headers win
 * over captured ones; a client's pass `clientHeaders` first (server-owned ones dropped).
 */
export function stampServerHeaders(contexts: Contexts, given: Record<string, string>, door: Door): { headers: Record<string, string>; context: Record<string, unknown> } {
  // The headers only the server may set (actor, tenant, every context codec's) are dropped here.
  const headers = door === 'client' ? clientHeaders(given, contexts.carriedHeaders) : { ...given };
  const captured = contexts.capture(headers);
  return { headers: { ...captured.headers, ...headers }, context: captured.context };
}

/** Stamps an envelope ingress made (in place: the same object keeps the payload text ingress
 * encoded, see `encodePayloadOf`) with its server headers and context; see stampServerHeaders. */
export function stampEnvelope<E extends Envelope>(contexts: Contexts, envelope: E, door: Door): E {
  const { headers, context } = stampServerHeaders(contexts, envelope.headers, door);
  envelope.headers = headers;
  envelope.context = context;
  return envelope;
}

/** What `fete.log.append` does to an envelope a client door admitted: a cheap re-check that it
 * names a catalogue topic and that its subject is its payload's (no schema run: that happened
 * once, in ingress), then the server headers, stamped as for a client. */
export function stampAdmitted(catalog: TopicCatalog, contexts: Contexts, envelope: Envelope): Envelope {
  const topic = resolveTopic(catalog, envelope.topic);
  envelope.subject = subjectOf(topic, envelope.payload);
  return stampEnvelope(contexts, envelope, 'client');
}
