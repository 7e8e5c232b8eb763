// The inspector panel, fed by fete.express()'s JSON inspector API (mounted at /fete): listeners
// with their queues, dead letters with a retry button, the head of the log, and /fete/health. It
// polls, as an ops page would. (The orders list has its own source: the `orders.list` query.)
import { fill, h, ago, timeOf } from './dom.js';
import { splitError } from './error-text.js';

interface Backlog {
  pending: number;
  running: number;
  retrying: number;
  dead: number;
  oldestPendingAgeMs: number;
}
interface ListenerStats extends Backlog {
  target: string;
  name: string;
  durable: boolean;
}
interface Stats {
  listeners: ListenerStats[];
  topics: (Backlog & { topic: string })[];
  headSeq: number;
}
interface DeadLetter {
  id: number;
  listener: { target: string; name: string };
  attempts: number;
  lastError: string | null;
  failedAt: string;
  envelope: { subject: string; seq?: number; payload: unknown };
}
interface Health {
  status: string;
  store: { reachable: boolean; latencyMs?: number };
  worker?: { dispatcher: string; outcomes?: { completed: number; retried: number; dead: number } };
  fanout?: { sockets: number; eventsSentPerSecond: number };
}

const POLL_MS = 1500;

async function getJson<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, init);
  const body = (await res.json()) as T & { error?: { code: string; message: string } };
  if (!res.ok) throw new Error(body.error ? `${body.error.code}: ${body.error.message}` : `${res.status} ${res.statusText}`);
  return body;
}

export function mountInspector(root: HTMLElement): void {
  const head = h('span', { class: 'muted', id: 'head-seq' });
  const health = h('div', { class: 'health', id: 'health' });
  const listeners = h('div', { id: 'listeners' });
  const dead = h('div', { id: 'dead-letters' });
  const problem = h('p', { class: 'error-text', hidden: true });
  fill(
    root,
    h('header', {}, h('h2', {}, 'Inspector'), head),
    h('p', { class: 'hint' }, 'From ', h('code', {}, 'GET /fete/inspector/*'), ': the durable queues behind the orders.'),
    problem,
    health,
    h('h3', {}, 'Listeners'),
    listeners,
    h('h3', {}, 'Dead letters'),
    dead,
  );

  const retry = async (id: number, button: HTMLButtonElement) => {
    button.disabled = true;
    button.textContent = 'Retrying…';
    try {
      await getJson(`/fete/inspector/dead-letters/${id}/retry`, { method: 'POST' });
    } catch (err) {
      problem.hidden = false;
      problem.textContent = `Retry failed: ${(err as Error).message}`;
    }
    void refresh();
  };

  const refresh = async () => {
    try {
      const [stats, letters, hc] = await Promise.all([
        getJson<Stats>('/fete/inspector/stats'),
        getJson<{ deadLetters: DeadLetter[] }>('/fete/inspector/dead-letters?limit=50'),
        // 503 still has a JSON body worth showing.
        fetch('/fete/health').then((r) => r.json() as Promise<Health>),
      ]);
      const o = hc.worker?.outcomes;
      fill(
        health,
        h('span', { class: `pill ${hc.status === 'ok' ? 'ok' : 'bad'}` }, `health: ${hc.status}`),
        h('span', {}, 'store ', h('strong', {}, hc.store.reachable ? `${hc.store.latencyMs ?? '?'} ms` : 'unreachable')),
        hc.worker ? h('span', {}, 'dispatcher ', h('strong', {}, hc.worker.dispatcher)) : null,
        o ? h('span', {}, 'attempts ', h('strong', {}, `${o.completed} ok · ${o.retried} retried · ${o.dead} dead`)) : null,
        hc.fanout ? h('span', {}, 'sockets ', h('strong', {}, hc.fanout.sockets), ` · ${hc.fanout.eventsSentPerSecond.toFixed(1)} ev/s out`) : null,
      );
      problem.hidden = true;
      head.textContent = `log head #${stats.headSeq}`;
      fill(
        listeners,
        stats.listeners.length === 0
          ? h('p', { class: 'empty' }, 'No listeners.')
          : h(
              'div',
              { class: 'table-wrap' },
              h(
              'table',
              {},
              h('thead', {}, h('tr', {}, ...['listener', 'topic', 'pending', 'running', 'retrying', 'dead', 'oldest'].map((c) => h('th', {}, c)))),
              h(
                'tbody',
                {},
                ...stats.listeners.map((l) =>
                  h(
                    'tr',
                    { 'data-listener': l.name },
                    h('td', {}, h('strong', {}, l.name)),
                    h('td', {}, h('code', {}, l.target)),
                    h('td', { class: 'num' }, l.pending),
                    h('td', { class: 'num' }, l.running),
                    h('td', { class: `num ${l.retrying ? 'warn' : ''}` }, l.retrying),
                    h('td', { class: `num ${l.dead ? 'bad' : ''}` }, l.dead),
                    h('td', { class: 'num' }, l.oldestPendingAgeMs ? ago(l.oldestPendingAgeMs) : '—'),
                  ),
                ),
              ),
              ),
            ),
      );
      fill(
        dead,
        letters.deadLetters.length === 0
          ? h('p', { class: 'empty' }, 'None. Place a “dead-letters” order to see one.')
          : h(
              'ul',
              { class: 'dead-list' },
              ...letters.deadLetters.map((d) => {
                const button = h('button', { class: 'small', 'data-retry': d.id }, 'Retry');
                button.addEventListener('click', () => void retry(d.id, button));
                const error = splitError(d.lastError);
                // Keep an open disclosure open across the poll's redraw.
                const open = root.querySelector(`details[data-dead="${d.id}"]`)?.hasAttribute('open') ?? false;
                return h(
                  'li',
                  {},
                  h('div', {}, h('code', { class: 'subject' }, d.envelope.subject), h('span', { class: 'muted' }, ` · ${d.listener.name} · ${d.attempts} attempts · ${timeOf(d.failedAt)}`)),
                  h('div', { class: 'error-text dead-message' }, error.message),
                  error.stack
                    ? h('details', { class: 'stack', 'data-dead': d.id, open }, h('summary', {}, 'stack'), h('pre', {}, error.stack))
                    : null,
                  button,
                );
              }),
            ),
      );
    } catch (err) {
      problem.hidden = false;
      problem.textContent = `The inspector API did not answer: ${(err as Error).message}`;
    }
  };

  void refresh();
  setInterval(() => void refresh(), POLL_MS);
}
