import { setTimeout as sleep } from "node:timers/promises";
import type { ApiClient } from "../client/api-client.js";
import type { TaskView } from "../engine/task-view.js";
import { EXIT, claimSignals } from "./exit.js";
import { safeLine } from "./terminal.js";

interface RunDetail {
  run: { id: string; pipeline: string; status: string };
  tasks: TaskView[];
}

/**
 * `baton run` when a server is reachable: the server runs the pipeline; this prints progress
 * (one line per task state change) on stderr, the `--json` document at the end, and exits as
 * an embedded run would. Ctrl-C cancels the run on the server.
 */
export async function runOnServer(
  client: ApiClient,
  body: Record<string, unknown>,
  opts: { json?: boolean; detach?: boolean },
): Promise<void> {
  const { run } = await client.post<{ run: { id: string } }>("/runs", body);
  if (opts.detach) {
    process.stdout.write(`${run.id}\n`);
    return;
  }
  process.stderr.write(`run ${run.id} on ${client.endpoint.url}\n`);
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write("\nbaton: interrupted, cancelling the run on the server…\n");
    void client.post(`/runs/${run.id}/cancel`).catch(() => undefined);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  claimSignals();
  const seen = new Map<string, string>();
  let detail: RunDetail;
  for (;;) {
    detail = await client.get<RunDetail>(`/runs/${run.id}`);
    for (const t of detail.tasks) {
      if (seen.get(t.id) !== t.status) {
        seen.set(t.id, t.status);
        if (process.env.BATON_PROGRESS !== "quiet")
          process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${safeLine(t.name)} ${t.status}\n`);
      }
    }
    if (detail.run.status !== "running") break;
    await sleep(250);
  }
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  process.stderr.write(`run ${run.id} ${detail.run.status}\n`);
  if (opts.json) {
    const { run: r, tasks } = detail;
    process.stdout.write(
      `${JSON.stringify({ run: { id: r.id, pipeline: r.pipeline, status: r.status }, tasks }, null, 2)}\n`,
    );
  }
  process.exitCode = interrupted
    ? EXIT.interrupted
    : detail.run.status === "succeeded"
      ? EXIT.ok
      : EXIT.failed;
}
