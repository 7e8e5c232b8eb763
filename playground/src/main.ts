// The playground page. Everything fete-specific is a few calls: createClient with the shared
// catalogue; client.execute of the `orders.place` command, which answers the order's number
// (queued in the IndexedDB outbox when offline: it runs once the connection returns, and its
// answer is read back by command id after a reload); client.query of `orders.list` for the
// orders panel, refreshed when order events arrive; client.subscribe by pattern for the orders'
// progress and the live feed; one order's subject for the tracking panel (presence and a latest
// value). The rest is the page.
import { FeteError, createClient, isFeteError, type ClientStatus } from 'fete/client';
import { SCENARIOS, commands, topics, type Scenario } from '../shared/catalog.js';
import { fill, h, scheduler, timeOf } from './dom.js';
import { mountFeed } from './feed.js';
import { mountInspector } from './inspector.js';
import { createOfflineSwitch } from './offline-switch.js';
import { Orders, stateOf, type OrderView } from './orders.js';
import { mountTracking } from './tracking.js';
import './style.css';

const offline = createOfflineSwitch();
// Who this browser is to the others (presence): a random name kept in localStorage, so every tab
// of this browser is the same visitor (its tabs are counted as connections).
const visitor = visitorName();
const client = createClient({ url: location.origin, topics, transport: offline.transport, auth: { visitor } });

const renderOrders = scheduler(() => drawOrders());
const orders = new Orders(renderOrders);

// One subscription follows every order: `created` shows the server has it, `status` shows the
// listener's progress. From the whole log, so a reload (or another tab) sees the full picture.
client.subscribe(
  'orders.>',
  (event) => {
    if (event.topic === topics.orderCreated.name) orders.created(event.seq ?? 0, event.payload);
    else orders.status(event.seq ?? 0, event.payload.orderId, event.payload.status, event.payload.attempt, event.payload.message);
    refreshList();
  },
  { from: 'earliest' },
);

// The orders panel's record comes from the `orders.list` query: asked again (at most every
// 250 ms) when order events arrive and when the connection returns; offline, the page shows what
// it last knew.
let listing = false;
let listAgain = false;
const refreshList = debounce(async () => {
  if (listing) return void (listAgain = true);
  listing = true;
  try {
    if (client.status.connected) orders.listed(await client.query(commands.listOrders, { limit: 50 }, { timeoutMs: 10_000 }));
  } catch {
    // Offline or the server restarting: the next event or reconnect asks again.
  } finally {
    listing = false;
    if (listAgain) {
      listAgain = false;
      refreshList();
    }
  }
}, 250);

// Orders placed before a reload whose command had not answered yet: the client reads the answer
// by command id, waiting while the command is still queued in the outbox.
void orders.restored.then(() => {
  for (const { orderId, commandId } of orders.unanswered()) void awaitNumber(orderId, client.commandResult(commands.placeOrder, commandId, { timeoutMs: 24 * 3600_000 }));
});

// ---------- layout ----------
const app = document.getElementById('app')!;
const statusBar = h('div', { class: 'status-bar', id: 'status' });
const ordersList = h('div', { id: 'orders' });
const rejectedBox = h('div', { id: 'rejected' });
const feedPanel = h('section', { class: 'card', id: 'feed-panel' });
const inspectorPanel = h('section', { class: 'card', id: 'inspector-panel' });
const trackingPanel = h('section', { class: 'card', id: 'tracking-panel' });

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
const notice = h('p', { class: 'notice', id: 'order-notice', 'aria-live': 'polite', hidden: true });
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
  notice,
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
      h(
        'header',
        {},
        h('h2', {}, 'Orders'),
        h('span', { class: 'muted' }, h('code', {}, 'orders.place'), ' → ', h('code', {}, 'orders.{orderId}.created'), ' → durable listener → ', h('code', {}, 'orders.{orderId}.status')),
      ),
      orderForm,
      ordersList,
      rejectedBox,
    ),
    feedPanel,
    trackingPanel,
    inspectorPanel,
  ),
);

mountFeed(feedPanel, client);
const tracking = mountTracking(trackingPanel, client, visitor);
mountInspector(inspectorPanel);

// ---------- placing an order ----------
async function placeOrder(): Promise<void> {
  formError.hidden = true;
  const scenario = (scenarioInputs.find((i) => i.checked)?.value ?? 'ok') as Scenario;
  const order = { orderId: newOrderId(), item: item.value.trim(), quantity: Number(quantity.value), scenario, placedAt: new Date() };
  // The command id stays the same however the call goes (direct, retried, queued): the server runs
  // it once and answers the same number every time.
  const commandId = crypto.randomUUID();
  try {
    if (client.status.connected) {
      // Online: the answer comes back on the call. If the connection drops before it does, the
      // same command goes to the outbox and runs (once) when it is back.
      try {
        const placed = await client.execute(commands.placeOrder, order, { id: commandId, timeoutMs: 5000 });
        orders.place({ ...order, placedAt: order.placedAt.toISOString(), commandId });
        orders.numbered(placed.orderId, placed.number);
        item.value = randomItem();
        say(`Order #${placed.number} placed (${placed.orderId}).`);
        return;
      } catch (err) {
        if (!isFeteError(err) || (err.code !== 'TIMEOUT' && err.code !== 'NETWORK')) throw err;
      }
    }
    // Offline: validated against the command's schema, then stored in IndexedDB. From here the
    // order survives a reload, a crash or a lost connection; the answer arrives when it has run.
    const queued = await client.execute(commands.placeOrder, order, { id: commandId, queue: true });
    orders.place({ ...order, placedAt: order.placedAt.toISOString(), commandId });
    item.value = randomItem();
    say(`Order ${order.orderId} is queued in the outbox: it is placed when the connection returns.`);
    void awaitNumber(order.orderId, queued.result);
  } catch (err) {
    if (isFeteError(err) && err.code === 'INVALID_PAYLOAD') {
      formError.hidden = false;
      formError.textContent = `${err.code}: ${err.message}`;
    } else orders.rejected(order.orderId, isFeteError(err) ? err : new FeteError('INTERNAL', String(err)));
  }
}

/** The answer of a queued (or restored) `orders.place`: the number, shown, or the refusal. */
async function awaitNumber(orderId: string, result: Promise<{ orderId: string; number: number }>): Promise<void> {
  try {
    const placed = await result;
    orders.numbered(placed.orderId, placed.number);
    say(`Order #${placed.number} placed (${placed.orderId}), from the outbox.`);
  } catch (err) {
    if (isFeteError(err) && err.code !== 'CLOSED') orders.rejected(orderId, err);
  }
}

function say(text: string): void {
  notice.hidden = false;
  notice.textContent = text;
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
let wasConnected = client.status.connected;
client.on('status', (s) => {
  drawStatus(s);
  renderOrders();
  if (s.connected && !wasConnected) refreshList();
  wasConnected = s.connected;
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
  tracking.orders(list.filter((o) => o.number !== undefined).map((o) => o.orderId));
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
    { 'data-order-id': o.orderId, 'data-state': state, 'data-times': o.times ?? 0, 'data-number': o.number ?? '', 'data-listed': String(o.listed === true) },
    h(
      'td',
      {},
      o.number !== undefined ? h('strong', { class: 'order-number' }, `#${o.number} `) : null,
      h('code', {}, o.orderId),
      o.placedAt ? h('div', { class: 'muted small' }, timeOf(o.placedAt)) : null,
    ),
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
function debounce(fn: () => Promise<void>, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(() => void fn(), ms);
  };
}

function newOrderId(): string {
  return `o-${Date.now().toString(36).slice(-4)}${Math.random().toString(36).slice(2, 6)}`;
}

function visitorName(): string {
  const key = 'fete-playground:visitor';
  const kept = localStorage.getItem(key);
  if (kept) return kept;
  const pick = (words: string[]) => words[Math.floor(Math.random() * words.length)]!;
  const name = `${pick(['Teal', 'Amber', 'Coral', 'Indigo', 'Olive', 'Plum', 'Slate', 'Sage'])} ${pick(['Otter', 'Heron', 'Lynx', 'Finch', 'Marten', 'Ibex', 'Wren', 'Koi'])} ${Math.floor(Math.random() * 90 + 10)}`;
  localStorage.setItem(key, name);
  return name;
}

function randomItem(): string {
  const items = ['Espresso beans', 'Oat milk', 'Ceramic mug', 'Pour-over kettle', 'Burr grinder', 'Paper filters', 'Chai blend'];
  return items[Math.floor(Math.random() * items.length)]!;
}

renderOrders();
