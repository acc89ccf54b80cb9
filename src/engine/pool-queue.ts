/**
 * Tasks waiting for a slot of one pool: highest priority first, then first come, first served.
 * A binary heap, because a pool may hold 100,000 queued tasks.
 */
export class PoolQueue<T> {
  private readonly heap: Array<{ priority: number; seq: number; value: T }> = [];
  private seq = 0;
  /** Slots this engine holds: running work, and the idle ones below. */
  running = 0;
  /**
   * Slots held with nothing in them, by the task that last had each (their row in the store):
   * kept a few milliseconds for the work about to come (see Engine.startWork).
   */
  idle: string[] = [];
  /**
   * Work started ahead of a slot, in the order it was started (see Engine.armAhead): recorded,
   * its process waiting for `go`. `done` settles when the work ends.
   */
  armed: Array<{ taskId: string; go: () => void; fired: boolean; done: Promise<void>; after?: string }> = [];
  /** Work running in this pool's slots (task ids). */
  readonly holding = new Set<string>();
  /** Running work (task ids, in the order it started) that no work started ahead follows yet. */
  readonly unfollowed = new Set<string>();
  /** How long this pool's work lasted lately, in ms (a moving average), and how many ended. */
  private recentMs = Number.POSITIVE_INFINITY;
  private ended = 0;

  /** Records how long one work lasted. */
  noteDuration(ms: number): void {
    this.recentMs = this.ended === 0 ? ms : this.recentMs * 0.8 + ms * 0.2;
    this.ended++;
  }

  /** Whether, lately, this pool's work ended within `ms` on average (after at least `samples` ends). */
  lastsUnder(ms: number, samples: number): boolean {
    return this.ended >= samples && this.recentMs < ms;
  }

  /** @param slots may change later (a server's project file was edited). */
  constructor(public slots: number) {}

  get size(): number {
    return this.heap.length;
  }

  hasFreeSlot(): boolean {
    return this.running < this.slots;
  }

  push(value: T, priority: number): void {
    this.heap.push({ priority, seq: this.seq++, value });
    this.up(this.heap.length - 1);
  }

  pop(): T | undefined {
    return this.popEntry()?.value;
  }

  /** The first value with its place in the order, to {@link reinsert} it where it was. */
  popEntry(): { priority: number; seq: number; value: T } | undefined {
    const top = this.heap[0];
    if (!top) return undefined;
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      this.down(0);
    }
    return top;
  }

  /** Puts back a value taken by {@link popEntry}, in the place it had. */
  reinsert(entry: { priority: number; seq: number; value: T }): void {
    this.heap.push(entry);
    this.up(this.heap.length - 1);
  }

  /** Removes every queued value matching `pred` (used by cancel). */
  remove(pred: (value: T) => boolean): T[] {
    const removed: T[] = [];
    const kept = this.heap.filter((e) => {
      if (pred(e.value)) {
        removed.push(e.value);
        return false;
      }
      return true;
    });
    this.heap.length = 0;
    for (const e of kept) {
      this.heap.push(e);
      this.up(this.heap.length - 1);
    }
    return removed;
  }

  private before(a: number, b: number): boolean {
    const x = this.heap[a]!;
    const y = this.heap[b]!;
    return x.priority !== y.priority ? x.priority > y.priority : x.seq < y.seq;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < n && this.before(l, best)) best = l;
      if (r < n && this.before(r, best)) best = r;
      if (best === i) return;
      this.swap(i, best);
      i = best;
    }
  }

  private swap(a: number, b: number): void {
    const t = this.heap[a]!;
    this.heap[a] = this.heap[b]!;
    this.heap[b] = t;
  }
}
