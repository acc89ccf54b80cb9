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
