// What of an event leaves the server for a browser (Socket.IO `ev`/`evs` and SSE `data:`): the envelope
// without its `context`. The context is the emitter's captured async context (the principal that
// `auth` returned, with whatever it holds, and the values of the app's context codecs): server-side
// state that only listeners restore. Who acted is in the `actor` header, which stays.
import { type Envelope, type WireEnvelope, encodeEnvelope, toWireEnvelope } from '../../shared/index.js';

const NO_CONTEXT: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** The envelope as browsers see it: everything but the captured context. */
export function browserEnvelope(e: Envelope): Envelope {
  return { ...e, context: NO_CONTEXT };
}

/** `browserEnvelope(e)`, encoded for the wire (once per event: the same text goes to every receiver). */
export function encodeForBrowser(e: Envelope): string {
  return encodeEnvelope(browserEnvelope(e));
}

/** `browserEnvelope(e)` as the object Socket.IO sends in `ev` / `evs` (once per event, shared by
 * every receiver; Socket.IO serializes it within the packet, so the client parses it once). */
export function wireForBrowser(e: Envelope): WireEnvelope {
  return toWireEnvelope(browserEnvelope(e));
}
