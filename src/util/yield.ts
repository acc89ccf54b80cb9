/**
 * Long loops on the event loop (expanding 100,000 tasks, preparing them) give other work a
 * turn: {@link Breather.breathe} waits for the next turn of the loop once `budgetMs` have passed
 * since the last one, and returns at once otherwise.
 */
export class Breather {
  private last = performance.now();

  constructor(private readonly budgetMs = 20) {}

  async breathe(): Promise<void> {
    if (performance.now() - this.last < this.budgetMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.last = performance.now();
  }
}

/**
 * Runs `fn` on the next turn of the event loop, after this turn's immediates: among them the
 * store's batched commit of what this turn wrote (sqlite-store.ts) and what waited on it.
 */
export function afterThisTurn(fn: () => void): void {
  // An immediate set while immediates run waits for the next turn.
  setImmediate(() => setImmediate(fn));
}
