/**
 * `baton triggers ls|pause|resume|run|rm`: the triggers the running server fires (docs/cli.md),
 * through its API like `baton ls`.
 */
import { ApiClient, findEndpoint } from "../../client/api-client.js";
import { BatonError } from "../../errors.js";
import { locateFile } from "../state.js";
import { table } from "../table.js";

interface TriggerView {
  name: string;
  pipeline: string;
  kind: string;
  schedule: string;
  timezone: string | null;
  paused: boolean;
  nextFireAt: string | null;
  lastFireAt: string | null;
  lastRun: { id: string; status: string } | null;
  lastOutcome: { outcome: string; message: string | null } | null;
}

const ACTIONS = ["ls", "pause", "resume", "run", "rm"] as const;

export async function triggersCommand(
  action: string,
  name: string | undefined,
  opts: { file: string; json?: boolean },
): Promise<void> {
  if (!(ACTIONS as readonly string[]).includes(action)) {
    throw new BatonError("USAGE", `unknown action "${action}": expected one of ${ACTIONS.join(", ")}`);
  }
  const { workdir } = locateFile(opts.file);
  const endpoint = findEndpoint(workdir);
  if (!endpoint) {
    throw new BatonError(
      "USAGE",
      "no Baton server is running for this folder: triggers are fired by `baton server` (start it, or set BATON_URL)",
    );
  }
  const api = new ApiClient(endpoint);
  if (action === "ls") {
    const { triggers } = await api.get<{ triggers: TriggerView[] }>("/triggers");
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(triggers, null, 2)}\n`);
      return;
    }
    if (triggers.length === 0) {
      process.stderr.write("no triggers\n");
      return;
    }
    process.stdout.write(
      table(
        ["NAME", "PIPELINE", "SCHEDULE", "NEXT FIRE", "LAST RUN", "STATE"],
        triggers.map((t) => [
          t.name,
          t.pipeline,
          t.timezone ? `${t.schedule} (${t.timezone})` : t.schedule,
          t.nextFireAt ?? "-",
          t.lastRun ? `${t.lastRun.id} ${t.lastRun.status}` : "-",
          t.paused ? "paused" : "active",
        ]),
      ),
    );
    return;
  }
  if (name === undefined) throw new BatonError("USAGE", `baton triggers ${action} needs a trigger name`);
  const route = `/triggers/${encodeURIComponent(name)}`;
  if (action === "pause" || action === "resume") {
    await api.post(`${route}/${action}`);
    process.stderr.write(`trigger ${name} ${action === "pause" ? "paused" : "resumed"}\n`);
  } else if (action === "run") {
    const { run } = await api.post<{ run: { id: string; pipeline: string } }>(`${route}/fire`, {});
    process.stderr.write(`trigger ${name} started run ${run.id} of pipeline ${run.pipeline}\n`);
    process.stdout.write(`${run.id}\n`);
  } else {
    await api.delete(route);
    process.stderr.write(`trigger ${name} deleted\n`);
  }
}
