// A per-second rate of a growing counter over a sliding window, for `/metrics` and `/health`
// (Prometheus computes rates from the counters itself; a rate here serves a glance at /health and
// scrapers without PromQL). The counter is sampled once a second; nothing is done per event.

/** Samples `read()` every second and answers its rate over the last `windowS` seconds. */
export class RateMeter {
  readonly #samples: Array<{ t: number; v: number }> = [];
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(
    private readonly read: () => number,
    private readonly windowS = 10,
  ) {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), 1000);
    this.#timer.unref();
  }

  #sample(): void {
    this.#samples.push({ t: performance.now(), v: this.read() });
    if (this.#samples.length > this.windowS + 1) this.#samples.shift();
  }

  /** Per second, from the oldest sample in the window to now (0 in the first moments). */
  perSecond(): number {
    const first = this.#samples[0]!;
    const seconds = (performance.now() - first.t) / 1000;
    return seconds < 0.5 ? 0 : (this.read() - first.v) / seconds;
  }

  close(): void {
    clearInterval(this.#timer);
  }
}
