// A FIFO ring buffer with a capacity, used for each bus subscription's buffer. The backing array
// starts small and doubles up to the capacity, so a subscription that never backs up costs a few
// slots rather than `bufferSize` of them; push/shift are O(1) with no per-item allocation.

const INITIAL_SLOTS = 8;

export class BoundedQueue<T> {
  /** Power-of-two length so that wrapping is a bit mask. */
  private slots: (T | undefined)[];
  private head = 0;
  private size = 0;

  /** @param capacity at most this many items are held; `Infinity` for unbounded. */
  constructor(readonly capacity: number) {
    this.slots = new Array<T | undefined>(INITIAL_SLOTS);
  }

  get length(): number {
    return this.size;
  }

  get isFull(): boolean {
    return this.size >= this.capacity;
  }

  /** Appends `item`. The caller checks `isFull` first; pushing onto a full queue is a bug. */
  push(item: T): void {
    if (this.size === this.slots.length) this.grow();
    this.slots[(this.head + this.size) & (this.slots.length - 1)] = item;
    this.size++;
  }

  /** Removes and returns the oldest item, or undefined when empty. */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.slots[this.head];
    // Clear the slot so a consumed message is not kept alive by the buffer.
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) & (this.slots.length - 1);
    this.size--;
    return item;
  }

  /** Removes every item and returns them oldest first. */
  clear(): T[] {
    const out: T[] = [];
    while (this.size > 0) out.push(this.shift() as T);
    return out;
  }

  private grow(): void {
    const old = this.slots;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) & (old.length - 1)];
    this.slots = next;
    this.head = 0;
  }
}
