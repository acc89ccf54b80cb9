/** Small helpers shared by the routes. */

/** Waits for `p` at most `ms`; true when it settled in time. The timer never holds the process open. */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export { isAlive } from "../../util/process.js";

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
