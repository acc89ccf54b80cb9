// One OS process of the PostgreSQL suite: opens the database through the built store (dist/),
// begins a write transaction that updates run RUN_ID (holding its row lock), and stops itself
// (SIGSTOP) inside it, as a server stopped by its operator or starved by its VM would. Woken up
// (SIGCONT), it waits a moment, so that what the database did to its connection meanwhile arrives
// while no statement runs, then goes on, and prints one JSON line: {"error": the write's error}.
// Usage: node stopped-writer.mjs URL RUN_ID (the engine lease comes from BATON_ENGINE_LEASE_MS)
import { setTimeout as sleep } from "node:timers/promises";
import { PostgresStore } from "../../dist/store/postgres-store.js";

const [url, runId] = process.argv.slice(2);
const store = await PostgresStore.connect(url);
let error = null;
try {
  // `write` runs its function in one transaction: private to the store, used here to stop in one.
  await store.write(async (db) => {
    await db.query("UPDATE runs SET status = status WHERE id = $1", [runId]);
    process.stdout.write("locked\n");
    process.kill(process.pid, "SIGSTOP");
    await sleep(300);
    await db.query("UPDATE runs SET status = status WHERE id = $1", [runId]);
  });
} catch (err) {
  error = err.message;
}
await store.close().catch(() => {});
process.stdout.write(`${JSON.stringify({ error })}\n`);
