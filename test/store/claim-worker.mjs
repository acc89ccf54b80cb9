// One OS process of the conformance suite's multi-process test: opens the database (a SQLite file,
// or a postgres:// URL) through the built store (dist/), registers an engine, then claims runs and
// pool slots in a loop.
// Usage: node claim-worker.mjs DB ENGINE_ID SLOTS ROUNDS RUN_ID...
// Prints one JSON line: { runs: [claimed run ids], holds: [[grantedAt, releasedAt], ...], maxSeen }.
import { PostgresStore } from "../../dist/store/postgres-store.js";
import { SqliteStore } from "../../dist/store/sqlite-store.js";

const [db, engineId, slotsText, roundsText, ...runIds] = process.argv.slice(2);
const slots = Number(slotsText);
const store = /^postgres(ql)?:\/\//.test(db) ? await PostgresStore.connect(db) : SqliteStore.open(db);
const now = Date.now();
await store.registerEngine({
  id: engineId,
  host: "worker",
  bootId: "",
  pid: process.pid,
  startedAt: now,
  leaseExpiresAt: now + 600_000,
});
const runs = [];
const holds = [];
let maxSeen = 0;
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
for (let round = 0; round < Number(roundsText); round++) {
  const id = runIds[round % runIds.length];
  if (round < runIds.length && (await store.claimRun(id, engineId, "eng_dead"))) runs.push(id);
  const tasks = [`${engineId}-${round}-a`, `${engineId}-${round}-b`];
  const granted = await store.claimSlots("gpu", slots, engineId, tasks, Date.now());
  const at = Date.now();
  maxSeen = Math.max(maxSeen, (await store.countSlots(Date.now())).gpu ?? 0);
  if (granted.length > 0) {
    await pause(Math.random() * 5);
    const releasedAt = Date.now();
    for (let i = 0; i < granted.length; i++) holds.push([at, releasedAt]);
    await store.releaseSlots(granted);
  } else await pause(1);
}
await store.close();
process.stdout.write(`${JSON.stringify({ runs, holds, maxSeen })}\n`);
