// The live feed: a subscription by a pattern the user types (`orders.*.status`, `orders.>`), from
// the latest event or the whole log. Each event is typed by the catalogue (the pattern's union of
// topics); an invalid pattern is refused before anything is sent, and shown.
import { isFeteError, type Client, type ClientSubscription, type Envelope } from 'fete/client';
import type { Topics } from '../shared/catalog.js';
import { fill, h, scheduler, timeOf } from './dom.js';

const MAX_ROWS = 150;

export function mountFeed(root: HTMLElement, client: Client<Topics>): void {
  const kinds = new Map<string, string>(Object.values(client.topics).map((t) => [t.name, t.kind]));
  let sub: ClientSubscription | undefined;
  let rows: Envelope[] = [];
  let state: { kind: 'idle' | 'pending' | 'live' | 'offline' | 'error'; text: string } = { kind: 'idle', text: '' };
  let current = '';

  const pattern = h('input', { id: 'feed-pattern', value: 'orders.>', spellcheck: false, autocomplete: 'off', 'aria-label': 'pattern' });
  const from = h('select', { id: 'feed-from', 'aria-label': 'start from' }, h('option', { value: 'latest' }, 'new events'), h('option', { value: 'earliest' }, 'whole log'));
  const stateEl = h('span', { class: 'sub-state' });
  const list = h('ol', { class: 'feed', id: 'feed' });
  const render = scheduler(() => {
    stateEl.className = `sub-state ${state.kind}`;
    stateEl.textContent = state.text;
    fill(
      list,
      ...(rows.length === 0
        ? [h('li', { class: 'empty' }, state.kind === 'error' ? 'No subscription.' : 'Waiting for events… place an order.')]
        : rows.map((e) =>
            h(
              'li',
              { class: `kind-${kinds.get(e.topic) ?? 'domain'}` },
              h('span', { class: 'seq' }, `#${e.seq ?? '?'}`),
              h('span', { class: 'time' }, timeOf(e.time)),
              h('code', { class: 'subject' }, e.subject),
              h('code', { class: 'payload' }, JSON.stringify(e.payload, (_k, v: unknown) => (v instanceof Date ? v.toISOString() : v))),
            ),
          )),
    );
  });

  const subscribe = () => {
    sub?.unsubscribe();
    sub = undefined;
    rows = [];
    const p = pattern.value.trim();
    try {
      const s = client.subscribe(p, (event) => {
        rows = [event, ...rows].slice(0, MAX_ROWS);
        render();
      }, { from: from.value === 'earliest' ? 'earliest' : 'latest' });
      sub = s;
      current = p;
      state = client.status.connected ? { kind: 'pending', text: `subscribing to ${p}…` } : offlineState();
      s.ready.then(
        () => {
          if (sub === s) state = client.status.connected ? { kind: 'live', text: `live on ${p}` } : offlineState();
          render();
        },
        (err: unknown) => {
          if (sub === s) state = { kind: 'error', text: isFeteError(err) ? `${err.code}: ${err.message}` : String(err) };
          render();
        },
      );
    } catch (err) {
      state = { kind: 'error', text: isFeteError(err) ? `${err.code}: ${err.message}` : String(err) };
    }
    render();
  };

  // The subscription resumes by itself from its cursor after a reconnect (the client resubscribes);
  // the label follows the connection, so the feed never claims to be live while offline.
  const offlineState = () => ({ kind: 'offline' as const, text: `offline · resumes on ${current} when back` });
  client.on('status', (s) => {
    if (state.kind === 'error' || state.kind === 'idle' || sub === undefined) return;
    const next = s.connected ? { kind: 'live' as const, text: `live on ${current}` } : offlineState();
    if (next.kind === state.kind) return;
    state = next;
    render();
  });

  const form = h(
    'form',
    { class: 'row', onsubmit: ((e: Event) => (e.preventDefault(), subscribe())) as EventListener },
    pattern,
    from,
    h('button', { type: 'submit', class: 'secondary' }, 'Subscribe'),
  );
  fill(
    root,
    h('header', {}, h('h2', {}, 'Live feed'), stateEl),
    h('p', { class: 'hint' }, 'NATS-style patterns: ', h('code', {}, '*'), ' is one token, ', h('code', {}, '>'), ' the rest. Try ', h('code', {}, 'orders.*.status'), '.'),
    form,
    list,
  );
  subscribe();
}
