/**
 * Gates: `baton approve TASK` / `baton reject TASK`: the decision on a task waiting for
 * approval, through the engine that drives its run (a server, or the embedded engine of a
 * `baton run` in another terminal); recorded in the store directly when no engine drives it
 * (`baton resume` then goes on from it).
 */
import os from "node:os";
import { ApiClient } from "../../client/api-client.js";
import { runOwner } from "../../engine/ownership.js";
import { BatonError } from "../../errors.js";
import { rootRun } from "../../store/store.js";
import { openExistingStore } from "../state.js";
import { safeLine } from "../terminal.js";
import { driverOf } from "./control.js";

/** Who decides, as recorded: `cli:$USER`. */
export function cliIdentity(): string {
  let user = process.env.USER || process.env.USERNAME;
  if (!user) {
    try {
      user = os.userInfo().username;
    } catch {
      user = "";
    }
  }
  return user ? `cli:${user}` : "cli";
}

export async function approveCommand(
  verb: "approve" | "reject",
  id: string,
  opts: { file: string; db?: string; data?: string; comment?: string },
): Promise<void> {
  const store = await openExistingStore(opts.file, opts.db, opts.data);
  try {
    const hit = await store.resolveId(id, "task");
    const task = (await store.getTask(hit.id))!;
    if (task.status !== "waiting") {
      throw new BatonError(
        "STATE_CONFLICT",
        `task ${task.id} (${safeLine(task.name)}) is not waiting for approval (it is ${task.status}): nothing to ${verb}`,
      );
    }
    const by = cliIdentity();
    const run = await rootRun(store, (await store.getRun(task.runId))!);
    const owner = await runOwner(store, run);
    const endpoint = driverOf(opts.file, run, owner);
    if (endpoint) {
      const body = { by, ...(opts.comment !== undefined ? { comment: opts.comment } : {}) };
      await new ApiClient(endpoint).post(`/tasks/${task.id}/${verb}`, body);
    } else {
      await store.decideApproval(task.id, {
        approved: verb === "approve",
        by,
        at: Date.now(),
        comment: opts.comment ?? null,
      });
    }
    const done = verb === "approve" ? "approved" : "rejected";
    const note = endpoint ? "" : ` (no engine drives run ${run.id}: \`baton resume ${run.id}\` goes on)`;
    process.stdout.write(`${done} task ${task.id} ${safeLine(task.name)}${note}\n`);
  } finally {
    await store.close();
  }
}
