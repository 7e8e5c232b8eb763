// The page side of the browser command test (served by page-server.ts): one client per page load,
// queueing commands in the IndexedDB outbox and reading their results by command id.
import { createClient, socketTransport, type Client } from '../../../client/index.js';
import { topics, type Topics } from './catalogue.js';
import { commands } from './command-catalogue.js';

let client: Client<Topics> | undefined;

function current(): Client<Topics> {
  if (client === undefined) throw new Error('open() first');
  return client;
}

export function open(): void {
  client = createClient({
    url: location.origin,
    topics,
    name: 'command-test',
    transport: socketTransport({ reconnectionDelay: 100, reconnectionDelayMax: 500 }),
    retry: { initialDelayMs: 50, maxDelayMs: 500 },
    pollIntervalMs: 200,
  });
}

export function status(): { connected: boolean; leader: boolean; pending: number } {
  const s = current().status;
  return { connected: s.connected, leader: s.leader, pending: s.pending };
}

/** Queues `orders.place` in the outbox; resolves with its command id once durably queued. */
export async function queuePlace(sku: string): Promise<string> {
  const receipt = await current().execute(commands.place, { sku }, { queue: true });
  return receipt.id;
}

/** The result of a queued command by id (waits while it is queued), as JSON-safe values. */
export async function result(id: string): Promise<{ number: number; at: string; isDate: boolean }> {
  const out = await current().commandResult(commands.place, id);
  return { number: out.number, at: out.at.toISOString(), isDate: out.at instanceof Date };
}
