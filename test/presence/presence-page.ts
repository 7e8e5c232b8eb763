// The page side of the browser presence test (runs in Chromium, served by
// test/browser/support/page-server.ts): one fete client per page, a presence view and a
// subscription, and small functions the test calls through `page.evaluate`.
import { createClient, socketTransport, type Client, type ClientSubscription, type PresenceView } from '../../client/index.js';
import { topics, type Topics } from './catalogue.js';

let client: Client<Topics> | undefined;
let view: PresenceView | undefined;
let sub: ClientSubscription<unknown> | undefined;
const log: string[] = [];

function current(): Client<Topics> {
  if (client === undefined) throw new Error('open() first');
  return client;
}

/** Opens this page's client as `user` (the test server's auth takes `{ user }`). */
export function open(user: string): void {
  client = createClient({
    url: location.origin,
    topics,
    name: `presence-${user}`,
    auth: { user },
    transport: socketTransport({ reconnectionDelay: 100, reconnectionDelayMax: 500 }),
    retry: { initialDelayMs: 50, maxDelayMs: 500 },
  });
}

/** Watches `pattern`; every change is logged as `<type> <id>x<connections> <state JSON>`. */
export async function watch(pattern: string): Promise<string[]> {
  view = current().presence(pattern);
  for (const type of ['join', 'update', 'leave'] as const)
    view.on(type, (m) => void log.push(`${type} ${m.id}x${m.connections} ${JSON.stringify(m.state) ?? '-'}`));
  await view.ready;
  return members();
}

export function members(): string[] {
  return (view?.members ?? []).map((m) => `${m.subject} ${m.id}x${m.connections} ${JSON.stringify(m.state) ?? '-'}`);
}

export function changes(): string[] {
  return [...log];
}

/** Subscribes to `subject` with a presence state; resolves when the server acknowledged it. */
export async function join(subject: string, state: unknown): Promise<void> {
  sub = current().subscribe(subject as 'rooms.x.chat', () => undefined, { presence: { state: state as never } });
  await sub.ready;
}

export function setState(state: unknown): Promise<void> {
  if (!sub) throw new Error('join() first');
  return sub.setPresence(state as never);
}

export function leave(): void {
  sub?.unsubscribe();
}
