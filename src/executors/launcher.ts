/**
 * The launcher: a small helper process that starts task processes for the local executor.
 *
 * Why a process and not `spawn` in the engine: `spawn` forks the calling process, and a fork
 * costs in proportion to the caller's memory while it blocks it. The engine holds the state of
 * every task (hundreds of MB for 100,000 tasks); this process holds almost nothing, so its
 * forks are cheap and the engine never waits on one. Tasks are started in their own session,
 * so they outlive the launcher and the engine alike (that is what `baton resume` relies on).
 * Until a launcher is ready, the engine starts tasks itself (spawner.ts).
 */
import type { SpawnReply, SpawnRequest } from "./spawner.js";
import { startTask } from "./start-task.js";

/** Replies to the engine; one that went away (crashed, killed) is simply not answered. */
const reply = (r: SpawnReply) => {
  if (process.connected) process.send?.(r, (err: Error | null) => void err);
};

// Its environment does not change: copied once, not for each task.
const env = { ...process.env };
process.on("message", (m: SpawnRequest) => startTask(m, reply, env));

// The engine went away (crash or exit): leave the tasks running, they report through their status files.
process.on("disconnect", () => process.exit(0));

// Ready for requests: from now on the engine sends them here rather than starting tasks itself.
reply({ type: "ready" });
