// The tracking panel: who is looking at an order, and where its courier is. Both come from one
// subscription to the order's subject `tracking.<orderId>`: presence lists the tabs subscribed to
// it (`client.presence`, joins and leaves as tabs open and close), and the `latest` topic gives
// the courier's current position first, then each move, and says when the position is gone
// (`onCleared`: cleared by the server when the courier arrives, or expired after its ttl).
import { isFeteError, type Client, type ClientSubscription, type PresenceView } from 'fete/client';
import { topics, type Topics } from '../shared/catalog.js';
import { fill, h, scheduler, timeOf } from './dom.js';

type Courier = { stop: number; stops: number; etaMinutes: number };
type Gone = 'cleared' | 'expired' | 'gone';

export interface Tracking {
  /** The orders that can be tracked changed (newest first): the first one is tracked if none is. */
  orders(ids: readonly string[]): void;
}

export function mountTracking(root: HTMLElement, client: Client<Topics>, me: string): Tracking {
  let orderId: string | undefined;
  let known: readonly string[] = [];
  let sub: ClientSubscription | undefined;
  let view: PresenceView | undefined;
  let courier: { at: Courier; version: number; time: string } | undefined;
  let gone: Gone | undefined;
  let error: string | undefined;
  let viewError: string | undefined;

  const select = h('select', { id: 'track-order', 'aria-label': 'order to track', onchange: (() => track(select.value)) as EventListener });
  const courierEl = h('div', { id: 'courier', class: 'courier' });
  const viewersEl = h('ul', { id: 'viewers', class: 'viewers' });

  const render = scheduler(() => {
    fill(select, ...(known.length === 0 ? [h('option', { value: '' }, 'no order yet')] : known.map((id) => h('option', { value: id, selected: id === orderId }, id))));
    courierEl.dataset.state = error ? 'error' : courier ? 'moving' : gone ?? 'waiting';
    courierEl.dataset.version = courier ? String(courier.version) : '';
    courierEl.dataset.stop = courier ? String(courier.at.stop) : '';
    fill(
      courierEl,
      error
        ? h('span', { class: 'error-text' }, error)
        : courier
          ? [
              h('div', { class: 'progress', role: 'progressbar', 'aria-valuenow': courier.at.stop, 'aria-valuemax': courier.at.stops }, h('span', { style: `width: ${(100 * courier.at.stop) / courier.at.stops}%` })),
              h('div', {}, h('strong', {}, `stop ${courier.at.stop} of ${courier.at.stops}`), ` · ETA ${courier.at.etaMinutes} min`),
              h('div', { class: 'muted small' }, `version ${courier.version} · ${timeOf(courier.time)}`),
            ].reduce((box, el) => (box.append(el), box), h('div'))
          : h('span', { class: 'muted' }, orderId === undefined ? 'Place an order to track its courier.' : gone === 'cleared' ? 'Arrived: the server cleared the position.' : gone === 'expired' ? 'No recent position (expired).' : gone === 'gone' ? 'No current position.' : 'Waiting for the courier…'),
    );
    const members = view?.members ?? [];
    fill(
      viewersEl,
      ...(viewError
        ? [h('li', { class: 'error-text' }, viewError)]
        : members.length === 0
        ? [h('li', { class: 'empty' }, view?.live === false ? 'offline' : 'nobody')]
        : members.map((m) =>
            h(
              'li',
              { 'data-visitor': m.id, 'data-connections': m.connections },
              h('span', { class: 'dot' }),
              m.id,
              m.id === me ? h('span', { class: 'muted' }, ' (you)') : null,
              m.connections > 1 ? h('span', { class: 'muted small' }, ` · ${m.connections} tabs`) : null,
            ),
          )),
    );
  });

  function track(id: string): void {
    if (id === '' || id === orderId) return;
    sub?.unsubscribe();
    view?.close();
    orderId = id;
    courier = undefined;
    gone = undefined;
    error = undefined;
    viewError = undefined;
    const subject = `tracking.${id}` as const;
    // The subscription to exactly this subject is what lists this tab in presence.
    const s = (sub = client.subscribe(
      subject,
      (e) => {
        if (e.topic !== topics.courier.name) return; // the only topic of the subject (for the type)
        courier = { at: e.payload, version: e.version ?? 0, time: e.time };
        gone = undefined;
        render();
      },
      {
        onCleared: (notice) => {
          courier = undefined;
          gone = notice.reason;
          render();
        },
      },
    ));
    // The ack follows the current value: what is shown when `ready` resolves came first.
    courierEl.dataset.atReady = '';
    s.ready.then(
      () => {
        if (sub === s) courierEl.dataset.atReady = courier ? String(courier.version) : 'none';
      },
      (err: unknown) => {
        if (sub !== s) return;
        error = isFeteError(err) ? `${err.code}: ${err.message}` : String(err);
        render();
      },
    );
    const v = (view = client.presence(subject));
    for (const event of ['join', 'leave', 'update', 'sync'] as const) v.on(event, render);
    v.ready.catch((err: unknown) => {
      if (view !== v) return;
      viewError = isFeteError(err) ? `${err.code}: ${err.message}` : String(err);
      render();
    });
    render();
  }

  client.on('status', render);
  fill(
    root,
    h('header', {}, h('h2', {}, 'Tracking'), h('span', { class: 'muted' }, h('code', {}, 'tracking.{orderId}'), ' · latest value + presence')),
    h('p', { class: 'hint' }, 'Open this page in another browser: each one looking at the order is listed. The courier moves every few seconds; a new tab gets its position at once.'),
    h('label', {}, 'Order', select),
    h('h3', {}, 'Courier'),
    courierEl,
    h('h3', {}, 'Looking at this order'),
    viewersEl,
  );
  render();

  return {
    orders(ids) {
      known = ids;
      if (orderId === undefined && ids.length > 0) track(ids[0]!);
      else render();
    },
  };
}
