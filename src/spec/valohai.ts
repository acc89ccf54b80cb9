/**
 * `baton import valohai FILE`: converts the text of a `valohai.yaml` (a list of `- step:`,
 * `- pipeline:`, `- task:` and `- endpoint:` entries) into a `baton.yaml` document. Pure: the
 * caller reads and writes files.
 *
 * The user's file is parsed keeping positions, so every refusal and every warning names
 * `FILE:LINE:COLUMN` and the key path in the user's file (`[2].pipeline.nodes[1].on-error`).
 * What Valohai's own linter rejects is refused; what has no Baton meaning is left out with a
 * warning naming the key. The keys emitted follow docs/pipeline-file.md ("Importing a
 * valohai.yaml" lists every Valohai key and what becomes of it).
 */
import { LineCounter, parseDocument } from "yaml";
import type { Problem } from "../errors.js";
import { type SourceMap, yamlSourceMap } from "./locate.js";
import { type Path, formatPath, suggest } from "./problems.js";

/** The result of {@link importValohaiText}. */
export interface ValohaiImport {
  /** The baton.yaml document (ready for `yaml.stringify`); undefined when refused. */
  document: Record<string, unknown> | undefined;
  /** What was left out or changed in meaning, located in the user's file. */
  warnings: Problem[];
  /** Why the file is refused (empty when it converted). */
  errors: Problem[];
  /**
   * Where each converted step, pipeline and node came from: a key path of the converted
   * document (`pipelines["Train (MNIST)"].nodes.train`) and the place in the user's file.
   * Used to report a problem of the converted document where the user can find it.
   */
  origins: Array<{ converted: string; at: Problem }>;
}

type Obj = Record<string, unknown>;

const PARAM_TYPES: Record<string, string> = {
  integer: "int",
  float: "float",
  string: "string",
  flag: "bool",
};
const ON_ERROR = ["stop-all", "stop-next", "continue", "retry"];
const MERGE_MODES = ["replace", "append"];
const EDGE_TYPES = ["input", "output", "parameter", "metadata", "file", "environment-variable", "dependency"];
const WHENS = ["node-starting", "node-complete", "node-error"];
const THENS = ["stop-pipeline", "require-approval", "error-pipeline", "noop"];
const KEEP_DIRECTORIES: Record<string, string> = {
  none: "none",
  full: "full",
  suffix: "suffix",
  true: "full",
  false: "none",
};
const SWEEP_STYLES = ["single", "multiple", "linear", "logspace", "random"];

/** Keys of a step left out, with why. */
const STEP_DROPPED: Record<string, string> = {
  environment: "Baton runs tasks on this machine; use pools for where tasks run",
  mounts: "Baton does not mount volumes; tasks see this machine's file system",
  "cache-volumes": "Baton does not mount cache volumes",
  resources: "Baton does not request cloud resources; declare pool resources instead",
  "source-path": "Baton runs commands in the project folder",
  "upload-store": "outputs stay in Baton's content store",
  icon: "Baton shows no step icons",
  category: "Baton does not group steps",
  description: "baton.yaml steps have no description",
  outputs: "Baton keeps every file written to $VH_OUTPUTS_DIR; output declarations are documentation only",
  "environment-variable-groups": "environment variable groups live on Valohai's servers",
  "runtime-config-preset": "runtime presets live on Valohai's servers",
  "stop-condition": "Baton has no stop conditions; use node actions",
  autorestart: "Baton does not restart interrupted tasks; use retries",
  tasks: "Baton does not keep task presets on steps",
  shebang: "Baton runs commands with bash",
};
const STEP_KEYS = new Set([
  "name",
  "image",
  "command",
  "parameters",
  "inputs",
  "environment-variables",
  "time-limit",
  "no-output-timeout",
  ...Object.keys(STEP_DROPPED),
]);

export function importValohaiText(text: string, file: string): ValohaiImport {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  for (const error of doc.errors) {
    const pos = error.linePos?.[0];
    const first = error.message.split("\n")[0] ?? error.message;
    errors.push({
      file,
      ...(pos ? { line: pos.line, column: pos.col } : {}),
      message: `YAML syntax: ${first.replace(/ at line \d+, column \d+:?$/, "")}`,
    });
  }
  if (errors.length) return { document: undefined, warnings, errors, origins: [] };
  const source = yamlSourceMap(doc, lineCounter, text);
  const cx = new Context(file, source, warnings, errors);
  const data = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  const document = convert(cx, data);
  return { document: errors.length ? undefined : document, warnings, errors, origins: cx.origins };
}

class Context {
  readonly origins: Array<{ converted: string; at: Problem }> = [];
  constructor(
    readonly file: string,
    readonly source: SourceMap,
    readonly warnings: Problem[],
    readonly errors: Problem[],
  ) {}

  at(path: Path, at: "key" | "value" = "value"): Problem {
    const pos = this.source.position(path, at);
    const p: Problem = { file: this.file, message: "" };
    if (pos) {
      p.line = pos.line;
      p.column = pos.column;
    }
    const shown = formatPath(path);
    if (shown) p.path = shown;
    return p;
  }
  error(path: Path, message: string, at: "key" | "value" = "value"): void {
    this.errors.push({ ...this.at(path, at), message });
  }
  warn(path: Path, message: string, at: "key" | "value" = "key"): void {
    this.warnings.push({ ...this.at(path, at), message });
  }
  origin(converted: Path, path: Path): void {
    this.origins.push({ converted: formatPath(converted), at: this.at(path, "value") });
  }
}

interface StepInfo {
  name: string;
  path: Path;
  /** The converted step. */
  out: Obj;
  /** Converted param declarations by name. */
  params: Map<string, Obj>;
  /** Converted input declarations by name. */
  inputs: Map<string, Obj>;
  /** `edge-merge-mode` set on an input in the step. */
  inputMerge: Map<string, string>;
  env: Obj;
}

interface Blueprint {
  name: string;
  path: Path;
  step: string;
  entry: Obj;
  used: boolean;
}

function convert(cx: Context, data: unknown): Obj | undefined {
  if (!Array.isArray(data)) {
    cx.error([], 'expected a list of "- step:", "- pipeline:", "- task:" and "- endpoint:" entries');
    return undefined;
  }
  const steps = new Map<string, StepInfo>();
  const blueprints = new Map<string, Blueprint>();
  const pipelineEntries: Array<{ entry: Obj; path: Path }> = [];
  const pipelineNames = new Map<string, Path>();
  for (const [i, entry] of data.entries()) {
    if (!isObj(entry) || Object.keys(entry).length === 0) {
      cx.error([i], 'expected a map with one of "step", "pipeline", "task" or "endpoint"');
      continue;
    }
    const keys = Object.keys(entry);
    if (keys.length > 1) {
      cx.error(
        [i, keys[1] as string],
        `an entry holds one of "step", "pipeline", "task" or "endpoint", not ${keys.length} keys`,
        "key",
      );
      continue;
    }
    const kind = keys[0] as string;
    const body = entry[kind];
    const path: Path = [i, kind];
    if (kind === "endpoint") {
      cx.warn(
        path,
        "Baton does not serve endpoints: this endpoint is left out (deployment nodes keep their files as releases)",
      );
      continue;
    }
    if (!["step", "pipeline", "task"].includes(kind)) {
      cx.error(
        path,
        `unknown entry "${kind}"${suggest(kind, ["step", "pipeline", "task", "endpoint"])}`,
        "key",
      );
      continue;
    }
    if (!isObj(body)) {
      cx.error(path, `a ${kind} must be a map`);
      continue;
    }
    const name = body.name;
    if (typeof name !== "string" || name.trim() === "") {
      cx.error(path, `a ${kind} needs a name`, "key");
      continue;
    }
    if (kind === "step") {
      if (steps.has(name)) {
        cx.error(
          [...path, "name"],
          `duplicate step name "${name}" (first written on line ${cx.at([...(steps.get(name) as StepInfo).path, "name"]).line})`,
        );
        continue;
      }
      const info = convertStep(cx, body, path);
      if (info) steps.set(name, info);
    } else if (kind === "task") {
      if (blueprints.has(name)) {
        cx.error([...path, "name"], `duplicate task name "${name}"`);
        continue;
      }
      blueprints.set(name, { name, path, step: String(body.step ?? ""), entry: body, used: false });
    } else {
      if (pipelineNames.has(name)) {
        cx.error(
          [...path, "name"],
          `duplicate pipeline name "${name}" (first written on line ${cx.at([...(pipelineNames.get(name) as Path), "name"]).line})`,
        );
        continue;
      }
      pipelineNames.set(name, path);
      pipelineEntries.push({ entry: body, path });
    }
  }
  for (const bp of blueprints.values()) {
    if (!steps.has(bp.step))
      cx.error(
        [...bp.path, "step"],
        `task "${bp.name}": unknown step "${bp.step}"${suggest(bp.step, steps.keys())}`,
      );
  }
  const pipelines: Obj = {};
  for (const { entry, path } of pipelineEntries) {
    const name = entry.name as string;
    const out = convertPipeline(cx, entry, path, steps, blueprints);
    if (out) {
      pipelines[name] = out;
      cx.origin(["pipelines", name], [...path, "name"]);
    }
  }
  for (const bp of blueprints.values()) {
    if (!bp.used)
      cx.warn(
        bp.path,
        `task "${bp.name}" is used by no pipeline node: left out (Baton starts sweeps as pipeline nodes)`,
      );
  }
  const document: Obj = { version: 1 };
  if (steps.size) document.steps = Object.fromEntries([...steps].map(([n, s]) => [n, s.out]));
  if (pipelineEntries.length === 0) {
    // A file of steps only: one single-node pipeline per step, so each can be run at once.
    for (const [name, s] of steps) {
      pipelines[name] = { nodes: { [name]: { step: name, cache: false } } };
      cx.origin(["pipelines", name], [...s.path, "name"]);
    }
  }
  document.pipelines = pipelines;
  return document;
}

// ---------------------------------------------------------------------------------------------
// Steps

function convertStep(cx: Context, step: Obj, path: Path): StepInfo | undefined {
  const name = step.name as string;
  for (const key of Object.keys(step)) {
    if (!STEP_KEYS.has(key)) cx.warn([...path, key], `unknown step key "${key}": left out`);
    else if (STEP_DROPPED[key] !== undefined)
      cx.warn([...path, key], `"${key}" left out: ${STEP_DROPPED[key]}`);
  }
  const out: Obj = {};
  const params = new Map<string, Obj>();
  const paramsPath = [...path, "parameters"];
  for (const [i, p] of asList(step.parameters).entries()) {
    const converted = convertParam(cx, p, [...paramsPath, i]);
    if (!converted) continue;
    if (params.has(converted.name)) {
      cx.error([...paramsPath, i, "name"], `duplicate parameter name "${converted.name}" in step "${name}"`);
      continue;
    }
    params.set(converted.name, converted.decl);
  }
  const inputs = new Map<string, Obj>();
  const inputMerge = new Map<string, string>();
  for (const [i, input] of asList(step.inputs).entries()) {
    const ipath = [...path, "inputs", i];
    if (!isObj(input) || typeof input.name !== "string" || input.name === "") {
      cx.error(ipath, "an input needs a name");
      continue;
    }
    if (inputs.has(input.name)) {
      cx.error([...ipath, "name"], `duplicate input name "${input.name}" in step "${name}"`);
      continue;
    }
    inputs.set(input.name, convertInput(cx, input, ipath));
    if (input["edge-merge-mode"] !== undefined) {
      const mode = String(input["edge-merge-mode"]);
      if (!MERGE_MODES.includes(mode))
        cx.error(
          [...ipath, "edge-merge-mode"],
          `edge-merge-mode must be "replace" or "append", not ${JSON.stringify(input["edge-merge-mode"])}`,
        );
      inputMerge.set(input.name, mode);
    }
  }
  const commands = asList(step.command);
  if (commands.length === 0 || commands.some((c) => typeof c !== "string")) {
    cx.error(
      [...path, step.command === undefined ? "name" : "command"],
      `step "${name}" needs a command (a string or a list of strings)`,
      step.command === undefined ? "key" : "value",
    );
    return undefined;
  }
  out.run = (commands as string[])
    .map((c, i) =>
      convertCommand(c, params, (message) =>
        cx.error(typeof step.command === "string" ? [...path, "command"] : [...path, "command", i], message),
      ),
    )
    .join("\n");
  if (params.size) out.params = Object.fromEntries(params);
  if (inputs.size) out.inputs = Object.fromEntries(inputs);
  const env = convertEnv(cx, step["environment-variables"], [...path, "environment-variables"]);
  if (Object.keys(env).length) out.env = env;
  if (step["time-limit"] !== undefined)
    out.timeout = duration(cx, step["time-limit"], [...path, "time-limit"]);
  if (step["no-output-timeout"] !== undefined)
    out["no-output-timeout"] = duration(cx, step["no-output-timeout"], [...path, "no-output-timeout"]);
  if (typeof step.image === "string") out.image = step.image;
  out.compat = "valohai";
  cx.origin(["steps", name], [...path, "name"]);
  return { name, path, out, params, inputs, inputMerge, env };
}

const PARAM_KEYS = new Set([
  "name",
  "type",
  "default",
  "description",
  "choices",
  "min",
  "max",
  "optional",
  "pass-as",
  "pass-true-as",
  "pass-false-as",
  "multiple",
  "multiple-separator",
  "category",
  "widget",
]);

function convertParam(cx: Context, p: unknown, path: Path): { name: string; decl: Obj } | undefined {
  if (!isObj(p) || typeof p.name !== "string" || p.name === "") {
    cx.error(path, "a parameter needs a name");
    return undefined;
  }
  const name = p.name;
  for (const key of Object.keys(p)) {
    if (!PARAM_KEYS.has(key)) cx.warn([...path, key], `unknown parameter key "${key}": left out`);
    else if (key === "category" || key === "widget")
      cx.warn([...path, key], `"${key}" left out: it only changes Valohai's web form`);
  }
  const vtype = p.type === undefined ? "string" : String(p.type);
  const type = PARAM_TYPES[vtype];
  if (type === undefined) {
    cx.error(
      [...path, "type"],
      `parameter "${name}": unknown type ${JSON.stringify(p.type)} (use flag, float, integer or string)`,
    );
    return undefined;
  }
  const multiple = p.multiple === undefined || p.multiple === "none" ? undefined : String(p.multiple);
  if (multiple !== undefined && multiple !== "separate" && multiple !== "repeat") {
    cx.error(
      [...path, "multiple"],
      `parameter "${name}": multiple must be "none", "separate" or "repeat", not ${JSON.stringify(p.multiple)}`,
    );
  }
  const decl: Obj = { type: multiple ? "list" : type };
  let def = p.default;
  if (multiple && def !== undefined && def !== null && !Array.isArray(def)) def = [def];
  if (def === undefined || def === null) {
    if (type === "bool") decl.default = false;
  } else {
    decl.default = def;
  }
  if (p.choices !== undefined) {
    if (!Array.isArray(p.choices))
      cx.error([...path, "choices"], `parameter "${name}": choices must be a list`);
    else {
      decl.choices = p.choices;
      const values = Array.isArray(def) ? def : def === undefined || def === null ? [] : [def];
      for (const v of values) {
        if (!p.choices.some((c) => c === v || String(c) === String(v)))
          cx.error(
            [...path, "default"],
            `parameter "${name}": default ${JSON.stringify(v)} is not one of the choices ${JSON.stringify(p.choices)}`,
          );
      }
    }
  }
  for (const bound of ["min", "max"] as const) {
    if (p[bound] === undefined) continue;
    if (typeof p[bound] !== "number")
      cx.error([...path, bound], `parameter "${name}": ${bound} must be a number`);
    else decl[bound] = p[bound];
  }
  if (typeof p.description === "string") decl.description = p.description;
  if (p.optional === true) decl.optional = true;
  const passAs = p["pass-as"];
  if (typeof passAs === "string")
    decl[type === "bool" ? "pass-true-as" : "pass-as"] = passTemplate(passAs, name);
  for (const key of ["pass-true-as", "pass-false-as"] as const) {
    if (typeof p[key] === "string") decl[key] = passTemplate(p[key] as string, name);
  }
  if (multiple) {
    decl.multiple = multiple;
    if (typeof p["multiple-separator"] === "string") decl["multiple-separator"] = p["multiple-separator"];
  }
  return { name, decl };
}

/** Valohai's `--lr={value}` / `{v}` / `{name}` in Baton's `pass-as` spelling (`{v}`). */
function passTemplate(template: string, name: string): string {
  return template.replaceAll("{value}", "{v}").replaceAll("{name}", name);
}

const INPUT_KEYS = new Set([
  "name",
  "default",
  "optional",
  "description",
  "keep-directories",
  "filename",
  "edge-merge-mode",
  "download",
]);

function convertInput(cx: Context, input: Obj, path: Path): Obj {
  const name = input.name as string;
  for (const key of Object.keys(input)) {
    if (!INPUT_KEYS.has(key)) cx.warn([...path, key], `unknown input key "${key}": left out`);
    else if (key === "download")
      cx.warn([...path, key], '"download" left out: Baton links inputs, it never copies them ahead of time');
  }
  const decl: Obj = {};
  const defaults = asList(input.default);
  for (const [i, d] of defaults.entries()) {
    const dpath = Array.isArray(input.default) ? [...path, "default", i] : [...path, "default"];
    if (typeof d !== "string") {
      cx.error(dpath, `input "${name}": a default is a path or a URL, not ${JSON.stringify(d)}`);
      continue;
    }
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(d)?.[1]?.toLowerCase();
    if (scheme !== undefined && scheme !== "http" && scheme !== "https") {
      cx.error(
        dpath,
        `input "${name}": default ${JSON.stringify(d)}: Baton cannot fetch ${scheme}:// URLs (only http:// and https://); download the file and use its path`,
      );
    }
  }
  if (defaults.length) decl.default = defaults.length === 1 ? defaults[0] : defaults;
  if (input.optional === true) decl.optional = true;
  if (typeof input.description === "string") decl.description = input.description;
  if (input["keep-directories"] !== undefined) {
    const kd = KEEP_DIRECTORIES[String(input["keep-directories"])];
    if (kd === undefined)
      cx.error(
        [...path, "keep-directories"],
        `input "${name}": keep-directories must be none, full or suffix, not ${JSON.stringify(input["keep-directories"])}`,
      );
    else if (kd !== "none") decl["keep-directories"] = kd;
  }
  if (input.filename !== undefined) decl.filename = String(input.filename);
  return decl;
}

function convertEnv(cx: Context, value: unknown, path: Path): Obj {
  const env: Obj = {};
  for (const [i, v] of asList(value).entries()) {
    if (!isObj(v) || typeof v.name !== "string") {
      cx.error([...path, i], "an environment variable needs a name");
      continue;
    }
    if (v.default === undefined || v.default === null) {
      cx.warn(
        [...path, i, "name"],
        `environment variable "${v.name}" has no default: left out (set it in the environment of baton)`,
      );
      continue;
    }
    env[v.name] = typeof v.default === "object" ? JSON.stringify(v.default) : v.default;
  }
  return env;
}

function duration(cx: Context, value: unknown, path: Path): string | undefined {
  if (typeof value === "number" && value > 0) return `${value}s`;
  if (typeof value === "string" && value.trim() !== "")
    return /^\d+(\.\d+)?$/.test(value.trim()) ? `${value.trim()}s` : value;
  cx.error(path, `expected a duration (seconds, or "1h 30m"), not ${JSON.stringify(value)}`);
  return undefined;
}

const DIRS: Record<string, string> = {
  inputs: "VH_INPUTS_DIR",
  outputs: "VH_OUTPUTS_DIR",
  config: "VH_CONFIG_DIR",
  repository: "VH_REPOSITORY_DIR",
};

/**
 * One Valohai command in Baton's terms: placeholders become expressions (`{parameters}` ->
 * `${{ args }}`, `{parameter:N}` -> `${{ arg.N }}`, `{parameter-value:N}` ->
 * `${{ quote(params.N) }}`), and `/valohai/inputs|outputs|config|repository` become the
 * matching `$VH_*_DIR` variable, quoted for where it stands (outside quotes, inside double or
 * inside single quotes), so a project path with spaces stays one word.
 */
export function convertCommand(
  command: string,
  params: ReadonlyMap<string, unknown>,
  onError: (message: string) => void = () => {},
): string {
  let out = "";
  let quote: "" | "'" | '"' = "";
  let i = 0;
  while (i < command.length) {
    const rest = command.slice(i);
    const ch = command[i] as string;
    const placeholder = /^\{(parameters|params|parameter|parameter-value)(?::([^{}]+))?\}/.exec(rest);
    if (placeholder) {
      const [whole, kind, name] = placeholder as unknown as [string, string, string | undefined];
      if (kind === "parameters" || kind === "params") {
        if (name === undefined) {
          out += "${{ args }}";
          i += whole.length;
          continue;
        }
      } else if (name !== undefined) {
        if (!params.has(name))
          onError(`placeholder ${whole} names no parameter of the step${suggest(name, params.keys())}`);
        out +=
          kind === "parameter"
            ? `\${{ ${member("arg", name)} }}`
            : `\${{ quote(${member("params", name)}) }}`;
        i += whole.length;
        continue;
      }
    }
    const dir = /^\/valohai\/(inputs|outputs|config|repository)(?=$|[/\s"';|&)<>])/.exec(rest);
    const prev = command[i - 1];
    if (dir && (prev === undefined || !/[A-Za-z0-9_./-]/.test(prev))) {
      const v = DIRS[dir[1] as string] as string;
      out += quote === '"' ? `\${${v}}` : quote === "'" ? `'"\${${v}}"'` : `"\${${v}}"`;
      i += dir[0].length;
      continue;
    }
    if (quote === "" && (ch === "'" || ch === '"')) quote = ch;
    else if (quote !== "" && ch === quote) quote = "";
    else if (ch === "\\" && quote !== "'" && i + 1 < command.length) {
      out += command.slice(i, i + 2);
      i += 2;
      continue;
    }
    out += ch;
    i++;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Pipelines

interface NodeState {
  name: string;
  path: Path;
  type: "execution" | "task" | "deployment";
  step?: StepInfo;
  out: Obj;
  needs: string[];
  with: Obj;
  env: Obj;
  /** Inputs set by `override.inputs` (replacing the step default). */
  inputDefaults: Map<string, unknown[]>;
  /** Expressions bound to each input by edges, with the merge mode of each edge. */
  inputEdges: Map<string, Array<{ expr: string; mode: string | undefined }>>;
  /** Parameters swept by a task node: name -> values or an expression giving a list. */
  sweep: Map<string, unknown>;
  merge: string | undefined;
  files: string[];
}

const NODE_KEYS = new Set([
  "name",
  "type",
  "step",
  "task",
  "override",
  "on-error",
  "actions",
  "edge-merge-mode",
  "reuse-executions",
  "deployment",
  "aliases",
  "endpoints",
]);

function convertPipeline(
  cx: Context,
  pipeline: Obj,
  path: Path,
  steps: Map<string, StepInfo>,
  blueprints: Map<string, Blueprint>,
): Obj | undefined {
  const pname = pipeline.name as string;
  for (const key of Object.keys(pipeline)) {
    if (!["name", "nodes", "edges", "parameters", "reuse-executions"].includes(key))
      cx.warn([...path, key], `unknown pipeline key "${key}": left out`);
  }
  const reuse = pipeline["reuse-executions"] === true;
  const nodes = new Map<string, NodeState>();
  const npath = [...path, "nodes"];
  if (!Array.isArray(pipeline.nodes) || pipeline.nodes.length === 0) {
    cx.error(
      Array.isArray(pipeline.nodes) ? npath : [...path, "name"],
      `pipeline "${pname}" needs a list of nodes`,
      Array.isArray(pipeline.nodes) ? "value" : "key",
    );
    return undefined;
  }
  for (const [i, node] of pipeline.nodes.entries()) {
    const state = convertNode(cx, node, [...npath, i], steps, blueprints, reuse);
    if (!state) continue;
    if (nodes.has(state.name)) {
      cx.error([...npath, i, "name"], `duplicate node name "${state.name}" in pipeline "${pname}"`);
      continue;
    }
    nodes.set(state.name, state);
  }
  const params = convertPipelineParams(cx, pipeline.parameters, [...path, "parameters"], nodes);
  convertEdges(cx, pipeline.edges, [...path, "edges"], nodes);
  const out: Obj = {};
  if (Object.keys(params).length) out.params = params;
  out["on-error"] = "stop-all";
  const outNodes: Obj = {};
  for (const n of nodes.values()) {
    outNodes[n.name] = finishNode(cx, n);
    cx.origin(["pipelines", pname, "nodes", n.name], [...n.path, "name"]);
  }
  out.nodes = outNodes;
  return out;
}

function convertNode(
  cx: Context,
  node: unknown,
  path: Path,
  steps: Map<string, StepInfo>,
  blueprints: Map<string, Blueprint>,
  reuse: boolean,
): NodeState | undefined {
  if (!isObj(node) || typeof node.name !== "string" || node.name === "") {
    cx.error(path, "a node needs a name");
    return undefined;
  }
  const name = node.name;
  for (const key of Object.keys(node)) {
    if (!NODE_KEYS.has(key)) cx.warn([...path, key], `unknown node key "${key}": left out`);
  }
  const type =
    node.type === undefined
      ? node.deployment !== undefined
        ? "deployment"
        : "execution"
      : String(node.type);
  if (type !== "execution" && type !== "task" && type !== "deployment") {
    cx.error(
      [...path, "type"],
      `node "${name}": unknown type ${JSON.stringify(node.type)} (use execution, task or deployment)`,
    );
    return undefined;
  }
  const state: NodeState = {
    name,
    path,
    type,
    out: {},
    needs: [],
    with: {},
    env: {},
    inputDefaults: new Map(),
    inputEdges: new Map(),
    sweep: new Map(),
    merge: undefined,
    files: [],
  };
  if (type === "deployment") {
    if (typeof node.deployment !== "string" || node.deployment === "") {
      cx.error(
        [...path, "name"],
        `deployment node "${name}" needs "deployment:" (the deployment's name)`,
        "key",
      );
      return undefined;
    }
    cx.warn(
      [...path, "type"],
      `deployment node "${name}": Baton does not serve endpoints; the files sent to it are kept as release "${node.deployment}"`,
    );
    for (const key of ["aliases", "endpoints"]) {
      if (node[key] !== undefined)
        cx.warn([...path, key], `"${key}" left out: Baton does not serve endpoints`);
    }
    state.out.release = { name: node.deployment };
    return state;
  }
  let stepName = node.step;
  if (type === "task" && node.task !== undefined) {
    const bp = blueprints.get(String(node.task));
    if (!bp) {
      cx.error(
        [...path, "task"],
        `node "${name}": unknown task "${String(node.task)}"${suggest(String(node.task), blueprints.keys())}`,
      );
      return undefined;
    }
    bp.used = true;
    stepName = bp.step;
    blueprintSweep(cx, bp, state);
  } else if (node.task !== undefined) {
    cx.error([...path, "task"], `node "${name}": "task:" is only for nodes of type task`, "key");
  }
  if (typeof stepName !== "string") {
    cx.error([...path, "name"], `node "${name}" needs "step:"`, "key");
    return undefined;
  }
  const step = steps.get(stepName);
  if (!step) {
    cx.error(
      [...path, node.step !== undefined ? "step" : "task"],
      `node "${name}": unknown step "${stepName}"${suggest(stepName, steps.keys())}`,
    );
    return undefined;
  }
  state.step = step;
  state.out.step = stepName;
  if (node["on-error"] !== undefined) {
    const v = String(node["on-error"]).toLowerCase();
    if (!ON_ERROR.includes(v))
      cx.error(
        [...path, "on-error"],
        `node "${name}": on-error must be stop-all, stop-next, continue or retry, not ${JSON.stringify(node["on-error"])}`,
      );
    else if (v !== "stop-all") state.out["on-error"] = v;
  }
  if (node["edge-merge-mode"] !== undefined) {
    const v = String(node["edge-merge-mode"]);
    if (!MERGE_MODES.includes(v))
      cx.error(
        [...path, "edge-merge-mode"],
        `node "${name}": edge-merge-mode must be "replace" or "append", not ${JSON.stringify(node["edge-merge-mode"])}`,
      );
    state.merge = v;
  }
  const nodeReuse = node["reuse-executions"] === undefined ? reuse : node["reuse-executions"] === true;
  state.out.cache = nodeReuse;
  if (node.actions !== undefined) {
    const actions = convertActions(cx, node.actions, [...path, "actions"], name);
    if (actions.length) state.out.actions = actions;
  }
  if (node.override !== undefined) applyOverride(cx, node.override, [...path, "override"], state);
  return state;
}

function applyOverride(cx: Context, override: unknown, path: Path, state: NodeState): void {
  if (!isObj(override)) {
    cx.error(path, "override must be a map");
    return;
  }
  const step = state.step as StepInfo;
  for (const [key, value] of Object.entries(override)) {
    const kpath = [...path, key];
    if (key === "parameters") {
      for (const [i, p] of asList(value).entries()) {
        if (!isObj(p) || typeof p.name !== "string") {
          cx.error([...kpath, i], "an overridden parameter needs a name");
          continue;
        }
        const decl = step.params.get(p.name);
        if (!decl) {
          cx.error(
            [...kpath, i, "name"],
            `node "${state.name}": step "${step.name}" has no parameter "${p.name}"${suggest(p.name, step.params.keys())}`,
          );
          continue;
        }
        if (state.type === "task" && Array.isArray(p.default) && decl.type !== "list")
          state.sweep.set(p.name, p.default);
        else if (p.default !== undefined) state.with[p.name] = p.default;
      }
    } else if (key === "inputs") {
      for (const [i, input] of asList(value).entries()) {
        if (!isObj(input) || typeof input.name !== "string") {
          cx.error([...kpath, i], "an overridden input needs a name");
          continue;
        }
        if (!step.inputs.has(input.name)) {
          cx.error(
            [...kpath, i, "name"],
            `node "${state.name}": step "${step.name}" has no input "${input.name}"${suggest(input.name, step.inputs.keys())}`,
          );
          continue;
        }
        const decl = convertInput(cx, input, [...kpath, i]);
        if (decl.default !== undefined) state.inputDefaults.set(input.name, asList(decl.default));
        for (const k of Object.keys(input)) {
          if (!["name", "default"].includes(k))
            cx.warn(
              [...kpath, i, k],
              `override of input "${k}" left out: only the default of an input can be set per node`,
            );
        }
      }
    } else if (key === "image") {
      state.out.image = String(value);
    } else if (key === "environment-variables") {
      Object.assign(state.env, convertEnv(cx, value, kpath));
    } else if (key === "time-limit") {
      state.out.timeout = duration(cx, value, kpath);
    } else if (key === "no-output-timeout") {
      state.out["no-output-timeout"] = duration(cx, value, kpath);
    } else if (key === "environment") {
      cx.warn(kpath, `"environment" left out: ${STEP_DROPPED.environment}`);
    } else {
      cx.warn(kpath, `override of "${key}" left out: Baton sets it on the step only`);
    }
  }
}

function blueprintSweep(cx: Context, bp: Blueprint, state: NodeState): void {
  const t = bp.entry;
  for (const key of Object.keys(t)) {
    if (["name", "step", "parameters"].includes(key)) continue;
    if (key === "type") {
      const v = String(t.type).toLowerCase().replaceAll("-", "_");
      if (v !== "grid_search" && v !== "manual_search")
        cx.warn(
          [...bp.path, key],
          `task type "${String(t.type)}": Baton runs every combination of the listed values (a grid)`,
        );
      continue;
    }
    cx.warn(
      [...bp.path, key],
      `task key "${key}" left out: Baton runs every combination at once, limited by pool slots`,
    );
  }
  for (const [i, p] of asList(t.parameters).entries()) {
    const ppath = [...bp.path, "parameters", i];
    if (!isObj(p) || typeof p.name !== "string") {
      cx.error(ppath, "a swept parameter needs a name");
      continue;
    }
    const style = String(p.style ?? "single");
    const rules = isObj(p.rules) ? p.rules : {};
    if (!SWEEP_STYLES.includes(style)) {
      cx.error(
        [...ppath, "style"],
        `parameter "${p.name}": unknown style ${JSON.stringify(p.style)} (use ${SWEEP_STYLES.join(", ")})`,
      );
      continue;
    }
    const values = sweepValues(cx, style, rules, [...ppath, "rules"], p.name);
    if (values) state.sweep.set(p.name, values);
  }
}

function sweepValues(
  cx: Context,
  style: string,
  rules: Obj,
  path: Path,
  name: string,
): unknown[] | undefined {
  const num = (k: string): number | undefined => {
    const v = rules[k];
    if (typeof v === "number") return v;
    cx.error([...path, k], `parameter "${name}": rules.${k} must be a number`);
    return undefined;
  };
  const round = (x: number) => Number(x.toPrecision(12));
  const integerify = rules.integerify === true;
  if (style === "single") return [rules.value];
  if (style === "multiple") {
    if (!Array.isArray(rules.items))
      cx.error([...path, "items"], `parameter "${name}": rules.items must be a list`);
    return Array.isArray(rules.items) ? rules.items : undefined;
  }
  if (style === "linear") {
    const [start, end, step] = [num("start"), num("end"), num("step")];
    if (start === undefined || end === undefined || step === undefined) return undefined;
    if (step <= 0) {
      cx.error([...path, "step"], `parameter "${name}": rules.step must be above 0`);
      return undefined;
    }
    const out: number[] = [];
    for (let k = 0; start + k * step <= end + 1e-9 && k < 100000; k++) out.push(round(start + k * step));
    return out;
  }
  if (style === "logspace") {
    const [start, end, count] = [num("start"), num("end"), num("count")];
    const base = typeof rules.base === "number" ? rules.base : 10;
    if (start === undefined || end === undefined || count === undefined) return undefined;
    const out: number[] = [];
    for (let k = 0; k < count; k++) {
      const e = count === 1 ? start : start + (k * (end - start)) / (count - 1);
      out.push(integerify ? Math.round(base ** e) : round(base ** e));
    }
    return out;
  }
  // random: Baton sweeps a fixed grid, so the same runs are made each time.
  const [min, max, count] = [num("min"), num("max"), num("count")];
  if (min === undefined || max === undefined || count === undefined) return undefined;
  cx.warn(
    [...path.slice(0, -1), "style"],
    `parameter "${name}": random values replaced by ${count} evenly spaced values from ${min} to ${max} (Baton runs a fixed grid)`,
  );
  const out: number[] = [];
  for (let k = 0; k < count; k++) {
    const v = count === 1 ? min : min + (k * (max - min)) / (count - 1);
    out.push(integerify ? Math.round(v) : round(v));
  }
  return out;
}

function convertActions(cx: Context, value: unknown, path: Path, node: string): Obj[] {
  const out: Obj[] = [];
  for (const [i, a] of asList(value).entries()) {
    const apath = [...path, i];
    if (!isObj(a)) {
      cx.error(apath, "an action is a map of when, if and then");
      continue;
    }
    const whens = asList(a.when).map((w) => String(w).toLowerCase());
    if (whens.length === 0) cx.error(apath, `node "${node}": an action needs "when:"`, "value");
    for (const w of whens) {
      if (!WHENS.includes(w))
        cx.error(
          [...apath, "when"],
          `node "${node}": action when ${JSON.stringify(w)} is not one of ${WHENS.join(", ")}`,
        );
    }
    const thens: string[] = [];
    for (const t of asList(a.then).map((x) => String(x).toLowerCase())) {
      if (!THENS.includes(t)) {
        cx.error(
          [...apath, "then"],
          `node "${node}": action then ${JSON.stringify(t)} is not one of stop-pipeline, require-approval, error-pipeline, noop`,
        );
      } else if (t === "noop") {
        cx.warn([...apath, "then"], 'action "noop" left out: it does nothing');
      } else if (t === "error-pipeline") {
        cx.warn(
          [...apath, "then"],
          'action "error-pipeline" becomes "stop-pipeline": the run ends cancelled, with the reason',
        );
        thens.push("stop-pipeline");
      } else {
        if (t === "require-approval" && whens.some((w) => w !== "node-starting"))
          cx.error(
            [...apath, "then"],
            `node "${node}": require-approval works only with when: node-starting`,
          );
        thens.push(t);
      }
    }
    if (thens.length === 0) continue;
    const conds = asList(a.if).map((c) => `\${{ ${convertCondition(String(c))} }}`);
    const action: Obj = { when: whens.length === 1 ? whens[0] : whens };
    if (conds.length) action.if = conds.length === 1 ? conds[0] : conds;
    // biome-ignore lint/suspicious/noThenProperty: the contract's key for what an action does
    action.then = thens.length === 1 ? thens[0] : thens;
    out.push(action);
  }
  return out;
}

/** Valohai's `metadata.acc < 0.8 and parameter.lr > 0.1` as a Baton expression. */
export function convertCondition(cond: string): string {
  return cond
    .trim()
    .replace(/\bmetadata\./g, "metrics.")
    .replace(/\bparameters?\./g, "params.")
    .replace(/\s+and\s+/gi, " && ")
    .replace(/\s+or\s+/gi, " || ")
    .replace(/\bnot\s+/gi, "!");
}

function convertPipelineParams(cx: Context, value: unknown, path: Path, nodes: Map<string, NodeState>): Obj {
  const out: Obj = {};
  for (const [i, p] of asList(value).entries()) {
    const ppath = [...path, i];
    if (!isObj(p) || typeof p.name !== "string" || p.name === "") {
      cx.error(ppath, "a pipeline parameter needs a name");
      continue;
    }
    for (const key of Object.keys(p)) {
      if (!["name", "target", "targets", "default", "description"].includes(key))
        cx.warn([...ppath, key], `unknown pipeline parameter key "${key}": left out`);
    }
    const tkey = p.targets !== undefined ? "targets" : "target";
    const targets = asList(p[tkey]);
    if (targets.length === 0) {
      cx.error(
        [...ppath, "name"],
        `pipeline parameter "${p.name}" needs "targets:" (NODE.parameter.NAME)`,
        "key",
      );
      continue;
    }
    let decl: Obj | undefined;
    for (const [j, t] of targets.entries()) {
      const tpath = Array.isArray(p[tkey]) ? [...ppath, tkey, j] : [...ppath, tkey];
      const parts = splitSocket(String(t));
      if (parts.length !== 3 || parts[1] !== "parameter") {
        cx.error(tpath, `target ${JSON.stringify(t)} must be NODE.parameter.NAME`);
        continue;
      }
      const [nodeName, , param] = parts as [string, string, string];
      const node = nodes.get(nodeName);
      if (!node || !node.step) {
        cx.error(
          tpath,
          `target ${JSON.stringify(t)}: unknown node "${nodeName}"${suggest(nodeName, nodes.keys())}`,
        );
        continue;
      }
      const pdecl = node.step.params.get(param);
      if (!pdecl) {
        cx.error(
          tpath,
          `target ${JSON.stringify(t)}: step "${node.step.name}" has no parameter "${param}"${suggest(param, node.step.params.keys())}`,
        );
        continue;
      }
      decl ??= { ...pdecl };
      node.with[param] = `\${{ ${member("params", p.name)} }}`;
      node.sweep.delete(param);
    }
    if (!decl) continue;
    if (p.default !== undefined) decl.default = p.default;
    if (typeof p.description === "string") decl.description = p.description;
    out[p.name] = decl;
  }
  return out;
}

function convertEdges(cx: Context, value: unknown, path: Path, nodes: Map<string, NodeState>): void {
  const copies: Array<{
    source: NodeState;
    key: string;
    target: NodeState;
    tkey: string;
    mode: string | undefined;
    epath: Path;
  }> = [];
  for (const [i, e] of asList(value).entries()) {
    const epath = [...path, i];
    let source: unknown;
    let target: unknown;
    let mode: string | undefined;
    if (Array.isArray(e)) {
      if (e.length !== 2) {
        cx.error(epath, `an edge is [SOURCE, TARGET]; this one has ${e.length} parts`);
        continue;
      }
      [source, target] = e;
    } else if (isObj(e)) {
      ({ source, target } = e);
      for (const key of Object.keys(e)) {
        if (!["source", "target", "configuration"].includes(key))
          cx.error([...epath, key], `unknown edge key "${key}" (use source, target, configuration)`, "key");
      }
      if (e.configuration !== undefined) {
        if (!isObj(e.configuration)) cx.error([...epath, "configuration"], "configuration must be a map");
        else
          for (const [k, v] of Object.entries(e.configuration)) {
            if (k !== "edge-merge-mode")
              cx.warn([...epath, "configuration", k], `edge configuration "${k}" left out`);
            else if (!MERGE_MODES.includes(String(v)))
              cx.error(
                [...epath, "configuration", k],
                `edge-merge-mode must be "replace" or "append", not ${JSON.stringify(v)}`,
              );
            else mode = String(v);
          }
      }
    } else {
      cx.error(epath, "an edge is [SOURCE, TARGET] or {source, target, configuration}");
      continue;
    }
    const sidePath = (k: 0 | 1) =>
      Array.isArray(e) ? [...epath, k] : [...epath, k === 0 ? "source" : "target"];
    const sides: Array<[string, string, string] | undefined> = ([source, target] as unknown[]).map(
      (side, k) => {
        const spath = sidePath(k as 0 | 1);
        const label = k === 0 ? "source" : "target";
        if (typeof side !== "string") {
          cx.error(spath, `edge ${label} must be a string NODE.TYPE.KEY`);
          return undefined;
        }
        const parts = splitSocket(side);
        if (parts.length !== 3) {
          cx.error(
            spath,
            `edge ${label} ${JSON.stringify(side)} must have 3 parts NODE.TYPE.KEY (it has ${parts.length})`,
          );
          return undefined;
        }
        const [n, t] = parts as [string, string, string];
        let ok = true;
        if (!nodes.has(n)) {
          cx.error(
            spath,
            `edge ${label} ${JSON.stringify(side)}: unknown node "${n}"${suggest(n, nodes.keys())}`,
          );
          ok = false;
        }
        if (!EDGE_TYPES.includes(t)) {
          cx.error(
            spath,
            `edge ${label} ${JSON.stringify(side)}: unknown type "${t}" (use ${EDGE_TYPES.join(", ")})`,
          );
          ok = false;
        }
        return ok ? (parts as [string, string, string]) : undefined;
      },
    );
    const [s, t] = sides;
    if (!s || !t) continue;
    const src = nodes.get(s[0]) as NodeState;
    const dst = nodes.get(t[0]) as NodeState;
    const kinds = `${s[1]}->${t[1]}`;
    const tpath = sidePath(1);
    if (src === dst) {
      cx.error(epath, `edge from node "${src.name}" to itself`);
      continue;
    }
    if (src.type === "deployment") {
      cx.error(sidePath(0), `edge source: deployment node "${src.name}" passes nothing on`);
      continue;
    }
    if (dst.type === "deployment") {
      if (kinds !== "output->file") {
        cx.error(
          tpath,
          `an edge into deployment node "${dst.name}" goes from an output to a file (SOURCE.output.GLOB, ${dst.name}.file.ENDPOINT.NAME)`,
        );
        continue;
      }
      addNeed(dst, src.name);
      dst.files.push(outputsOf(src.name, s[2]));
      continue;
    }
    const step = dst.step as StepInfo;
    const needInput = () => {
      if (!step.inputs.has(t[2])) {
        cx.error(
          tpath,
          `edge target: step "${step.name}" of node "${dst.name}" has no input "${t[2]}"${suggest(t[2], step.inputs.keys())}`,
        );
        return false;
      }
      return true;
    };
    const needParam = () => {
      if (!step.params.has(t[2])) {
        cx.error(
          tpath,
          `edge target: step "${step.name}" of node "${dst.name}" has no parameter "${t[2]}"${suggest(t[2], step.params.keys())}`,
        );
        return false;
      }
      return true;
    };
    const srcStep = src.step as StepInfo;
    if (kinds === "output->input") {
      if (!needInput()) continue;
      addNeed(dst, src.name);
      addInputEdge(dst, t[2], outputsOf(src.name, s[2]), mode);
    } else if (kinds === "input->input") {
      if (!srcStep.inputs.has(s[2])) {
        cx.error(
          sidePath(0),
          `edge source: step "${srcStep.name}" of node "${src.name}" has no input "${s[2]}"${suggest(s[2], srcStep.inputs.keys())}`,
        );
        continue;
      }
      if (!needInput()) continue;
      copies.push({ source: src, key: s[2], target: dst, tkey: t[2], mode, epath });
    } else if (kinds === "parameter->parameter" || kinds === "metadata->parameter") {
      if (s[1] === "parameter" && !srcStep.params.has(s[2])) {
        cx.error(
          sidePath(0),
          `edge source: step "${srcStep.name}" of node "${src.name}" has no parameter "${s[2]}"${suggest(s[2], srcStep.params.keys())}`,
        );
        continue;
      }
      if (!needParam()) continue;
      addNeed(dst, src.name);
      const expr = `${needsRef(src.name)}.${s[1] === "parameter" ? "params" : "metrics"}${memberKey(s[2])}`;
      if (dst.type === "task") {
        // A task node makes one execution per value it is given.
        dst.sweep.set(t[2], `\${{ ${expr} }}`);
        delete dst.with[t[2]];
      } else {
        dst.with[t[2]] = `\${{ ${expr} }}`;
      }
    } else if (kinds === "environment-variable->environment-variable") {
      const v = srcStep.env[s[2]] ?? src.env[s[2]];
      addNeed(dst, src.name);
      if (v === undefined)
        cx.warn(epath, `environment variable "${s[2]}" has no value on node "${src.name}": edge left out`);
      else dst.env[t[2]] = v;
    } else if (kinds === "dependency->dependency") {
      addNeed(dst, src.name);
    } else {
      cx.error(
        epath,
        `an edge from ${s[1]} to ${t[1]} has no meaning (use output->input, input->input, parameter->parameter, metadata->parameter, output->file, environment-variable->environment-variable or dependency->dependency)`,
      );
    }
  }
  // Copy edges: the target input gets what the source input gets, once the source's own
  // bindings are known (a copy of a copy works; a cycle of copies is refused).
  let pending = copies;
  for (let round = 0; pending.length && round <= copies.length; round++) {
    const later: typeof copies = [];
    for (const c of pending) {
      if (pending.some((o) => o !== c && o.target === c.source && o.tkey === c.key)) {
        later.push(c);
        continue;
      }
      const bound = inputBinding(c.source, c.key);
      addNeed(c.target, c.source.name);
      for (const n of c.source.needs) if (bound.some((b) => b.includes(needsRef(n)))) addNeed(c.target, n);
      if (bound.length === 0)
        cx.warn(c.epath, `input "${c.key}" of node "${c.source.name}" gets no files: nothing to copy`);
      for (const b of bound) addInputEdge(c.target, c.tkey, b, c.mode);
    }
    if (later.length === pending.length) {
      for (const c of later) cx.error(c.epath, "input copy edges form a cycle");
      break;
    }
    pending = later;
  }
}

/** The files an input of a node gets: its edges, merged with its default as configured. */
function inputBinding(node: NodeState, input: string): string[] {
  const step = node.step as StepInfo;
  const defaults = (node.inputDefaults.get(input) ?? asList(step.inputs.get(input)?.default)).map(String);
  const edges = node.inputEdges.get(input) ?? [];
  if (edges.length === 0) return defaults;
  const append = edges.some((e) => (e.mode ?? node.merge ?? step.inputMerge.get(input)) === "append");
  return [...(append ? defaults : []), ...edges.map((e) => e.expr)];
}

function finishNode(cx: Context, n: NodeState): Obj {
  const out: Obj = {};
  if (n.type === "deployment") {
    if (n.needs.length) out.needs = n.needs;
    const release = n.out.release as { name: string };
    if (n.files.length === 0)
      cx.warn(
        [...n.path, "name"],
        `deployment node "${n.name}" gets no files (add an edge NODE.output.GLOB -> ${n.name}.file.ENDPOINT.NAME)`,
      );
    out.release = releaseOf(release.name, n.files);
    return out;
  }
  out.step = n.out.step;
  if (n.needs.length) out.needs = n.needs;
  const step = n.step as StepInfo;
  const inputs: Obj = {};
  for (const name of step.inputs.keys()) {
    if (!n.inputEdges.has(name) && !n.inputDefaults.has(name)) continue;
    const b = inputBinding(n, name);
    inputs[name] = b.length === 1 ? b[0] : b;
  }
  if (Object.keys(inputs).length) out.inputs = inputs;
  const sweep = [...n.sweep];
  if (sweep.length === 1) {
    const [[param, values]] = sweep as [[string, unknown]];
    out.foreach = values;
    n.with[param] = "${{ item }}";
  } else if (sweep.length > 1) {
    const matrix: Obj = {};
    const used = new Set<string>();
    for (const [param, values] of sweep) {
      let key = param.replace(/[^A-Za-z0-9_]/g, "_").replace(/^(?=[0-9])/, "_");
      while (used.has(key)) key += "_";
      used.add(key);
      matrix[key] = values;
      n.with[param] = `\${{ matrix.${key} }}`;
    }
    out.matrix = matrix;
  } else if (n.type === "task") {
    cx.warn([...n.path, "type"], `task node "${n.name}" sweeps no parameter: it runs one task`);
  }
  if (Object.keys(n.with).length) out.with = n.with;
  if (Object.keys(n.env).length) out.env = n.env;
  for (const key of ["image", "timeout", "no-output-timeout", "cache", "on-error", "actions"]) {
    if (n.out[key] !== undefined) out[key] = n.out[key];
  }
  return out;
}

/** The files a node's outputs matching `glob` are: `${{ needs.train.outputs['*.pt'] }}`. */
export function outputsOf(node: string, glob: string): string {
  return `\${{ ${needsRef(node)}.outputs[${quoteKey(glob)}] }}`;
}

/**
 * A Valohai deployment node as a `release:` (Baton serves no endpoints; the files sent to the
 * deployment are kept as release `deployment`): `files` are `outputsOf(...)` expressions.
 */
export function releaseOf(deployment: string, files: string[]): Obj {
  return { name: deployment, files: files.length === 1 ? files[0] : files };
}

function addNeed(node: NodeState, name: string): void {
  if (!node.needs.includes(name)) node.needs.push(name);
}

function addInputEdge(node: NodeState, input: string, expr: string, mode: string | undefined): void {
  const list = node.inputEdges.get(input) ?? [];
  list.push({ expr, mode });
  node.inputEdges.set(input, list);
}

/** `node.type.key`: the node and type end at the first two dots; the key may hold dots. */
function splitSocket(s: string): string[] {
  const a = s.indexOf(".");
  if (a < 0) return [s];
  const b = s.indexOf(".", a + 1);
  if (b < 0) return [s.slice(0, a), s.slice(a + 1)];
  return [s.slice(0, a), s.slice(a + 1, b), s.slice(b + 1)];
}

const PLAIN = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `params.lr`, or `params['learning rate']` for a name that is not a plain identifier. */
function member(context: string, name: string): string {
  return `${context}${memberKey(name)}`;
}
function memberKey(name: string): string {
  return PLAIN.test(name) ? `.${name}` : `[${quoteKey(name)}]`;
}
function needsRef(node: string): string {
  return member("needs", node);
}
function quoteKey(key: string): string {
  return `'${key.replaceAll("'", "''")}'`;
}

function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
