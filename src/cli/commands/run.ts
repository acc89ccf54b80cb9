import { ApiClient, findFolderServer } from "../../client/api-client.js";
import { BatonError } from "../../errors.js";
import { parseParamAssignments, resolveParams } from "../../spec/params.js";
import { loadProject, pickPipeline } from "../context.js";
import { driveRun } from "../drive.js";

export interface RunCommandOptions {
  file: string;
  param: string[];
  target: string[];
  from?: string;
  cache: boolean;
  detach?: boolean;
  json?: boolean;
}

/** `baton run`: runs a pipeline on the embedded engine and exits 0 iff it succeeded. */
export async function runCommand(pipelineName: string | undefined, opts: RunCommandOptions): Promise<void> {
  const project = loadProject(opts.file);
  const pipeline = pickPipeline(project, pipelineName);
  const params = resolveParams(pipeline.params, parseParamAssignments(opts.param), {
    fromCli: true,
    where: `pipeline "${pipeline.name}"`,
  });
  for (const t of [...opts.target, ...(opts.from ? [opts.from] : [])]) {
    if (!pipeline.nodes[t])
      throw new BatonError("USAGE", `--target/--from ${t}: no node "${t}" in pipeline "${pipeline.name}"`);
  }

  // Only the server of this file's own folder runs this file's pipelines.
  const endpoint = findFolderServer(project.workdir);
  if (endpoint) {
    const body = {
      pipeline: pipeline.name,
      params,
      targets: opts.target.length ? opts.target : undefined,
      from: opts.from ? [opts.from] : undefined,
      noCache: !opts.cache,
    };
    const { runOnServer } = await import("../remote-run.js");
    await runOnServer(new ApiClient(endpoint), body, opts);
    return;
  }
  if (opts.detach) {
    throw new BatonError("USAGE", "--detach needs a running server (`baton server`); none is reachable");
  }
  await driveRun(
    project,
    (engine) =>
      engine.startRun(project, {
        pipeline: pipeline.name,
        params,
        workdir: project.workdir,
        specFile: project.file,
        targets: opts.target,
        from: opts.from ? [opts.from] : undefined,
        noCache: !opts.cache,
      }),
    opts,
  );
}
