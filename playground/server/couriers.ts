// The courier of each tracked order: while someone looks at an order (a member of presence on its
// `tracking.<orderId>` subject), the server moves its courier one stop every few seconds by
// emitting the `latest` topic `tracking.{orderId}`; when the courier arrives the value is cleared
// (`fete.clearLatest`: every tab watching is told) and the order is done. Nobody watching: nothing
// moves, and the last position expires after the topic's ttlMs (the trip starts over when
// someone looks again). Only placed orders have a courier. Arrivals are kept in memory (one per
// placed order): a demo's simplification.
import type { Fete } from 'fete/server';
import { topics, type Topics } from '../shared/catalog.js';
import { orderPlaced } from './orders.js';

/** Stops on a trip (a minute and a bit at the default pace); each is two minutes of the ETA. */
const STOPS = 30;

export interface Couriers {
  /** One step now (also run every `everyMs`). Resolves when the positions are out. */
  tick(): Promise<void>;
  stop(): void;
}

export function startCouriers(fete: Fete<Topics>, everyMs = 2_000): Couriers {
  const arrived = new Set<string>();
  // Followed, not polled: a first viewer sees a courier at once instead of at the next tick.
  const watching = fete.observePresence('tracking.*', {
    onChange: (change) => {
      if (change.type === 'join') void step(change.member.subject, true).catch(() => undefined);
    },
  });
  watching.ready.catch(() => undefined);

  /** Moves the courier of one subject; `startOnly`: only if it has no position yet. */
  async function step(subject: string, startOnly = false): Promise<void> {
    const orderId = subject.slice(subject.indexOf('.') + 1);
    if (arrived.has(orderId)) return;
    // Anyone may look at any `tracking.<id>`: only an order that was placed has a courier (else a
    // script could make the server run couriers for ids it invents, and fill `arrived`).
    if (!(await orderPlaced(fete, orderId))) return;
    const [current] = await fete.latest(subject);
    const at = current?.payload as { stop: number; stops: number } | undefined;
    if (startOnly && at) return;
    if (at && at.stop >= at.stops) {
      arrived.add(orderId);
      await fete.clearLatest(topics.courier, { orderId }); // arrived: tracking ends
      return;
    }
    const stop = at ? at.stop + 1 : 0;
    await fete.emit(topics.courier, { orderId, stop, stops: STOPS, etaMinutes: (STOPS - stop) * 2 });
  }

  const tick = async () => {
    const subjects = new Set(watching.members.map((m) => m.subject));
    await Promise.all([...subjects].map((s) => step(s)));
  };
  const timer = setInterval(() => void tick().catch(() => undefined), everyMs);
  timer.unref();
  return {
    tick,
    stop() {
      clearInterval(timer);
      watching.close();
    },
  };
}
