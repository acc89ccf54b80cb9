import type { BatonError } from "../errors.js";
import { type TaskStatus, isTerminal } from "../store/store.js";
import { isStateConflict } from "../store/task-states.js";

/**
 * Applies a task status change the engine may race with (a cancel arriving while the task ends
 * or becomes ready). Returns true when it was applied; when the store refused it because the
 * task has already ended (the other side of the race won), returns false and the caller treats
 * the task as ended. Any other refusal (or error) is thrown.
 *
 * @param ended what to do with the status the task ended in, if this side had not seen it end.
 */
export async function applyTransition(
  write: Promise<void>,
  seen: { status: string },
  ended: (status: TaskStatus) => Promise<void>,
): Promise<boolean> {
  try {
    await write;
    return true;
  } catch (err) {
    if (!isStateConflict(err)) throw err;
    const actual = (err as BatonError).context.actual as TaskStatus | null;
    if (actual === null || !isTerminal(actual)) throw err;
    if (!isTerminal(seen.status as TaskStatus)) await ended(actual);
    return false;
  }
}
