// The playground page. Everything fete-specific is a few calls: createClient with the shared
// catalogue, client.emit for a new order (durable in IndexedDB before it resolves), and
// client.subscribe by pattern for the orders' progress and the live feed. The rest is the page.
import { createClient, isFeteError, type ClientStatus } from 'fete/client';
import { SCENARIOS, topics, type Scenario } from '../shared/catalog.js';
import { fill, h, scheduler, timeOf } from './dom.js';
import { mountFeed } from './feed.js';
import { mountInspector } from './inspector.js';
import { createOfflineSwitch } from './offline-switch.js';
import { Orders, stateOf, type OrderView } from './orders.js';
import './style.css';

const offline = createOfflineSwitch();
const client = createClient({ url: location.origin, topics, transport: offline.transport });

const renderOrders = scheduler(() => drawOrders());
const orders = new Orders(renderOrders);

// One subscription follows every order: `created` shows the server has it, `status` shows the
// listener's progress. From the whole log, so a reload (or another tab) sees the full picture.
client.subscribe(
  'orders.>',
  (event) => {
    if (event.topic === topics.orderCreated.name) orders.created(event.seq ?? 0, event.payload);
    else orders.status(event.seq ?? 0, event.payload.orderId, event.payload.status, event.payload.attempt, event.payload.message);
  },
  { from: 'earliest' },
);

// ---------- layout ----------
const app = document.getElementById('app')!;
const statusBar = h('div', { class: 'status-bar', id: 'status' });
const ordersList = h('div', { id: 'orders' });
const rejectedBox = h('div', { id: 'rejected' });
const feedPanel = h('section', { class: 'card', id: 'feed-panel' });
const inspectorPanel = h('section', { class: 'card', id: 'inspector-panel' });

const item = h('input', { id: 'order-item', value: randomItem(), maxlength: 60, required: true, 'aria-label': 'item' });
const quantity = h('input', { id: 'order-qty', type: 'number', min: 1, max: 99, value: '1', required: true, 'aria-label': 'quantity' });
const scenarioLabels: Record<Scenario, [string, string]> = {
  ok: ['Succeeds', 'processed on the first attempt'],
  flaky: ['Fails once', 'attempt 1 throws, the retry succeeds'],
  poison: ['Dead-letters', 'every attempt throws; retry it from the inspector'],
};
const scenarioInputs = SCENARIOS.map((s) =>
  h('input', { type: 'radio', name: 'scenario', value: s, checked: s === 'ok', 'data-scenario': s }),
);
const formError = h('p', { class: 'error-text', id: 'form-error', hidden: true });
const orderForm = h(
  'form',
  { id: 'order-form', onsubmit: ((e: Event) => (e.preventDefault(), void placeOrder())) as EventListener },
  h('div', { class: 'row' }, h('label', { class: 'grow' }, 'Item', item), h('label', { class: 'qty' }, 'Qty', quantity)),
  h(
    'fieldset',
    { class: 'scenarios' },
    h('legend', {}, 'The fulfilment listener'),
    ...SCENARIOS.map((s, i) =>
      h('label', { class: 'scenario' }, scenarioInputs[i]!, h('strong', {}, scenarioLabels[s][0]), h('span', { class: 'muted' }, scenarioLabels[s][1])),
    ),
  ),
  h('button', { type: 'submit', id: 'place-order' }, 'Place order'),
  formError,
);

fill(
  app,
  h(
    'header',
    { class: 'top' },
    h('div', { class: 'brand' }, h('span', { class: 'logo' }, 'fete'), h('span', { class: 'muted' }, 'playground')),
    statusBar,
  ),
  h(
    'main',
    { class: 'grid' },
    h(
      'section',
      { class: 'card', id: 'orders-panel' },
      h('header', {}, h('h2', {}, 'Orders'), h('span', { class: 'muted' }, h('code', {}, 'orders.{orderId}.created'), ' → durable listener → ', h('code', {}, 'orders.{orderId}.status'))),
      orderForm,
      ordersList,
      rejectedBox,
    ),
    feedPanel,
    inspectorPanel,
  ),
);

mountFeed(feedPanel, client);
mountInspector(inspectorPanel, (counts) => orders.fulfilled(counts));

// ---------- placing an order ----------
async function placeOrder(): Promise<void> {
  formError.hidden = true;
  const scenario = (scenarioInputs.find((i) => i.checked)?.value ?? 'ok') as Scenario;
  const order = { orderId: newOrderId(), item: item.value.trim(), quantity: Number(quantity.value), scenario, placedAt: new Date() };
  try {
    // Validated against the catalogue's schema, then stored in IndexedDB: from here the order
    // survives a reload, a crash or a lost connection. `delivered` settles on the server's ack.
    const receipt = await client.emit(topics.orderCreated, order);
    orders.place({ ...order, placedAt: order.placedAt.toISOString() });
    receipt.delivered.catch((err: unknown) => {
      if (isFeteError(err) && err.code !== 'CLOSED') orders.rejected(order.orderId, err);
    });
    item.value = randomItem();
  } catch (err) {
    formError.hidden = false;
    formError.textContent = isFeteError(err) ? `${err.code}: ${err.message}` : String(err);
  }
}

// ---------- status bar ----------
const offlineToggle = h('input', { type: 'checkbox', id: 'offline-toggle', role: 'switch', checked: offline.offline });
offlineToggle.addEventListener('change', () => offline.set(offlineToggle.checked));

function drawStatus(s: ClientStatus): void {
  const conn = s.connected ? ['ok', 'connected'] : offline.offline ? ['off', 'offline'] : ['warn', 'connecting…'];
  fill(
    statusBar,
    h('span', { class: `pill ${conn[0]}`, id: 'connection', 'data-connected': String(s.connected) }, conn[1]),
    h('span', { class: `pill ${s.pending ? 'warn' : 'neutral'}`, title: 'emits waiting in IndexedDB for the server’s ack' }, 'outbox ', h('strong', { id: 'pending-count' }, s.pending)),
    h('span', { class: 'pill neutral', title: 'the tab that drains the outbox (Web Locks)' }, s.leader ? 'leader tab' : 'follower tab'),
    // A dropped connection is already shown by the first pill; other errors (a refused emit, a
    // handler that threw) are worth a glance.
    s.lastError && s.lastError.code !== 'NETWORK' ? h('span', { class: 'last-error', title: s.lastError.message }, `last error: ${s.lastError.code}`) : null,
    h('label', { class: 'switch' }, offlineToggle, h('span', {}, 'Offline')),
  );
}
drawStatus(client.status);
client.on('status', (s) => {
  drawStatus(s);
  renderOrders();
});

// ---------- orders list ----------
const stateLabels: Record<ReturnType<typeof stateOf>, string> = {
  outbox: 'in outbox',
  received: 'received',
  processing: 'processing',
  retrying: 'retrying',
  confirmed: 'confirmed',
  'dead-lettered': 'dead letter',
  rejected: 'rejected',
};
const stateTone: Record<ReturnType<typeof stateOf>, string> = {
  outbox: 'warn',
  received: 'neutral',
  processing: 'info',
  retrying: 'warn',
  confirmed: 'ok',
  'dead-lettered': 'bad',
  rejected: 'bad',
};

function drawOrders(): void {
  const list = orders.list();
  fill(
    ordersList,
    list.length === 0
      ? h('p', { class: 'empty' }, 'No orders yet. Place one, then try the offline switch and a reload.')
      : h(
          'div',
          { class: 'table-wrap' },
          h(
            'table',
            { class: 'orders' },
            h('thead', {}, h('tr', {}, ...['order', 'item', 'listener', 'state', 'processed'].map((c) => h('th', {}, c)))),
            h('tbody', {}, ...list.map(orderRow)),
          ),
        ),
  );
  void drawRejected();
}

function orderRow(o: OrderView): HTMLTableRowElement {
  const state = stateOf(o);
  const detail =
    state === 'rejected'
      ? (o.rejected ? `${o.rejected.code}: ${o.rejected.message}` : o.rejectedText!)
      : state === 'outbox'
        ? client.status.connected
          ? 'sending…'
          : 'waits in IndexedDB until the connection returns'
        : state === 'retrying' || state === 'dead-lettered'
          ? `attempt ${o.attempt}: ${o.message ?? 'failed'}`
          : state === 'processing'
            ? `attempt ${o.attempt}`
            : state === 'confirmed'
              ? `attempt ${o.attempt}${o.attemptsBefore ? ' (after an inspector retry)' : ''}${o.loggedSeq ? ` · event #${o.loggedSeq}` : ''}`
              : o.loggedSeq
                ? `event #${o.loggedSeq}`
                : '';
  // Offline, what the rows show is what the server last confirmed (kept in IndexedDB), not news.
  const asOf = !client.status.connected && state !== 'outbox' && state !== 'rejected' ? 'as last confirmed by the server' : undefined;
  return h(
    'tr',
    { 'data-order-id': o.orderId, 'data-state': state, 'data-times': o.times ?? 0 },
    h('td', {}, h('code', {}, o.orderId), o.placedAt ? h('div', { class: 'muted small' }, timeOf(o.placedAt)) : null),
    h('td', {}, o.item ?? '—', o.quantity ? h('span', { class: 'muted' }, ` × ${o.quantity}`) : null),
    h('td', {}, o.scenario ? scenarioLabels[o.scenario][0] : '—'),
    h(
      'td',
      {},
      h('span', { class: `pill ${stateTone[state]}`, 'data-state-text': '' }, stateLabels[state]),
      h('div', { class: 'muted small detail' }, detail),
      asOf ? h('div', { class: 'muted small as-of' }, asOf) : null,
    ),
    h('td', { class: 'num' }, o.times ? h('span', { class: o.times === 1 ? 'once' : 'bad' }, `×${o.times}`) : '—'),
  );
}

async function drawRejected(): Promise<void> {
  const rejected = await client.outbox.rejected();
  if (rejected.length === 0) return fill(rejectedBox);
  fill(
    rejectedBox,
    h('h3', {}, 'Rejected by the server'),
    h('ul', { class: 'dead-list' }, ...rejected.map((r) => h('li', {}, h('code', {}, r.topic), h('div', { class: 'error-text' }, `${r.error.code}: ${r.error.message}`)))),
    h('button', { class: 'small secondary', onclick: (() => void client.outbox.discardRejected().then(drawOrders)) as EventListener }, 'Dismiss'),
  );
}

// ---------- helpers ----------
function newOrderId(): string {
  return `o-${Date.now().toString(36).slice(-4)}${Math.random().toString(36).slice(2, 6)}`;
}

function randomItem(): string {
  const items = ['Espresso beans', 'Oat milk', 'Ceramic mug', 'Pour-over kettle', 'Burr grinder', 'Paper filters', 'Chai blend'];
  return items[Math.floor(Math.random() * items.length)]!;
}

renderOrders();
