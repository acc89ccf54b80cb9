/**
 * Where the pipelines a server runs come from: its own `baton.yaml` (read again when it
 * changes), definitions registered with `POST /pipelines` (kept in `.baton/pipelines/`), and
 * definitions posted with a run. Every run started from a definition records an immutable copy
 * of it (`.baton/definitions/<sha256>.json`) as its spec file, so that a retry or a resume
 * runs exactly what the run ran, even after the name was registered again.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { BatonError, didYouMean } from "../errors.js";
import { DEFAULT_TASK_LIMITS, type TaskLimits } from "../spec/limits.js";
import { type ParseOptions, parsePipelineDefinition, parseProjectText } from "../spec/parse.js";
import { NAME_PATTERN, NAME_RULE } from "../spec/problems.js";
import type { PipelineSpec, ProjectSpec } from "../spec/types.js";
import type { RunRow } from "../store/store.js";
import { dict, own } from "../util/dict.js";
import { makeStateDir, stateModes } from "../util/state-mode.js";
import { HttpError, badField, underField } from "./http-errors.js";

/** A project with the file it was read from (absolute) and the folder its tasks run in. */
export type LocatedProject = ProjectSpec & { file: string; workdir: string };

/** A pipeline ready to start: the project holding it and the spec file its run records. */
export interface RunnablePipeline {
  project: LocatedProject;
  pipeline: PipelineSpec;
  specFile: string;
}

/** A registered definition (`POST /pipelines`). */
export interface RegisteredPipeline {
  name: string;
  /** `.baton/pipelines/<name>.json`. */
  file: string;
  /** The definition as stored, its registered pipeline under `name`. */
  definition: Record<string, unknown>;
  project: ProjectSpec;
}

/** How definitions are read: the machine's CPUs, and the task limits of the server's engine. */
const parseOptions = (limits: Readonly<TaskLimits>): ParseOptions => ({
  cpus: os.availableParallelism(),
  limits,
});

/** Longest name a pipeline may be registered under (it names a file). */
const MAX_NAME_LENGTH = 200;

/** The server's pipeline file, read again whenever it changes on disk. */
export class ServerProject {
  private stamp: string | undefined;

  constructor(
    private project: LocatedProject | undefined,
    private readonly limits: Readonly<TaskLimits> = DEFAULT_TASK_LIMITS,
  ) {
    if (project) this.stamp = stampOf(project.file);
  }

  /** The file's absolute path, if the server has one. */
  get file(): string | undefined {
    return this.project?.file;
  }

  /**
   * The project as the file is now. A file edited into an invalid state is reported (SPEC_INVALID)
   * rather than silently replaced by the last good version.
   */
  current(): LocatedProject | undefined {
    const project = this.project;
    if (!project) return undefined;
    const stamp = stampOf(project.file);
    if (stamp === undefined || stamp === this.stamp) return project;
    const text = fs.readFileSync(project.file, "utf8");
    const display = path.relative(project.workdir, project.file) || project.file;
    const fresh = parseProjectText(text, display, parseOptions(this.limits));
    this.project = { ...fresh, file: project.file, workdir: project.workdir };
    this.stamp = stamp;
    return this.project;
  }
}

/** Definitions registered by name, in memory and as JSON files that survive restarts. */
export class PipelineRegistry {
  private readonly byName = new Map<string, RegisteredPipeline>();

  /**
   * @param dir `.baton/pipelines`
   * @param warn Where problems found later (a stored definition that cannot be listed) are told.
   */
  constructor(
    readonly dir: string,
    readonly warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
    private readonly limits: Readonly<TaskLimits> = DEFAULT_TASK_LIMITS,
  ) {}

  /** Reads every registered definition; returns what could not be read, one line each. */
  load(): string[] {
    const warnings: string[] = [];
    let names: string[];
    try {
      names = fs.readdirSync(this.dir).filter((f) => f.endsWith(".json"));
    } catch {
      return warnings;
    }
    for (const entry of names.sort()) {
      const name = entry.slice(0, -".json".length);
      const file = path.join(this.dir, entry);
      if (!NAME_PATTERN.test(name)) {
        warnings.push(`registered pipeline ${file} ignored: "${name}" is not a valid pipeline name`);
        continue;
      }
      try {
        const definition = JSON.parse(fs.readFileSync(file, "utf8")) as unknown;
        this.add(name, file, definition);
      } catch (err) {
        warnings.push(`registered pipeline ${file} ignored: ${err instanceof Error ? err.message : err}`);
      }
    }
    return warnings;
  }

  get(name: string): RegisteredPipeline | undefined {
    return this.byName.get(name);
  }

  list(): RegisteredPipeline[] {
    return [...this.byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Validates a definition and registers it under `name`, replacing an earlier one. The
   * definition's pipeline `name` is registered; a definition with one pipeline of another name
   * has that pipeline renamed (a pipeline cannot start itself, so nothing refers to its name).
   *
   * @throws HttpError 400 naming `body.definition...` for every problem, or `body.name`.
   */
  register(name: string, definition: Record<string, unknown>): RegisteredPipeline {
    // The name becomes a file name: check it before anything is read or written.
    if (typeof name !== "string" || !NAME_PATTERN.test(name) || name.length > MAX_NAME_LENGTH) {
      throw badField("body.name", `invalid pipeline name ${JSON.stringify(name)} (a name has ${NAME_RULE})`);
    }
    // Most file systems take 255 bytes per file name; a name of 200 characters may be longer in UTF-8.
    if (Buffer.byteLength(`${name}.json`) > 255) {
      throw badField(
        "body.name",
        `pipeline name ${JSON.stringify(name.slice(0, 40))}… is ${Buffer.byteLength(name)} bytes in UTF-8; a registered pipeline's name may take at most 250 (it names a file)`,
      );
    }
    let project: ProjectSpec;
    try {
      project = parsePipelineDefinition(definition, "definition", parseOptions(this.limits));
    } catch (err) {
      throw underField(err, "body.definition");
    }
    const names = Object.keys(project.pipelines);
    let stored = definition;
    if (!Object.hasOwn(project.pipelines, name)) {
      if (names.length !== 1) {
        const hint = didYouMean(name, names);
        throw badField(
          "body.name",
          names.length === 0
            ? "the definition has no pipelines"
            : `the definition has no pipeline "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}; it has ${names.join(", ")}: name one of them`,
        );
      }
      const pipelines = definition.pipelines as Record<string, unknown>;
      const renamed = dict<unknown>();
      renamed[name] = own(pipelines, names[0]!);
      stored = { ...definition, pipelines: renamed };
    }
    makeStateDir(this.dir);
    const file = path.join(this.dir, `${name}.json`);
    writeAtomically(file, `${JSON.stringify(stored, null, 2)}\n`);
    return this.add(name, file, stored);
  }

  private add(name: string, file: string, definition: unknown): RegisteredPipeline {
    const project = parsePipelineDefinition(definition, file, parseOptions(this.limits));
    if (!Object.hasOwn(project.pipelines, name))
      throw new BatonError("SPEC_UNKNOWN_PIPELINE", `${file} has no pipeline "${name}"`);
    const entry = { name, file, definition: definition as Record<string, unknown>, project };
    this.byName.set(name, entry);
    return entry;
  }
}

/** Immutable copies of the definitions runs were started from (`.baton/definitions/<sha256>.json`). */
export class DefinitionArchive {
  /** @param dir `.baton/definitions` */
  constructor(readonly dir: string) {}

  /** Stores a definition (once per content) and returns its file. */
  save(definition: unknown): string {
    const text = `${JSON.stringify(definition, null, 2)}\n`;
    const sha = createHash("sha256").update(text).digest("hex");
    const file = path.join(this.dir, `${sha}.json`);
    if (!fs.existsSync(file)) {
      makeStateDir(this.dir);
      writeAtomically(file, text);
    }
    return file;
  }
}

/** Everything the API needs to find pipelines by name and the projects of recorded runs. */
export class PipelineCatalog {
  constructor(
    readonly server: ServerProject,
    readonly registry: PipelineRegistry,
    readonly archive: DefinitionArchive,
    readonly workdir: string,
    private readonly limits: Readonly<TaskLimits> = DEFAULT_TASK_LIMITS,
  ) {}

  /**
   * The pipeline `name` of the server's file, or else a registered one.
   * @throws BatonError `SPEC_UNKNOWN_PIPELINE` (404) with a did-you-mean, at `body.pipeline`.
   */
  byName(name: string): RunnablePipeline {
    const project = this.server.current();
    const fromFile = own(project?.pipelines, name);
    if (project && fromFile) return { project, pipeline: fromFile, specFile: project.file };
    const registered = this.registry.get(name);
    if (registered) {
      const specFile = this.archive.save(registered.definition);
      return {
        project: { ...registered.project, file: specFile, workdir: this.workdir },
        pipeline: own(registered.project.pipelines, name)!,
        specFile,
      };
    }
    const known = [...Object.keys(project?.pipelines ?? {}), ...this.registry.list().map((r) => r.name)];
    const hint = didYouMean(name, known);
    const message =
      known.length === 0
        ? `no pipeline "${name}": this server has no pipeline file and no registered pipelines`
        : `no pipeline "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}; pipelines: ${known.join(", ")}`;
    throw new BatonError("SPEC_UNKNOWN_PIPELINE", message, {
      problems: [{ path: "body.pipeline", message }],
    });
  }

  /**
   * A definition posted with a run: validated (problems at `body.definition...`), its pipeline
   * picked (`pipeline`, or its only one), and archived as the run's spec file.
   */
  fromDefinition(definition: Record<string, unknown>, name: string | undefined): RunnablePipeline {
    let project: ProjectSpec;
    try {
      project = parsePipelineDefinition(definition, "definition", parseOptions(this.limits));
    } catch (err) {
      throw underField(err, "body.definition");
    }
    const names = Object.keys(project.pipelines);
    let pipeline: PipelineSpec | undefined;
    if (name === undefined) {
      if (names.length !== 1) {
        throw badField(
          "body.pipeline",
          names.length === 0
            ? "the definition has no pipelines"
            : `the definition has ${names.length} pipelines: name one of ${names.join(", ")}`,
        );
      }
      pipeline = own(project.pipelines, names[0]!);
    } else {
      pipeline = own(project.pipelines, name);
      if (!pipeline) {
        const hint = didYouMean(name, names);
        const message = `the definition has no pipeline "${name}"${hint ? ` (did you mean "${hint}"?)` : ""}; it has ${names.join(", ") || "none"}`;
        throw new BatonError("SPEC_UNKNOWN_PIPELINE", message, {
          problems: [{ path: "body.pipeline", message }],
        });
      }
    }
    const specFile = this.archive.save(definition);
    return { project: { ...project, file: specFile, workdir: this.workdir }, pipeline: pipeline!, specFile };
  }

  /**
   * The project a recorded run came from, to retry or resume it: the server's file as it is
   * now, or the run's own spec file (an archived definition, or another pipeline file).
   */
  forRun(run: RunRow): LocatedProject {
    if (run.specFile === null) {
      throw new HttpError(
        409,
        "CONFLICT",
        `run ${run.id} was not started from a pipeline (submitted tasks): clone its tasks instead`,
      );
    }
    const specFile = path.resolve(run.workdir, run.specFile);
    const server = this.server.current();
    if (server && path.resolve(server.file) === specFile) return server;
    let text: string;
    try {
      text = fs.readFileSync(specFile, "utf8");
    } catch {
      throw new HttpError(
        409,
        "CONFLICT",
        `run ${run.id} came from ${specFile}, which cannot be read any more`,
      );
    }
    // Archived definitions are JSON, which the YAML reader takes as is.
    const project = parseProjectText(text, specFile, parseOptions(this.limits));
    return { ...project, file: specFile, workdir: run.workdir };
  }
}

/** Identifies a version of a file cheaply (size and modification time). */
function stampOf(file: string): string | undefined {
  try {
    const st = fs.statSync(file);
    return `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch {
    return undefined;
  }
}

function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const mode = stateModes().file;
  fs.writeFileSync(tmp, text, { flag: "wx", mode });
  try {
    fs.chmodSync(tmp, mode);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}
