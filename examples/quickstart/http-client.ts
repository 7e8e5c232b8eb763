// http-client.ts: fete over plain HTTP, for services and scripts without the client SDK.
import { decodeEnvelope } from 'fete/shared';

/** POST /fete/emit: one item (or an array of up to 100). The answer has one result per item:
 * { id, status: 'accepted' | 'duplicate', seq } (a log topic; `version` instead for a latest topic,
 * neither for a volatile one) or { id, status: 'rejected', error: { code, message } }. */
export async function emitOverHttp(base: string, token: string, orderId: string) {
  const res = await fetch(`${base}/fete/emit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({
      topic: 'orders.{orderId}.created', // the topic's name (its template)
      payload: { orderId, item: 'tea' },
      idempotencyKey: `order-${orderId}`, // optional; or "id": a UUID of your own
    }),
  });
  return { status: res.status, body: (await res.json()) as { results: Array<{ id: string; status: string; seq?: number; version?: number }> } };
}

/** GET /fete/stream?pattern=…&from=…: Server-Sent Events. `from` is 'latest' (default), 'earliest'
 * or a cursor; on reconnect EventSource sends Last-Event-ID and resumes after it. Each event is
 *   id: <epoch>:<seq>\nevent: <topic name>\ndata: <superjson envelope>\n\n
 * (plus `retry:` and `: ping` comments). `decodeEnvelope(data)` gives the envelope back. */
export async function readStream(base: string, token: string, pattern: string, count: number) {
  const res = await fetch(`${base}/fete/stream?pattern=${encodeURIComponent(pattern)}&from=earliest`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const events: Array<{ seq: number; topic: string; payload: unknown }> = [];
  let buffer = '';
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const lines = frame.split('\n');
      if (lines.includes('event: gap')) continue; // the log could not cover the resume: see the README
      const data = lines.find((line) => line.startsWith('data: '));
      if (data === undefined) continue; // retry: / comments
      const envelope = decodeEnvelope(data.slice('data: '.length));
      events.push({ seq: envelope.seq!, topic: envelope.topic, payload: envelope.payload });
    }
  }
  await reader.cancel();
  return events;
}
