import { Command, CommanderError, Option } from "commander";
import { EXIT } from "./exit.js";

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `--db`: where the state is (store/open-store.ts). */
const DB_OPTION_HELP =
  "state database: a SQLite file or postgres://USER@HOST:PORT/DB (default $BATON_DB, else .baton/baton.db)";

/** `--data`: where Baton's own files are (engine/layout.ts `stateLayoutFor`). */
const DATA_OPTION_HELP =
  "state folder: content store, runs and logs, token, default database (default $BATON_DATA, else .baton/)";

/** Builds the `baton` command line. Each command's module is imported only when it runs. */
export function buildProgram(): Command {
  const program = new Command("baton")
    .description("Run ML, data and QA pipelines: baton.yaml pipelines, shell submits, a TypeScript SDK.")
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    // Options of `baton` itself come before the command; lets `submit` stop at the user's command.
    .enablePositionalOptions()
    .exitOverride();

  program
    .command("run")
    .description("run a pipeline; exit 0 iff the run succeeded")
    .argument("[pipeline]", "pipeline name (may be left out when the file has one)")
    .option("-f, --file <file>", "pipeline file", "baton.yaml")
    .option("--db <url>", DB_OPTION_HELP)
    .option("--data <dir>", DATA_OPTION_HELP)
    .option("-p, --param <k=v>", "set a pipeline param (repeatable)", collect, [])
    .option("--target <node>", "run only NODE and what it needs (repeatable)", collect, [])
    .option("--from <node>", "rerun NODE and everything downstream, reusing earlier results")
    .option("--no-cache", "do not reuse cached results")
    .option("--detach", "start the run on the server and return at once")
    .option("--json", "print the run and its tasks as JSON on stdout at the end")
    .action(async (pipeline, opts) => (await import("./commands/run.js")).runCommand(pipeline, opts));

  program
    .command("validate")
    .description("check a pipeline file without running it")
    .option("-f, --file <file>", "pipeline file", "baton.yaml")
    .action(async (opts) => (await import("./commands/validate.js")).validateCommand(opts));

  program
    .command("graph")
    .description("draw a pipeline's graph")
    .argument("[pipeline]", "pipeline name")
    .option("-f, --file <file>", "pipeline file", "baton.yaml")
    .addOption(
      new Option("--format <format>", "output format").choices(["mermaid", "dot"]).default("mermaid"),
    )
    .action(async (pipeline, opts) => (await import("./commands/graph.js")).graphCommand(pipeline, opts));

  program
    .command("ls")
    .description("list runs, or the tasks of a run")
    .argument("[run]", "run id (or prefix); with --tree or --json, defaults to the latest run")
    .option("-f, --file <file>", "pipeline file whose .baton/ to read", "baton.yaml")
    .option("--db <url>", DB_OPTION_HELP)
    .option("--data <dir>", DATA_OPTION_HELP)
    .option("--tree", "show tasks as a tree of parents and children")
    .option("--status <status>", "only tasks with this status (repeatable)", collect, [])
    .option("--json", "print the tasks as a JSON array")
    .action(async (run, opts) => (await import("./commands/ls.js")).lsCommand(run, opts));

  program
    .command("show")
    .description("show a run or a task: status, command, params, attempts, outputs, metrics")
    .argument("<id>", "run or task id (or prefix)")
    .option("-f, --file <file>", "pipeline file whose .baton/ to read", "baton.yaml")
    .option("--db <url>", DB_OPTION_HELP)
    .option("--data <dir>", DATA_OPTION_HELP)
    .option("--json", "print as JSON")
    .action(async (id, opts) => (await import("./commands/show.js")).showCommand(id, opts));

  program
    .command("logs")
    .description("print a task's log (its latest attempt)")
    .argument("<id>", "task id (or prefix), or a run id for all its tasks")
    // `-f` is --follow here, as in `tail -f`: a word after it (`-f FILE`) is told apart in logsCommand.
    .argument("[extra...]")
    .option("-f, --follow", "keep printing until the task ends (the pipeline file is --file here)")
    .option("--raw", "print the bytes unchanged (on a terminal, control characters are escaped)")
    .option("--file <file>", "pipeline file whose .baton/ to read", "baton.yaml")
    .option("--db <url>", DB_OPTION_HELP)
    .option("--data <dir>", DATA_OPTION_HELP)
    .action(async (id, extra, opts) => (await import("./commands/logs.js")).logsCommand(id, opts, extra));

  program
    .command("submit")
    .description("submit a task (Velda vbatch); inside a task it becomes a child; prints its id")
    .usage("[options] [--] <cmd...>")
    .argument("[cmd...]", "the command: options end at its first word (`--` may mark it)")
    // `baton submit python train.py --lr 0.1`: everything from the command's first word is the command's.
    .passThroughOptions()
    .option("-n, --name <name>", "task name (what siblings name in --after*)")
    .option("-P, --pool <pool>", "pool to run in")
    .option("--after-success <task>", "start after this sibling succeeded (repeatable)", collect, [])
    .option("--after-fail <task>", "start after this sibling failed (repeatable)", collect, [])
    .option("--after <task>", "start after this sibling ended, however (repeatable)", collect, [])
    .option("-e, --env <k=v>", "environment variable for the task (repeatable)", collect, [])
    .option("-l, --label <k=v>", "label (repeatable)", collect, [])
    .option("--priority <p>", "higher runs first when waiting for a slot")
    .option("-N, --shards <n>", "start N copies with BATON_SHARD_ID and BATON_TOTAL_SHARDS")
    .option("--retries <n>", "extra attempts after a failure")
    .option("--timeout <duration>", "kill the task after this long (30s, 10m, 2h)")
    .option("--idempotency-key <key>", "a second submit with the same key returns the first one's tasks")
    .option("--wait", "stream the log and exit with the task's exit code (Velda vrun); the id goes to stderr")
    .option(
      "--each",
      "one task per line of standard input, {} in the command (and -n, -e, -l, --after*) replaced by the line",
    )
    .action(async (cmd, opts) => (await import("./commands/submit.js")).submitCommand(cmd, opts));

  program
    .command("pools")
    .description(
      "list the pools: slots, slots in use and tasks queued (from the server, or the project file)",
    )
    .option("-f, --file <file>", "pipeline file declaring the pools", "baton.yaml")
    .option("--json", "print the pools as a JSON array")
    .action(async (opts) => (await import("./commands/pools.js")).poolsCommand(opts));

  program
    .command("triggers")
    .description("the triggers the running server fires: ls | pause NAME | resume NAME | run NAME | rm NAME")
    .argument("<action>", "ls, pause, resume, run (fire now) or rm (a trigger created over the API)")
    .argument("[name]", "the trigger")
    .option("-f, --file <file>", "pipeline file whose server to ask", "baton.yaml")
    .option("--json", "ls: print the triggers as a JSON array")
    .action(async (action, name, opts) =>
      (await import("./commands/triggers.js")).triggersCommand(action, name, opts),
    );

  const agent = program
    .command("agent")
    .description(
      "run tasks of pools with `executor: agent` for a server (connects out; token from BATON_TOKEN)",
    )
    // Required (checked in agentCommand), not commander-required: `agent token ...` needs neither.
    .option("--server <url>", "the server's URL, as this machine reaches it (required)")
    .option("--pool <name>", "a pool to take tasks of (repeatable, at least one)", collect, [])
    .option("--slots <n>", "tasks run at once", "1")
    .option("--name <name>", "this agent's name (default: the host name)")
    .option("--resources <list>", "what this machine offers, shown by `baton agents` (gpu=1,mem=64G)")
    .option("--workdir <dir>", "folder for tasks' files and the input cache", ".baton-agent")
    .option("--token-file <file>", "read the token from this file instead of BATON_TOKEN")
    .action(async (opts) => (await import("./commands/agent.js")).agentCommand(opts));
  agent
    .command("token")
    .description("per-agent tokens of the server: create --pool NAME [--name NAME] | ls | rm ID")
    .argument("<action>", "create (prints the token once), ls or rm (revoke)")
    .argument("[id]", "rm: the token's id (from ls)")
    .option("--pool <name>", "create: a pool the token's agents may serve (repeatable)", collect, [])
    .option("--name <name>", "create: a name to know the token by")
    .option("--server <url>", "the server's URL (default: BATON_URL, else this folder's server)")
    .option("--json", "print JSON")
    .action(async (action, id, opts) =>
      (await import("./commands/agent-token.js")).agentTokenCommand(action, id, opts),
    );

  program
    .command("agents")
    .description("list the agents of the server: pools, slots in use, last heartbeat, tasks")
    .option("--server <url>", "the server's URL (default: BATON_URL, else this folder's server)")
    .option("--json", "print the agents as a JSON array")
    .action(async (opts) => (await import("./commands/agent.js")).agentsCommand(opts));

  program
    .command("cache")
    .description("inspect and prune the result cache: ls | clear | gc")
    .argument("<action>", "ls, clear or gc")
    .option("-f, --file <file>", "pipeline file whose .baton/ to use", "baton.yaml")
    .option("--db <url>", DB_OPTION_HELP)
    .option("--data <dir>", DATA_OPTION_HELP)
    .option("--keep <n>", "gc: keep the results of the last N runs (default 10)")
    .option("--limit <n>", "ls: show at most N entries (default 50)")
    .action(async (action, opts) => (await import("./commands/cache.js")).cacheCommand(action, opts));

  program
    .command("cancel")
    .description("cancel a run, or a task with everything it submitted")
    .argument("<id>", "run or task id (or prefix)")
    .option("-f, --file <file>", "pipeline file whose .baton/ to use", "baton.yaml")
    .option("--db <url>", DB_OPTION_HELP)
    .option("--data <dir>", DATA_OPTION_HELP)
    .action(async (id, opts) => (await import("./commands/control.js")).cancelCommand(id, opts));

  // Gates: approval.
  for (const verb of ["approve", "reject"] as const) {
    program
      .command(verb)
      .description(
        verb === "approve"
          ? "approve a task waiting for approval: it is queued and runs"
          : "reject a task waiting for approval: it fails and its dependents are skipped",
      )
      .argument("<task>", "task id (or prefix)")
      .option("-c, --comment <text>", "why (recorded with the decision)")
      .option("-f, --file <file>", "pipeline file whose .baton/ to use", "baton.yaml")
      .option("--db <url>", DB_OPTION_HELP)
      .option("--data <dir>", DATA_OPTION_HELP)
      .action(async (id, opts) => (await import("./commands/approve.js")).approveCommand(verb, id, opts));
  }

  program
    .command("wait")
    .description("wait until a run or task has ended; exit 0 iff it succeeded")
    .argument("<id>", "run or task id (or prefix)")
    .option("-f, --file <file>", "pipeline file whose .baton/ to use", "baton.yaml")
    .option("--db <url>", DB_OPTION_HELP)
    .option("--data <dir>", DATA_OPTION_HELP)
    .action(async (id, opts) => (await import("./commands/control.js")).waitCommand(id, opts));

  program
    .command("import")
    .description("convert another tool's pipeline file into baton.yaml (valohai)")
    .argument("<kind>", "valohai")
    .argument("<file>", "the file to convert, e.g. valohai.yaml")
    .option("-o, --output <file>", "write here instead of stdout")
    .action(async (kind, file, opts) =>
      (await import("./commands/import.js")).importCommand(kind, file, opts),
    );

  program
    .command("resume")
    .description("continue a run whose engine died, adopting task processes still alive")
    .argument("<run>", "run id (or prefix)")
    .option("-f, --file <file>", "pipeline file whose .baton/ to read", "baton.yaml")
    .option("--db <url>", DB_OPTION_HELP)
    .option("--data <dir>", DATA_OPTION_HELP)
    .option("--json", "print the run and its tasks as JSON on stdout at the end")
    .action(async (id, opts) => (await import("./commands/resume.js")).resumeCommand(id, opts));

  program
    .command("retry")
    .description("give a finished run's tasks new attempts in the same run")
    .argument("<run>", "run id (or prefix), or the id of one of its tasks")
    .option("--failed-only", "only failed, skipped and cancelled tasks; keep the successes")
    .option("-f, --file <file>", "pipeline file whose .baton/ to read", "baton.yaml")
    .option("--db <url>", DB_OPTION_HELP)
    .option("--data <dir>", DATA_OPTION_HELP)
    .option("--json", "print the run and its tasks as JSON on stdout at the end")
    .action(async (id, opts) => (await import("./commands/resume.js")).retryCommand(id, opts));

  program
    .command("server")
    .description("serve the API and web UI, and run what they start, until interrupted")
    .option("--host <host>", "address to listen on (non-loopback needs BATON_ALLOW_REMOTE=1)")
    .option("--port <port>", "port to listen on (0: any free port)", "8377")
    .option("--db <url>", DB_OPTION_HELP)
    .option("--data <dir>", DATA_OPTION_HELP)
    .option("-f, --file <file>", "pipeline file (default ./baton.yaml, if there is one)")
    .option(
      "--max-tasks-per-node <n>",
      "most tasks one node may expand to (default $BATON_MAX_TASKS_PER_NODE or 100000)",
    )
    .option(
      "--max-tasks-per-run <n>",
      "most tasks one run may expand to (default $BATON_MAX_TASKS_PER_RUN or 100000)",
    )
    .option(
      "--smtp <url>",
      "SMTP server for e-mail notifications, smtp://user:pass@host:port (default $BATON_SMTP_URL)",
    )
    .action(async (opts) => (await import("./commands/server.js")).serverCommand(opts));

  return program;
}

/**
 * Parses ARGV with the full command line and runs the command it names. Help, version and
 * usage errors are told by commander itself; they set the exit code (0 for help and version).
 */
export async function runProgram(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv, { from: "user" });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
}
