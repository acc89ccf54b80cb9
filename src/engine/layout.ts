import path from "node:path";

/**
 * Where Baton keeps things on disk (docs/cli.md): `.baton/` beside `baton.yaml`, holding
 * `baton.db`, `cas/` and `runs/<run>/<task>/` (output, inputs, one log per attempt).
 */
export class StateLayout {
  constructor(readonly root: string) {}

  static forWorkdir(workdir: string): StateLayout {
    return new StateLayout(path.join(workdir, ".baton"));
  }

  get database(): string {
    return path.join(this.root, "baton.db");
  }
  get cas(): string {
    return path.join(this.root, "cas");
  }
  runDir(runId: string): string {
    return path.join(this.root, "runs", runId);
  }
  /** `BATON_PIPELINE_DIR`: one folder shared by all tasks of a run. */
  pipelineDir(runId: string): string {
    return path.join(this.runDir(runId), "shared");
  }
  taskDir(runId: string, taskId: string): string {
    return path.join(this.runDir(runId), taskId);
  }
  outputDir(runId: string, taskId: string): string {
    return path.join(this.taskDir(runId, taskId), "output");
  }
  inputsDir(runId: string, taskId: string): string {
    return path.join(this.taskDir(runId, taskId), "inputs");
  }
  logPath(runId: string, taskId: string, attempt: number): string {
    return path.join(this.taskDir(runId, taskId), `attempt-${attempt}.log`);
  }
  statusPath(runId: string, taskId: string, attempt: number): string {
    return path.join(this.taskDir(runId, taskId), `attempt-${attempt}.status`);
  }
  metricsPath(runId: string, taskId: string, attempt: number): string {
    return path.join(this.taskDir(runId, taskId), `attempt-${attempt}.metrics.jsonl`);
  }
}
