/**
 * Cache hits in bulk: a run's tasks ask for their cached results and end `cached` one by one,
 * but the store is asked once for all the keys asked in the same turn of the event loop, and
 * the hits found are recorded in one write. A fully cached rerun of 10,000 tasks is then a few
 * hundred statements, not tens of thousands.
 */
import type { BatonError } from "../errors.js";
import type { CachedResult, Store, TaskCompletion } from "../store/store.js";

type CachedCompletion = TaskCompletion & { status: "cached" };

/** Items asked for in one turn, answered together by `flush` once the turn is over. */
class Batch<In, Out> {
  private items: Array<{ input: In; resolve: (out: Out) => void; reject: (err: unknown) => void }> = [];

  constructor(private readonly flush: (inputs: In[]) => Promise<Out[]>) {}

  add(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      if (this.items.length === 0) setImmediate(() => void this.run());
      this.items.push({ input, resolve, reject });
    });
  }

  private async run(): Promise<void> {
    const items = this.items;
    this.items = [];
    try {
      const outs = await this.flush(items.map((i) => i.input));
      for (const [n, item] of items.entries()) item.resolve(outs[n] as Out);
    } catch (err) {
      for (const item of items) item.reject(err);
    }
  }
}

export class CacheHits {
  private readonly lookups: Batch<string, CachedResult | undefined>;
  private readonly completions: Batch<{ taskId: string; completion: CachedCompletion }, BatonError | null>;

  constructor(store: Store) {
    this.lookups = new Batch(async (keys) => {
      const found = await store.findCachedResults(keys);
      return keys.map((k) => found.get(k));
    });
    this.completions = new Batch((hits) => store.completeCachedTasks(hits));
  }

  /** The result a task with this key may reuse (as `Store.findCachedResult` says). */
  find(cacheKey: string): Promise<CachedResult | undefined> {
    return this.lookups.add(cacheKey);
  }

  /**
   * Ends the task `cached`; resolves once that is committed, rejects with the store's refusal
   * (`STATE_CONFLICT`...) when the task had already ended otherwise.
   */
  async complete(taskId: string, completion: CachedCompletion): Promise<void> {
    const refused = await this.completions.add({ taskId, completion });
    if (refused) throw refused;
  }
}
