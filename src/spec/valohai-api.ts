/**
 * Valohai's pipeline-creation body (`POST /api/v0/pipelines/`, also taken at
 * `POST /api/v1/pipelines`) turned into a Baton definition: the server's `baton.yaml`
 * (its defaults, pools and steps) plus one pipeline in the Valohai list form (`nodes` with
 * `step`/`run`/`release`, `edges` as `[SOURCE, TARGET]`). Pure: the caller reads the server's
 * file, validates the definition and starts the run; `origins` lets it report a problem of the
 * definition at the place in the posted JSON it comes from.
 *
 * Every field and what it becomes is in docs/api.md ("Valohai-compatible pipeline creation").
 * Valohai spells template and node keys both ways (its API docs: `environment_variables`,
 * `time_limit`, `on_error`; valohai-cli sends the valohai.yaml spelling: `environment-variables`,
 * `time-limit`, `on-error`): both are taken. Fields without a local meaning are listed in
 * `ignored`, never silently dropped.
 */
import { formatPath } from "./problems.js";
import { convertCommand, convertCondition, outputsOf, releaseOf } from "./valohai.js";

type Obj = Record<string, unknown>;

/** A problem with the body, at its JSON path (`nodes[1].template.step`). */
export interface ValohaiApiProblem {
  path: string;
  message: string;
}

export interface ValohaiApiTranslation {
  /** The Baton definition (baton.yaml structure) to run. */
  definition: Obj;
  /** The pipeline of `definition` to start (the title, as written). */
  pipeline: string;
  /** Fields accepted without effect, by JSON path. */
  ignored: string[];
  /**
   * Where parts of `definition` come from: key path in the definition as problems name it
   * (`pipelines["Nightly train"].nodes[1].with`) -> JSON path in the body
   * (`nodes[1].template.parameters`). See `bodyPathOf`.
   */
  origins: Origin[];
}

/**
 * A part of the definition and the place in the body it comes from: `def` as problems name it
 * (`pipelines["Nightly train"].nodes[1].with`), `body` a JSON path (`nodes[1].template.parameters`).
 * The rest of a problem's path is kept after `body` (`.rows`), unless `whole`.
 */
export interface Origin {
  def: string;
  body: string;
  whole?: boolean;
}

export type ValohaiApiResult =
  | { ok: true; value: ValohaiApiTranslation }
  | { ok: false; problems: ValohaiApiProblem[] };

const SOURCE_TYPES = new Set(["output", "metadata", "parameter"]);
const TARGET_TYPES = new Set(["input", "parameter", "file"]);
const ON_ERROR = ["stop-all", "stop-next", "continue", "retry"];
/** Body keys with a Baton meaning. */
const BODY_KEYS = new Set(["title", "nodes", "edges", "project", "tags", "parameters"]);
/** Node keys with a Baton meaning (after `-` -> `_`); any other is listed as ignored. */
const NODE_KEYS = new Set(["name", "type", "template", "on_error", "actions", "reuse_executions"]);
const DEPLOYMENT_KEYS = new Set(["name", "type", "deployment"]);
/** Template keys with a Baton meaning (after `-` -> `_`); any other is listed as ignored. */
const TEMPLATE_KEYS = new Set([
  "step",
  "command",
  "parameters",
  "inputs",
  "environment_variables",
  "time_limit",
  "no_output_timeout",
  "image",
  "runtime_config",
]);

/** Whether a body is Valohai's pipeline shape (rather than `{ name, definition }`). */
export function isValohaiPipelineBody(body: unknown): boolean {
  return isObj(body) && Array.isArray(body.nodes) && !("definition" in body);
}

/** The key of `obj` spelled `name` in either of Valohai's spellings (`time_limit`, `time-limit`). */
function keyOf(obj: Obj, name: string): string | undefined {
  if (Object.hasOwn(obj, name)) return name;
  const dashed = name.replaceAll("_", "-");
  return Object.hasOwn(obj, dashed) ? dashed : undefined;
}

/** JSON path of `key` under `base` (`nodes[0].template.time_limit`, `...inputs["my data"]`). */
function child(base: string, key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

/**
 * Translates Valohai's body. `serverFile` is the server's `baton.yaml` as parsed YAML (or
 * undefined when the server has none): its steps are what `template.step` names.
 */
export function translateValohaiPipeline(body: unknown, serverFile: unknown): ValohaiApiResult {
  const problems: ValohaiApiProblem[] = [];
  const ignored: string[] = [];
  const bad = (path: string, message: string) => problems.push({ path, message });
  if (!isObj(body)) return { ok: false, problems: [{ path: "body", message: "expected a JSON object" }] };
  const server = isObj(serverFile) ? serverFile : {};
  const steps = isObj(server.steps) ? { ...server.steps } : {};
  const stepNames = Object.keys(steps);

  const title = body.title ?? "valohai-pipeline";
  if (typeof title !== "string" || title === "") bad("title", "expected a non-empty string");
  const pipeline = typeof title === "string" ? title : "";
  const pipelinePath = formatPath(["pipelines", pipeline]);
  const origins: Origin[] = [
    { def: "pipelines", body: "title", whole: true },
    { def: pipelinePath, body: "title", whole: true },
  ];
  const from = (defPath: Array<string | number>, bodyPath: string, whole = false) =>
    origins.push({ def: formatPath(["pipelines", pipeline, ...defPath]), body: bodyPath, whole });
  for (const key of Object.keys(body)) if (!BODY_KEYS.has(key)) ignored.push(key);
  if (isObj(body.parameters) && Object.keys(body.parameters).length > 0) ignored.push("parameters");

  const nodes: Obj[] = [];
  const usedSteps = new Set<string>();
  /** Node name -> its type, for the edges. */
  const types = new Map<string, string>();
  /** Deployment node name -> the node it becomes (its files and needs come from edges). */
  const deployments = new Map<string, { node: Obj; files: string[]; needs: string[]; at: string }>();
  const rawNodes = body.nodes as unknown[];
  if (rawNodes.length === 0) bad("nodes", "a pipeline needs at least one node");
  for (const [i, raw] of rawNodes.entries()) {
    const at = `nodes[${i}]`;
    if (!isObj(raw)) {
      bad(at, "expected an object { name, type, template }");
      continue;
    }
    if (typeof raw.name !== "string" || raw.name === "") {
      bad(`${at}.name`, "expected the node's name (a non-empty string)");
      continue;
    }
    if (types.has(raw.name)) bad(`${at}.name`, `node "${raw.name}" is given twice`);
    const type = raw.type ?? "execution";
    types.set(raw.name, String(type));
    from(["nodes", i], at);
    from(["nodes", i, "name"], `${at}.name`);
    from(["nodes", i, "needs"], "edges", true);
    if (type === "deployment") {
      for (const key of Object.keys(raw)) if (!DEPLOYMENT_KEYS.has(key)) ignored.push(child(at, key));
      if (typeof raw.deployment !== "string" || raw.deployment === "") {
        bad(`${at}.deployment`, "a deployment node needs the deployment's name (a non-empty string)");
        continue;
      }
      const node: Obj = { name: raw.name };
      from(["nodes", i, "release"], `${at}.deployment`, true);
      deployments.set(raw.name, { node, files: [], needs: [], at });
      nodes.push(node);
      continue;
    }
    if (type !== "execution") {
      bad(
        `${at}.type`,
        `node type ${JSON.stringify(type)} is not supported: use "execution" or "deployment" (a task node's sweep: keep it in baton.yaml as foreach/matrix)`,
      );
      continue;
    }
    for (const key of Object.keys(raw))
      if (!NODE_KEYS.has(key.replaceAll("-", "_"))) ignored.push(child(at, key));
    const template = raw.template ?? {};
    if (!isObj(template)) {
      bad(`${at}.template`, "expected an object { step, command, parameters, inputs, ... }");
      continue;
    }
    const tat = `${at}.template`;
    for (const key of Object.keys(template)) {
      if (!TEMPLATE_KEYS.has(key.replaceAll("-", "_"))) ignored.push(child(tat, key));
    }
    const node: Obj = { name: raw.name };
    const step = template.step;
    const command = template.command;
    let known: Obj | undefined;
    if (step !== undefined && step !== null) {
      if (typeof step !== "string") bad(`${tat}.step`, "expected a step name (a string)");
      else if (Object.hasOwn(steps, step) && isObj(steps[step])) known = steps[step] as Obj;
      else if (command === undefined || command === null || command === "") {
        bad(
          `${tat}.step`,
          `unknown step "${step}": the server's baton.yaml has ${stepNames.length ? stepNames.map((s) => `"${s}"`).join(", ") : "no steps"}; give the step's command in template.command to run it anyway`,
        );
        continue;
      }
    }
    let commandText: string | undefined;
    if (command !== undefined && command !== null && command !== "") {
      const lines = Array.isArray(command) ? command : [command];
      if (!lines.every((l) => typeof l === "string")) {
        bad(`${tat}.command`, "expected a string or a list of strings");
        continue;
      }
      commandText = lines.join("\n");
    } else if (!known) {
      bad(tat, "a node needs template.step (a step of the server's baton.yaml) or template.command");
      continue;
    }
    const parameters = template.parameters ?? {};
    if (!isObj(parameters)) bad(`${tat}.parameters`, "expected an object of parameter name to value");
    const params = isObj(parameters) ? parameters : {};
    if (known) {
      const stepName = step as string;
      from(["nodes", i, "step"], `${tat}.step`);
      if (commandText !== undefined) {
        // The command overrides the step's: a copy of the step, with the command as its run.
        let copy = `${stepName} (${raw.name})`;
        for (let n = 2; Object.hasOwn(steps, copy); n++) copy = `${stepName} (${raw.name}) ${n}`;
        const stepParams = isObj(known.params) ? Object.keys(known.params) : [];
        steps[copy] = {
          ...known,
          run: convertCommand(commandText, new Map(stepParams.map((n) => [n, true]))),
          compat: "valohai",
        };
        origins.push({ def: formatPath(["steps", copy]), body: `${tat}.step`, whole: true });
        origins.push({ def: formatPath(["steps", copy, "run"]), body: `${tat}.command`, whole: true });
        usedSteps.add(copy);
        node.step = copy;
      } else {
        usedSteps.add(stepName);
        node.step = stepName;
      }
      if (Object.keys(params).length) node.with = { ...params };
      from(["nodes", i, "with"], `${tat}.parameters`);
    } else {
      node.run = convertCommand(commandText!, new Map(Object.entries(params)));
      // A command written for Valohai: its /valohai/... paths are $VH_*_DIR, set by compat.
      node.compat = "valohai";
      from(["nodes", i, "run"], `${tat}.command`);
      if (Object.keys(params).length) node.params = { ...params };
      from(["nodes", i, "params"], `${tat}.parameters`);
    }
    const inputs = template.inputs ?? {};
    if (!isObj(inputs)) bad(`${tat}.inputs`, "expected an object of input name to a list of files");
    else {
      const bindings: Obj = {};
      for (const [name, value] of Object.entries(inputs)) {
        const list = Array.isArray(value) ? value : [value];
        if (!list.every((v) => typeof v === "string")) {
          bad(child(`${tat}.inputs`, name), "expected a path, URL or a list of them");
          continue;
        }
        if (list.length > 0) bindings[name] = value;
      }
      if (Object.keys(bindings).length) node.inputs = bindings;
      from(["nodes", i, "inputs"], `${tat}.inputs`);
    }
    const envKey = keyOf(template, "environment_variables");
    const env = envKey ? template[envKey] : {};
    if (!isObj(env)) bad(`${tat}.${envKey}`, "expected an object of name to value");
    else if (Object.keys(env).length) {
      node.env = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
      from(["nodes", i, "env"], `${tat}.${envKey}`);
    }
    const limitKey = keyOf(template, "time_limit");
    const limit = limitKey ? template[limitKey] : undefined;
    if (limit !== undefined && limit !== null && limit !== 0) {
      if (typeof limit !== "number" || !(limit > 0))
        bad(
          `${tat}.${limitKey}`,
          `expected a number of seconds (0: no limit), found ${JSON.stringify(limit)}`,
        );
      else {
        node.timeout = limit;
        from(["nodes", i, "timeout"], `${tat}.${limitKey}`);
      }
    }
    // no-output-timeout: the template's own key, or runtime_config.no_output_timeout (valohai-cli).
    const silenceKey = keyOf(template, "no_output_timeout");
    const runtime = template[keyOf(template, "runtime_config") ?? "runtime_config"];
    const silence = silenceKey
      ? { value: template[silenceKey], path: `${tat}.${silenceKey}` }
      : isObj(runtime) && runtime.no_output_timeout !== undefined
        ? { value: runtime.no_output_timeout, path: `${tat}.runtime_config.no_output_timeout` }
        : undefined;
    if (isObj(runtime)) {
      for (const key of Object.keys(runtime))
        if (key !== "no_output_timeout") ignored.push(child(`${tat}.runtime_config`, key));
    }
    if (silence && silence.value !== null && silence.value !== 0) {
      node["no-output-timeout"] = silence.value;
      from(["nodes", i, "no-output-timeout"], silence.path);
    }
    if (typeof template.image === "string" && template.image !== "") {
      node.image = template.image;
      from(["nodes", i, "image"], `${tat}.image`);
    } else if (template.image !== undefined && template.image !== null && template.image !== "") {
      bad(`${tat}.image`, `expected an image name (a string), found ${JSON.stringify(template.image)}`);
    }
    const onErrorKey = keyOf(raw, "on_error");
    if (onErrorKey && raw[onErrorKey] !== null) {
      const v = String(raw[onErrorKey]).toLowerCase();
      if (!ON_ERROR.includes(v))
        bad(
          `${at}.${onErrorKey}`,
          `expected one of ${ON_ERROR.join(", ")}, found ${JSON.stringify(raw[onErrorKey])}`,
        );
      else node["on-error"] = v;
      from(["nodes", i, "on-error"], `${at}.${onErrorKey}`);
    }
    const reuseKey = keyOf(raw, "reuse_executions");
    // Valohai reuses an execution only when asked to: so does Baton's cache here.
    node.cache = reuseKey !== undefined && raw[reuseKey] === true;
    if (raw.actions !== undefined && raw.actions !== null) {
      node.actions = convertActions(raw.actions, `${at}.actions`, bad);
      from(["nodes", i, "actions"], `${at}.actions`);
    }
    nodes.push(node);
  }

  const edges: string[][] = [];
  const rawEdges = body.edges ?? [];
  if (!Array.isArray(rawEdges)) bad("edges", "expected a list of edges");
  else {
    for (const [i, edge] of rawEdges.entries()) {
      const at = `edges[${i}]`;
      if (!isObj(edge)) {
        bad(at, "expected { source_node, source_type, source_key, target_node, target_type, target_key }");
        continue;
      }
      for (const key of Object.keys(edge))
        if (!/^(source|target)_(node|type|key)$/.test(key)) ignored.push(child(at, key));
      let ok = true;
      for (const end of ["source", "target"] as const) {
        const node = edge[`${end}_node`];
        const type = edge[`${end}_type`];
        const key = edge[`${end}_key`];
        if (typeof node !== "string" || !types.has(node)) {
          bad(
            `${at}.${end}_node`,
            typeof node === "string"
              ? `no node "${node}" in nodes (nodes: ${[...types.keys()].map((n) => `"${n}"`).join(", ")})`
              : "expected a node name",
          );
          ok = false;
        }
        const allowed = end === "source" ? SOURCE_TYPES : TARGET_TYPES;
        if (typeof type !== "string" || !allowed.has(type)) {
          bad(
            `${at}.${end}_type`,
            `expected one of ${[...allowed].join(", ")}, found ${JSON.stringify(type)}`,
          );
          ok = false;
        }
        if (typeof key !== "string" || key === "") {
          bad(`${at}.${end}_key`, "expected a non-empty string");
          ok = false;
        }
      }
      if (!ok) continue;
      const source = edge.source_node as string;
      const target = edge.target_node as string;
      const deployment = deployments.get(target);
      if (types.get(source) === "deployment") {
        bad(`${at}.source_node`, `deployment node "${source}" passes nothing on`);
      } else if (deployment || edge.target_type === "file") {
        // Files sent to a deployment become the files of its release.
        if (!deployment)
          bad(`${at}.target_type`, `"file" edges go to a deployment node; "${target}" is not one`);
        else if (edge.source_type !== "output")
          bad(
            `${at}.source_type`,
            `an edge into deployment node "${target}" starts at an output, found "${edge.source_type}"`,
          );
        else if (edge.target_type !== "file")
          bad(
            `${at}.target_type`,
            `an edge into deployment node "${target}" ends at a file (ENDPOINT.FILE), found "${edge.target_type}"`,
          );
        else {
          if (!deployment.needs.includes(source)) deployment.needs.push(source);
          deployment.files.push(outputsOf(source, edge.source_key as string));
        }
      } else {
        from(["edges", edges.length], at, true);
        edges.push([
          `${source}.${edge.source_type}.${edge.source_key}`,
          `${target}.${edge.target_type}.${edge.target_key}`,
        ]);
      }
    }
  }
  for (const [name, d] of deployments) {
    if (d.files.length === 0) {
      bad(
        d.at,
        `deployment node "${name}" gets no files: add an edge { source_type: "output", target_node: "${name}", target_type: "file" }`,
      );
      continue;
    }
    d.node.needs = d.needs;
    d.node.release = releaseOf(
      (rawNodes.find((n) => isObj(n) && n.name === name) as Obj).deployment as string,
      d.files,
    );
  }
  if (problems.length > 0) return { ok: false, problems };

  const definition: Obj = { version: 1 };
  if (server.defaults !== undefined && server.defaults !== null) definition.defaults = server.defaults;
  if (server.pools !== undefined && server.pools !== null) definition.pools = server.pools;
  if (usedSteps.size) definition.steps = Object.fromEntries([...usedSteps].map((s) => [s, steps[s]]));
  // Valohai's default: a failed node stops the whole pipeline (a node's on_error overrides it).
  definition.pipelines = {
    [pipeline]: { "on-error": "stop-all", nodes, ...(edges.length ? { edges } : {}) },
  };
  return { ok: true, value: { definition, pipeline, ignored, origins } };
}

/** Node `actions` as Baton's: `if:` conditions converted (`metadata.x` -> `metrics.x`). */
function convertActions(value: unknown, at: string, bad: (path: string, message: string) => void): unknown {
  if (!Array.isArray(value)) {
    bad(at, "expected a list of { when, if, then }");
    return [];
  }
  return value.map((a) => {
    if (!isObj(a)) return a;
    const out: Obj = { ...a };
    if (a.if !== undefined) {
      const conds = (Array.isArray(a.if) ? a.if : [a.if]).map(
        (c) => `\${{ ${convertCondition(String(c))} }}`,
      );
      out.if = conds.length === 1 ? conds[0] : conds;
    }
    return out;
  });
}

/**
 * Where a problem of the translated definition comes from in the posted body: the longest
 * origin that is a prefix of `defPath`, with the rest of the path kept
 * (`pipelines.t.nodes[1].with.rows` -> `nodes[1].template.parameters.rows`); undefined when
 * no origin covers it (a problem in the server's own file).
 */
export function bodyPathOf(origins: Origin[], defPath: string): string | undefined {
  let best: Origin | undefined;
  for (const o of origins) {
    const p = o.def;
    if (defPath !== p && !defPath.startsWith(`${p}.`) && !defPath.startsWith(`${p}[`)) continue;
    if (!best || p.length > best.def.length) best = o;
  }
  if (!best) return undefined;
  return best.whole ? best.body : best.body + defPath.slice(best.def.length);
}

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
