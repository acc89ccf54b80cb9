/**
 * The server's trigger scheduler: fires the `triggers:` of the served pipeline file, of
 * pipelines registered with `POST /pipelines`, and those created with `POST /api/v1/triggers`.
 *
 * Every fire starts a run as `POST /runs` would, with the trigger's `with:` as params and the
 * trigger's name recorded on the run. Each fire is first claimed in the store, one row per
 * (trigger, slot) (a cron fire's slot is its scheduled time, an `after:` fire's the run that
 * ended): of several servers sharing the database, exactly one claims it and starts the run.
 */
import { Cron } from "croner";
import { BatonError, ensureBatonError } from "../../errors.js";
import { resolveParams } from "../../spec/params.js";
import type { TriggerSpec } from "../../spec/types.js";
import type { RunRow, RunStatus, TriggerFireRow, TriggerStateRow } from "../../store/store.js";
import { ulid } from "../../util/ulid.js";
import type { ServerContext } from "../context.js";

/** A trigger this server knows, with where it comes from. */
export interface ServedTrigger {
  spec: TriggerSpec;
  pipeline: string;
  source: "file" | "registered" | "api";
  /** `baton.yaml:12:7`, the registered definition's file, or `api`. */
  where: string;
}

/** How often `after:` triggers look for ended runs. */
const AFTER_POLL_MS = 1_000;

/** `after:` statuses as run statuses. */
const AFTER_STATUS: Record<string, RunStatus[]> = {
  success: ["succeeded"],
  failure: ["failed"],
  cancelled: ["cancelled"],
  any: ["succeeded", "failed", "cancelled"],
};

export class TriggerScheduler {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = true;
  /** When this scheduler started: cron times before it were missed while no server ran here. */
  private startedAt = Date.now();
  private readonly crons = new Map<string, Cron>();
  private readonly warned = new Set<string>();
  private lastAfterPoll = 0;
  /** The last good list of the file's triggers (the file may be edited into an invalid state). */
  private fileTriggers: ServedTrigger[] = [];

  constructor(
    private readonly ctx: ServerContext,
    private readonly log: (line: string) => void,
    private readonly tickMs = 250,
  ) {}

  /** Starts firing triggers (about every `tickMs`). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.startedAt = Date.now();
    const loop = () => {
      if (this.stopped) return;
      this.ticking = this.tick(Date.now())
        .catch((err) => this.warnOnce(`tick:${ensureBatonError(err).message}`, ensureBatonError(err).message))
        .finally(() => {
          this.ticking = undefined;
          if (!this.stopped) this.timer = setTimeout(loop, this.tickMs);
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
  }

  /** Every trigger, by name (the file's first, then registered pipelines', then the API's). */
  async list(states?: TriggerStateRow[]): Promise<ServedTrigger[]> {
    const all: ServedTrigger[] = [];
    try {
      const project = this.ctx.catalog.server.current();
      this.fileTriggers = [];
      for (const pipeline of Object.values(project?.pipelines ?? {})) {
        for (const spec of pipeline.triggers) {
          const where = spec.loc ? `${spec.loc.file}:${spec.loc.line}:${spec.loc.column}` : "baton.yaml";
          this.fileTriggers.push({ spec, pipeline: pipeline.name, source: "file", where });
        }
      }
    } catch (err) {
      this.warnOnce(
        `file:${ensureBatonError(err).message}`,
        `triggers of the pipeline file kept as they were: ${ensureBatonError(err).message}`,
      );
    }
    all.push(...this.fileTriggers);
    for (const registered of this.ctx.catalog.registry.list()) {
      const pipeline = registered.project.pipelines[registered.name];
      for (const spec of pipeline?.triggers ?? []) {
        all.push({ spec, pipeline: registered.name, source: "registered", where: registered.file });
      }
    }
    for (const state of states ?? (await this.ctx.store.listTriggerStates())) {
      const def = state.definition;
      if (!def) continue;
      all.push({
        spec: def.trigger as TriggerSpec,
        pipeline: def.pipeline as string,
        source: "api",
        where: "api",
      });
    }
    const byName = new Map<string, ServedTrigger>();
    for (const t of all) {
      const first = byName.get(t.spec.name);
      if (first) {
        this.warnOnce(
          `dup:${t.spec.name}:${t.where}`,
          `trigger "${t.spec.name}" of ${t.where} ignored: ${first.where} has a trigger of that name`,
        );
        continue;
      }
      byName.set(t.spec.name, t);
    }
    return [...byName.values()];
  }

  /** The trigger named `name`. @throws BatonError STORE_NOT_FOUND (404). */
  async find(name: string): Promise<ServedTrigger> {
    const all = await this.list();
    const found = all.find((t) => t.spec.name === name);
    if (!found) {
      const known = all.map((t) => t.spec.name);
      throw new BatonError(
        "STORE_NOT_FOUND",
        `no trigger "${name}"${known.length > 0 ? `; triggers: ${known.join(", ")}` : ": this server has no triggers"}`,
      );
    }
    return found;
  }

  /** The next time a cron trigger fires after `from` (ms), or null. */
  nextFire(spec: TriggerSpec, from: number): number | null {
    if (spec.kind !== "cron") return null;
    return this.cronOf(spec).nextRun(new Date(from))?.getTime() ?? null;
  }

  /** One look at every trigger: fires what is due. */
  async tick(now: number): Promise<void> {
    const store = this.ctx.store;
    const stateRows = await store.listTriggerStates();
    const states = new Map(stateRows.map((s) => [s.name, s]));
    const triggers = await this.list(stateRows);
    const pollAfter = now - this.lastAfterPoll >= AFTER_POLL_MS;
    if (pollAfter) this.lastAfterPoll = now;
    for (const t of triggers) {
      const state = states.get(t.spec.name) ?? (await store.ensureTrigger(t.spec.name, now));
      if (state.paused) continue;
      try {
        if (t.spec.overlap === "queue") await this.startQueued(t, state);
        if (t.spec.kind === "cron") await this.tickCron(t, state, now);
        else if (t.spec.kind === "after" && pollAfter) await this.tickAfter(t, state, now);
      } catch (err) {
        this.warnOnce(
          `t:${t.spec.name}:${ensureBatonError(err).message}`,
          `trigger "${t.spec.name}": ${ensureBatonError(err).message}`,
        );
      }
    }
  }

  private async tickCron(t: ServedTrigger, state: TriggerStateRow, now: number): Promise<void> {
    const cron = this.cronOf(t.spec);
    const from = state.lastSlotAt ?? state.createdAt;
    const next = cron.nextRun(new Date(from))?.getTime();
    if (next === undefined || next > now) return;
    // The latest time due: fired once, however many were missed (never a burst).
    const latest = cron.previousRuns(1, new Date(now + 1))[0]?.getTime() ?? next;
    const slotAt = Math.max(latest, next);
    const slot = `cron:${slotAt}`;
    // A time before this server started was missed while no server ran (another server
    // running then would have claimed it).
    if (t.spec.catchup === "none" && slotAt < this.startedAt) {
      const message = `missed at ${new Date(slotAt).toISOString()} while no server ran (catchup: none)`;
      if (await this.claim(t, slot, slotAt, now, "skipped", message)) {
        this.log(`baton server: trigger "${t.spec.name}" skipped: ${message}`);
      }
      return;
    }
    if (!(await this.claim(t, slot, slotAt, now, "claimed", null))) return;
    await this.fireClaimed(t, state, slot, {});
  }

  private async tickAfter(t: ServedTrigger, state: TriggerStateRow, now: number): Promise<void> {
    const after = t.spec.after!;
    const runs = await this.ctx.store.listRuns({
      pipeline: after.pipeline,
      status: AFTER_STATUS[after.status],
      limit: 20,
    });
    // Oldest first, and only runs that ended since the trigger was first seen.
    for (const run of runs.reverse()) {
      if (run.endedAt === null || run.endedAt < state.createdAt) continue;
      const slot = `after:${run.id}`;
      if (await this.ctx.store.hasTriggerFire(t.spec.name, slot)) continue;
      if (!(await this.claim(t, slot, null, now, "claimed", null))) continue;
      await this.fireClaimed(t, state, slot, {});
    }
  }

  /** A claimed fire: started, skipped or queued by the trigger's `overlap:`. */
  private async fireClaimed(
    t: ServedTrigger,
    state: TriggerStateRow,
    slot: string,
    payload: Record<string, unknown>,
  ): Promise<void> {
    const store = this.ctx.store;
    const previous = state.lastRunId ? await store.getRun(state.lastRunId) : undefined;
    if (previous?.status === "running" && t.spec.overlap !== "allow") {
      let outcome: TriggerFireRow["outcome"] = "skipped";
      let message = `previous run ${previous.id} is still running (overlap: ${t.spec.overlap})`;
      if (t.spec.overlap === "queue") {
        const queued = await store.listTriggerFires(t.spec.name, 1, "queued");
        if (queued.length === 0) {
          outcome = "queued";
          message = `waits for run ${previous.id} to end (overlap: queue)`;
        } else {
          message = `previous run ${previous.id} is still running and a fire is queued already (overlap: queue)`;
        }
      }
      await store.updateTriggerFire(t.spec.name, slot, "claimed", { outcome, runId: null, message });
      this.log(`baton server: trigger "${t.spec.name}" ${outcome}: ${message}`);
      return;
    }
    await this.startClaimed(t, slot, payload);
  }

  /** A queued fire starts once the trigger's previous run ended (claimed by one server). */
  private async startQueued(t: ServedTrigger, state: TriggerStateRow): Promise<void> {
    const store = this.ctx.store;
    const [queued] = await store.listTriggerFires(t.spec.name, 1, "queued");
    if (!queued) return;
    const previous = state.lastRunId ? await store.getRun(state.lastRunId) : undefined;
    if (previous?.status === "running") return;
    if (
      !(await store.updateTriggerFire(t.spec.name, queued.slot, "queued", {
        outcome: "claimed",
        runId: null,
        message: null,
      }))
    )
      return;
    await this.startClaimed(t, queued.slot, {});
  }

  /** Starts the run of a fire this server claimed, and records it (or why it could not start). */
  private async startClaimed(
    t: ServedTrigger,
    slot: string,
    payload: Record<string, unknown>,
  ): Promise<RunRow> {
    try {
      const run = await this.startRun(t, payload);
      await this.ctx.store.updateTriggerFire(t.spec.name, slot, "claimed", {
        outcome: "started",
        runId: run.id,
        message: null,
      });
      this.log(`baton server: trigger "${t.spec.name}" started run ${run.id} of pipeline "${t.pipeline}"`);
      return run;
    } catch (err) {
      const message = ensureBatonError(err).message;
      await this.ctx.store.updateTriggerFire(t.spec.name, slot, "claimed", {
        outcome: "failed",
        runId: null,
        message,
      });
      this.log(`baton server: trigger "${t.spec.name}" could not start a run: ${message}`);
      throw err;
    }
  }

  /**
   * Fires a trigger now (`POST /api/v1/triggers/NAME/fire`): starts a run whatever its
   * `overlap:` says, with `payload` over its `with:` as params.
   * @throws BatonError for params that are not the pipeline's (problems named by param).
   */
  async fireNow(t: ServedTrigger, payload: Record<string, unknown>): Promise<RunRow> {
    // Checked before anything is recorded: a bad payload leaves no trace.
    this.paramsOf(t, payload);
    const now = Date.now();
    await this.ctx.store.ensureTrigger(t.spec.name, now);
    const slot = `fire:${ulid(now)}`;
    await this.claim(t, slot, null, now, "claimed", null);
    return this.startClaimed(t, slot, payload);
  }

  private paramsOf(t: ServedTrigger, payload: Record<string, unknown>): Record<string, unknown> {
    const { pipeline } = this.ctx.catalog.byName(t.pipeline);
    return resolveParams(
      pipeline.params,
      { ...t.spec.with, ...payload },
      {
        fromCli: false,
        where: `pipeline "${pipeline.name}"`,
      },
    );
  }

  /** Starts a run exactly as `POST /runs` does, labelled with the trigger. */
  private async startRun(t: ServedTrigger, payload: Record<string, unknown>): Promise<RunRow> {
    const target = this.ctx.catalog.byName(t.pipeline);
    const params = this.paramsOf(t, payload);
    const controller = await this.ctx.engine.startRun(target.project, {
      pipeline: target.pipeline.name,
      params,
      workdir: target.project.workdir,
      specFile: target.specFile,
      trigger: t.spec.name,
    });
    this.ctx.runs.track(controller);
    return (await this.ctx.store.getRun(controller.runId))!;
  }

  private claim(
    t: ServedTrigger,
    slot: string,
    slotAt: number | null,
    at: number,
    outcome: TriggerFireRow["outcome"],
    message: string | null,
  ): Promise<boolean> {
    return this.ctx.store.claimTriggerFire({
      trigger: t.spec.name,
      slot,
      slotAt,
      at,
      outcome,
      runId: null,
      message,
    });
  }

  private cronOf(spec: TriggerSpec): Cron {
    const key = `${spec.cron}|${spec.timezone ?? ""}`;
    let cron = this.crons.get(key);
    if (!cron) {
      cron = new Cron(spec.cron!, {
        paused: true,
        mode: "5-or-6-parts",
        ...(spec.timezone ? { timezone: spec.timezone } : {}),
      });
      this.crons.set(key, cron);
    }
    return cron;
  }

  private warnOnce(key: string, line: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log(`baton server: ${line}`);
  }
}
