/**
 * `baton import valohai FILE`: converts a parsed `valohai.yaml` (a list of `- step:` and
 * `- pipeline:` entries) into a `baton.yaml` document. Pure: the caller reads and writes files.
 *
 * What maps how:
 * - `step.command` (a string or a list run one after the other) becomes `run:`. Valohai's
 *   placeholders become expressions: `{parameters}` -> `--name=${{ params.name }}` for every
 *   parameter, `{parameter:name}` and `{parameter-value:name}` -> `${{ params.name }}`.
 *   `/valohai/inputs` and `/valohai/outputs` (and `$VH_INPUTS_DIR`, `$VH_OUTPUTS_DIR`) become
 *   `$BATON_INPUTS_DIR` and `$BATON_OUTPUT_DIR`.
 * - `step.parameters` become typed params (`integer` -> int, `flag` -> bool, `float`, `string`);
 *   `step.inputs` become inputs with their `default` (local paths or globs only).
 * - `pipeline.nodes` (`type: execution`) and `edges` keep Valohai's list form, which baton.yaml
 *   accepts as it is.
 * Anything without a Baton meaning (`image`, `environment`, remote input URLs, deployment and
 * task nodes) is reported as a warning, never silently dropped.
 */
import { BatonError } from "../errors.js";

export interface ValohaiImport {
  /** The baton.yaml document (ready for `yaml.stringify`). */
  document: Record<string, unknown>;
  /** What could not be carried over, for the user to look at. */
  warnings: string[];
}

type Obj = Record<string, unknown>;

const PARAM_TYPES: Record<string, string> = {
  integer: "int",
  float: "float",
  string: "string",
  flag: "bool",
};

export function importValohai(config: unknown, file: string): ValohaiImport {
  if (!Array.isArray(config)) {
    throw new BatonError("SPEC_INVALID", `${file}: expected a list of "- step:" and "- pipeline:" entries`);
  }
  const warnings: string[] = [];
  const steps: Obj = {};
  const pipelines: Obj = {};
  for (const [i, entry] of config.entries()) {
    const where = `${file}: entry ${i + 1}`;
    if (!isObj(entry))
      throw new BatonError("SPEC_INVALID", `${where}: expected a map with "step" or "pipeline"`);
    if (isObj(entry.step)) {
      const name = requireName(entry.step, `${where} (step)`);
      steps[name] = convertStep(entry.step, `step "${name}"`, warnings);
    } else if (isObj(entry.pipeline)) {
      const name = requireName(entry.pipeline, `${where} (pipeline)`);
      pipelines[name] = convertPipeline(entry.pipeline, `pipeline "${name}"`, warnings);
    } else {
      const kind = Object.keys(entry)[0] ?? "nothing";
      warnings.push(`${where}: "${kind}" has no Baton counterpart; left out`);
    }
  }
  const document: Obj = { version: 1 };
  if (Object.keys(steps).length) document.steps = steps;
  if (Object.keys(pipelines).length) document.pipelines = pipelines;
  else {
    // A file of steps only: one single-node pipeline per step, so each can be run at once.
    document.pipelines = Object.fromEntries(
      Object.keys(steps).map((s) => [s, { nodes: { [s]: { step: s } } }]),
    );
  }
  return { document, warnings };
}

function convertStep(step: Obj, where: string, warnings: string[]): Obj {
  const params: Obj = {};
  const flags: string[] = [];
  for (const p of asList(step.parameters)) {
    if (!isObj(p) || typeof p.name !== "string") continue;
    const type = PARAM_TYPES[String(p.type ?? "string")] ?? "string";
    params[p.name] = {
      type,
      ...(p.default !== undefined ? { default: p.default } : type === "bool" ? { default: false } : {}),
      ...(Array.isArray(p.choices) ? { choices: p.choices } : {}),
      ...(typeof p.description === "string" ? { description: p.description } : {}),
    };
    flags.push(p.name);
  }
  const inputs: Obj = {};
  for (const input of asList(step.inputs)) {
    if (!isObj(input) || typeof input.name !== "string") continue;
    const defaults = asList(input.default).map(String);
    const local = defaults.filter((d) => !/^[a-z][a-z0-9+.-]*:\/\//i.test(d));
    if (local.length < defaults.length) {
      warnings.push(
        `${where}: input "${input.name}": remote defaults (${defaults.filter((d) => !local.includes(d)).join(", ")}) cannot be fetched; bind local files instead`,
      );
    }
    inputs[input.name] = {
      ...(local.length ? { default: local.length === 1 ? local[0] : local } : {}),
      ...(input.optional === true || local.length === 0 ? { optional: true } : {}),
    };
  }
  if (step.image !== undefined)
    warnings.push(`${where}: image "${String(step.image)}" ignored: Baton runs commands on the host`);
  if (step.environment !== undefined)
    warnings.push(`${where}: environment "${String(step.environment)}" ignored: use pools`);
  const commands = asList(step.command).map(String);
  if (commands.length === 0) throw new BatonError("SPEC_INVALID", `${where}: has no command`);
  const run = commands.map((c) => convertCommand(c, flags)).join("\n");
  const out: Obj = { run };
  if (Object.keys(params).length) out.params = params;
  if (Object.keys(inputs).length) out.inputs = inputs;
  if (isObj(step["environment-variables"]) || Array.isArray(step["environment-variables"])) {
    const env: Obj = {};
    for (const v of asList(step["environment-variables"])) {
      if (isObj(v) && typeof v.name === "string") env[v.name] = String(v.default ?? "");
    }
    if (Object.keys(env).length) out.env = env;
  }
  return out;
}

/** Valohai's command placeholders and folders, in Baton's terms. */
export function convertCommand(command: string, params: string[]): string {
  return command
    .replaceAll("{parameters}", params.map((p) => `--${p}=\${{ params.${p} }}`).join(" "))
    .replace(/\{parameter(?:-value)?:([A-Za-z0-9_-]+)\}/g, (_, name: string) => `\${{ params.${name} }}`)
    .replace(/\/valohai\/inputs|\$\{?VH_INPUTS_DIR\}?/g, "$BATON_INPUTS_DIR")
    .replace(/\/valohai\/outputs|\$\{?VH_OUTPUTS_DIR\}?/g, "$BATON_OUTPUT_DIR");
}

function convertPipeline(pipeline: Obj, where: string, warnings: string[]): Obj {
  const nodes: Obj[] = [];
  for (const node of asList(pipeline.nodes)) {
    if (!isObj(node) || typeof node.name !== "string") continue;
    const type = String(node.type ?? "execution");
    if (type !== "execution") {
      warnings.push(`${where}: node "${node.name}" of type ${type} has no Baton counterpart; left out`);
      continue;
    }
    const out: Obj = { name: node.name, step: node.step };
    if (isObj(node.override)) {
      const override: Obj = {};
      const params = asList(node.override.parameters);
      if (params.length) {
        override.with = Object.fromEntries(params.filter(isObj).map((p) => [String(p.name), p.default]));
      }
      if (Object.keys(override).length) out.override = override;
      for (const key of Object.keys(node.override)) {
        if (key !== "parameters")
          warnings.push(`${where}: node "${node.name}": override of "${key}" left out`);
      }
    }
    nodes.push(out);
  }
  const edges = asList(pipeline.edges).map((e) => (isObj(e) ? [e.source, e.target] : e));
  return { nodes, ...(edges.length ? { edges } : {}) };
}

function requireName(obj: Obj, where: string): string {
  if (typeof obj.name !== "string" || obj.name === "")
    throw new BatonError("SPEC_INVALID", `${where}: has no name`);
  return obj.name;
}

function asList(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

function isObj(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
