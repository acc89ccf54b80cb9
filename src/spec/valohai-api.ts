/**
 * Valohai's pipeline-creation body (`POST /api/v0/pipelines/`, also taken at
 * `POST /api/v1/pipelines`) turned into a Baton definition: the server's `baton.yaml`
 * (its defaults, pools and steps) plus one pipeline in the Valohai list form (`nodes` with
 * `step`/`run`, `edges` as `[SOURCE, TARGET]`). Pure: the caller reads the server's file and
 * starts the run.
 *
 * Field by field (docs/api.md, "Valohai-compatible pipeline creation"):
 * - `title` -> the pipeline's name; `project`, `tags` are accepted and ignored.
 * - `nodes[].name` -> node name; `type` must be `execution`.
 * - `template.step`: a step of the server's file; `template.command` (Valohai placeholders
 *   converted) overrides its `run:`, or is the node's command when the step is unknown or absent.
 * - `template.parameters` -> `with:` (a step node) or params with those defaults (a command node).
 * - `template.inputs` -> input bindings (an empty list binds nothing: edges or defaults do).
 * - `template.environment_variables` -> `env:`; `template.time_limit` (seconds, 0 = none) -> `timeout:`.
 * - `edges[]` `{source_node, source_type, source_key, target_node, target_type, target_key}` ->
 *   `"SOURCE_NODE.SOURCE_TYPE.SOURCE_KEY"`, `"TARGET_NODE.TARGET_TYPE.TARGET_KEY"`.
 * Fields without a local meaning (`environment`, `commit`, `image`, `runtime_config`, ...) are
 * listed in `ignored`, never silently dropped.
 */
import { convertCommand } from "./valohai.js";

type Obj = Record<string, unknown>;

/** A problem with the body, at its JSON path (`nodes[1].template.step`). */
export interface ValohaiApiProblem {
  path: string;
  message: string;
}

export interface ValohaiApiTranslation {
  /** The Baton definition (baton.yaml structure) to run. */
  definition: Obj;
  /** The pipeline of `definition` to start. */
  pipeline: string;
  /** Fields accepted without effect, by JSON path. */
  ignored: string[];
}

export type ValohaiApiResult =
  | { ok: true; value: ValohaiApiTranslation }
  | { ok: false; problems: ValohaiApiProblem[] };

const SOURCE_TYPES = new Set(["output", "metadata", "parameter"]);
const TARGET_TYPES = new Set(["input", "parameter"]);
/** Template fields that have a Baton meaning; any other is listed as ignored. */
const USED_TEMPLATE_KEYS = new Set([
  "step",
  "command",
  "parameters",
  "inputs",
  "environment_variables",
  "time_limit",
]);

/** Whether a body is Valohai's pipeline shape (rather than `{ name, definition }`). */
export function isValohaiPipelineBody(body: unknown): boolean {
  return isObj(body) && Array.isArray(body.nodes) && !("definition" in body);
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
  const steps = isObj(server.steps) ? server.steps : {};
  const stepNames = Object.keys(steps);

  const title = body.title ?? "valohai-pipeline";
  if (typeof title !== "string" || title.trim() === "") bad("title", "expected a non-empty string");
  for (const key of Object.keys(body)) {
    if (!["title", "nodes", "edges", "project", "tags", "parameters"].includes(key)) ignored.push(key);
  }
  if (isObj(body.parameters) && Object.keys(body.parameters).length > 0) ignored.push("parameters");

  const nodes: Obj[] = [];
  const usedSteps = new Set<string>();
  const names = new Set<string>();
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
    if (names.has(raw.name)) bad(`${at}.name`, `node "${raw.name}" is given twice`);
    names.add(raw.name);
    const type = raw.type ?? "execution";
    if (type !== "execution") {
      bad(
        `${at}.type`,
        `node type ${JSON.stringify(type)} is not supported: only "execution" (keep files with a release: node in baton.yaml)`,
      );
      continue;
    }
    for (const key of Object.keys(raw))
      if (!["name", "type", "template"].includes(key)) ignored.push(`${at}.${key}`);
    const template = raw.template ?? {};
    if (!isObj(template)) {
      bad(`${at}.template`, "expected an object { step, command, parameters, inputs, ... }");
      continue;
    }
    for (const key of Object.keys(template)) {
      if (!USED_TEMPLATE_KEYS.has(key)) ignored.push(`${at}.template.${key}`);
    }
    const node: Obj = { name: raw.name };
    const step = template.step;
    const command = template.command;
    let known: Obj | undefined;
    if (step !== undefined && step !== null) {
      if (typeof step !== "string") bad(`${at}.template.step`, "expected a step name (a string)");
      else if (Object.hasOwn(steps, step) && isObj(steps[step])) known = steps[step] as Obj;
      else if (command === undefined || command === null || command === "") {
        bad(
          `${at}.template.step`,
          `unknown step "${step}": the server's baton.yaml has ${stepNames.length ? stepNames.map((s) => `"${s}"`).join(", ") : "no steps"}; give the step's command in template.command to run it anyway`,
        );
        continue;
      }
    }
    let commandText: string | undefined;
    if (command !== undefined && command !== null && command !== "") {
      const lines = Array.isArray(command) ? command : [command];
      if (!lines.every((l) => typeof l === "string")) {
        bad(`${at}.template.command`, "expected a string or a list of strings");
        continue;
      }
      commandText = lines.join("\n");
    } else if (!known) {
      bad(
        `${at}.template`,
        "a node needs template.step (a step of the server's baton.yaml) or template.command",
      );
      continue;
    }
    const parameters = template.parameters ?? {};
    if (!isObj(parameters)) bad(`${at}.template.parameters`, "expected an object of parameter name to value");
    const params = isObj(parameters) ? parameters : {};
    if (known) {
      const stepName = step as string;
      if (commandText !== undefined) {
        // The command overrides the step's: a copy of the step, with the command as its run.
        const copy = `${stepName}--${raw.name}`.replace(/[^A-Za-z0-9_-]/g, "-");
        const stepParams = isObj(known.params) ? Object.keys(known.params) : [];
        steps[copy] = {
          ...known,
          run: convertCommand(commandText, new Map(stepParams.map((n) => [n, true]))),
        };
        usedSteps.add(copy);
        node.step = copy;
      } else {
        usedSteps.add(stepName);
        node.step = stepName;
      }
      if (Object.keys(params).length) node.with = { ...params };
    } else {
      node.run = convertCommand(commandText!, new Map(Object.entries(params)));
      if (Object.keys(params).length) node.params = { ...params };
    }
    const inputs = template.inputs ?? {};
    if (!isObj(inputs)) bad(`${at}.template.inputs`, "expected an object of input name to a list of files");
    else {
      const bindings: Obj = {};
      for (const [name, value] of Object.entries(inputs)) {
        const list = Array.isArray(value) ? value : [value];
        if (!list.every((v) => typeof v === "string")) {
          bad(`${at}.template.inputs.${name}`, "expected a path, URL or a list of them");
          continue;
        }
        if (list.length > 0) bindings[name] = list;
      }
      if (Object.keys(bindings).length) node.inputs = bindings;
    }
    const env = template.environment_variables ?? {};
    if (!isObj(env)) bad(`${at}.template.environment_variables`, "expected an object of name to value");
    else if (Object.keys(env).length) {
      node.env = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
    }
    const limit = template.time_limit;
    if (limit !== undefined && limit !== null && limit !== 0) {
      if (typeof limit !== "number" || !(limit > 0))
        bad(
          `${at}.template.time_limit`,
          `expected a number of seconds (0: no limit), found ${JSON.stringify(limit)}`,
        );
      else node.timeout = limit;
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
      let ok = true;
      for (const end of ["source", "target"] as const) {
        const node = edge[`${end}_node`];
        const type = edge[`${end}_type`];
        const key = edge[`${end}_key`];
        if (typeof node !== "string" || !names.has(node)) {
          bad(
            `${at}.${end}_node`,
            typeof node === "string"
              ? `no node "${node}" in nodes (nodes: ${[...names].map((n) => `"${n}"`).join(", ")})`
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
      if (ok) {
        edges.push([
          `${edge.source_node}.${edge.source_type}.${edge.source_key}`,
          `${edge.target_node}.${edge.target_type}.${edge.target_key}`,
        ]);
      }
    }
  }
  if (problems.length > 0) return { ok: false, problems };

  const pipeline = pipelineName(title as string);
  const definition: Obj = { version: 1 };
  if (server.defaults !== undefined && server.defaults !== null) definition.defaults = server.defaults;
  if (server.pools !== undefined && server.pools !== null) definition.pools = server.pools;
  if (usedSteps.size) definition.steps = Object.fromEntries([...usedSteps].map((s) => [s, steps[s]]));
  definition.pipelines = { [pipeline]: { nodes, ...(edges.length ? { edges } : {}) } };
  return { ok: true, value: { definition, pipeline, ignored } };
}

/** The title as a pipeline name: kept when it is one, else letters, digits, `_` and `-` only. */
export function pipelineName(title: string): string {
  if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(title)) return title;
  const slug = title.replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "");
  return /^[A-Za-z_]/.test(slug) ? slug : `p-${slug || "pipeline"}`;
}

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
