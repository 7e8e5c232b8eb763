// browser.ts: the page's side. In a page: startShop(location.origin, getToken(), render).
import { createClient } from 'fete/client';
import { topics } from './topics.js';

export function startShop(url: string, token: string, render: (orderId: string, status: string) => void) {
  const client = createClient({ url, topics, auth: () => ({ token }) });
  client.subscribe('orders.*.status', (ev) => render(ev.payload.orderId, ev.payload.status));
  client.on('status', (s) => console.info('connected:', s.connected, 'waiting in the outbox:', s.pending));
  // Refused handshakes (a wrong token), rejected emits, network trouble: nothing fails silently.
  client.on('error', (err) => console.warn('fete:', err.code, err.message));

  async function placeOrder(orderId: string, item: string) {
    const receipt = await client.emit(topics.orderCreated, { orderId, item }); // in IndexedDB now
    await receipt.delivered; // the server has it (accepted, or a duplicate of an earlier send)
  }
  return { client, placeOrder };
}
