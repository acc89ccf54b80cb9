/**
 * The launcher: a small helper process that starts task processes for the local executor.
 *
 * Why a process and not `spawn` in the engine: `spawn` forks the calling process, and a fork
 * costs in proportion to the caller's memory while it blocks it. The engine holds the state of
 * every task (hundreds of MB for 100,000 tasks); this process holds almost nothing, so its
 * forks are cheap and the engine never waits on one. Tasks are started in their own session,
 * so they outlive the launcher and the engine alike (that is what `baton resume` relies on).
 * Until a launcher is ready, the engine starts tasks itself (spawner.ts).
 *
 * Where the native spawn helper was built, the engine starts tasks through a helper of its own
 * and forks no launcher (spawner.ts); launchers serve where it is missing, or after it died,
 * and then start processes through a helper of their own where they can (spawn-helper.ts).
 */
import { SpawnHelper, helperPath } from "./spawn-helper.js";
import type { SpawnReply, SpawnRequest } from "./spawner.js";
import { startTask } from "./start-task.js";

/** Replies to the engine; one that went away (crashed, killed) is simply not answered. */
const reply = (r: SpawnReply) => {
  if (process.connected) process.send?.(r, (err: Error | null) => void err);
};

// Its environment does not change: copied once, not for each task.
const env = { ...process.env };

// Tasks are started by the native helper where there is one (spawn-helper.ts), else by spawn.
// A helper that dies takes the launcher with it: the engine then watches the tasks it had
// started by pid and starts a new launcher, as for any launcher that dies.
let helper: SpawnHelper | undefined;
// Requests that come while the helper starts wait for it.
let waiting: SpawnRequest[] | undefined = [];
process.on("message", (m: SpawnRequest) => {
  if (waiting) waiting.push(m);
  else startTask(m, reply, env, helper);
});

// The engine went away (crash or exit): leave the tasks running, they report through their
// status files. Listened for before the helper starts, so that an engine gone meanwhile is seen.
process.on("disconnect", () => {
  helper?.close();
  process.exit(0);
});

const file = helperPath(env);
if (file) {
  helper = await SpawnHelper.start(file, (why) => {
    process.stderr.write(`baton launcher: ${why}\n`);
    process.exit(1);
  });
}
if (!process.connected) {
  helper?.close();
  process.exit(0);
}
for (const m of waiting) startTask(m, reply, env, helper);
waiting = undefined;

// Ready for requests: from now on the engine sends them here rather than starting tasks itself.
reply({ type: "ready" });
