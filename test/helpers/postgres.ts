/**
 * A throwaway PostgreSQL for tests: `startPostgres()` creates a cluster in a temporary folder
 * (initdb) and starts it (pg_ctl) on 127.0.0.1 at a free port, as the `postgres` OS user when
 * the tests run as root; `createDatabase()` gives each test (or test file) a fresh database;
 * `stop()` stops the server and removes the folder.
 *
 * The binaries are Debian's (`apt-get install postgresql`, see scripts/install-test-deps.sh):
 * the newest /usr/lib/postgresql/N/bin, or BATON_PG_BIN. Without them the tests skip, saying
 * why, unless BATON_REQUIRE_POSTGRES=1 (CI), where a missing PostgreSQL is a failure.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pg from "pg";

export interface TestPostgres {
  host: string;
  port: number;
  /** `postgres://postgres@127.0.0.1:PORT/NAME` */
  url(database: string): string;
  /** Creates a new, empty database and returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Adds a login role that must give `password` over TCP (scram-sha-256), to test refusals. */
  addPasswordUser(name: string, password: string): Promise<void>;
  stop(): Promise<void>;
}

/** The folder holding initdb and pg_ctl, or undefined when PostgreSQL is not installed. */
export function postgresBin(): string | undefined {
  const given = process.env.BATON_PG_BIN;
  if (given) return fs.existsSync(path.join(given, "initdb")) ? given : undefined;
  const root = "/usr/lib/postgresql";
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(a) - Number(b))
    : [];
  const newest = versions.at(-1);
  return newest === undefined ? undefined : path.join(root, newest, "bin");
}

/**
 * Why the PostgreSQL tests cannot run here, or undefined when they can.
 * @throws when BATON_REQUIRE_POSTGRES=1 and PostgreSQL is missing.
 */
export function missingPostgres(): string | undefined {
  if (postgresBin()) return undefined;
  const why =
    "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): install it with scripts/install-test-deps.sh";
  if (process.env.BATON_REQUIRE_POSTGRES === "1") throw new Error(why);
  return why;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as the `postgres` user when we are root (the server refuses root). */
function pgExec(bin: string, args: string[], timeout = 120_000): string {
  const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
  return execFileSync(cmd, argv, { encoding: "utf8", timeout, stdio: ["ignore", "pipe", "pipe"] });
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = postgresBin();
  if (!bin) throw new Error(missingPostgres() ?? "PostgreSQL is not installed");
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "baton-pg-"));
  const data = path.join(root, "data");
  const sock = path.join(root, "sock");
  fs.mkdirSync(data);
  fs.mkdirSync(sock);
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    for (const dir of [root, data, sock]) fs.chownSync(dir, uid, gid);
  }
  fs.chmodSync(data, 0o700);
  pgExec(path.join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "postgres",
    "--auth=trust",
    "-E",
    "UTF8",
    "--locale=C.UTF-8",
  ]);
  const host = "127.0.0.1";
  let port = 0;
  // Another process may take the free port before the server binds it: try a few.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    const options = [
      `-p ${port}`,
      `-k ${sock}`,
      `-c listen_addresses=${host}`,
      "-c fsync=off",
      "-c synchronous_commit=off",
      "-c full_page_writes=off",
      "-c max_connections=200",
    ].join(" ");
    try {
      pgExec(path.join(bin, "pg_ctl"), [
        "-D",
        data,
        "-l",
        path.join(root, "server.log"),
        "-w",
        "-t",
        "60",
        "-o",
        options,
        "start",
      ]);
      break;
    } catch (err) {
      if (attempt >= 3) {
        const log = fs.existsSync(path.join(root, "server.log"))
          ? fs.readFileSync(path.join(root, "server.log"), "utf8")
          : "";
        throw new Error(`pg_ctl start failed: ${(err as Error).message}\n${log}`);
      }
    }
  }
  const url = (database: string) => `postgres://postgres@${host}:${port}/${database}`;
  let count = 0;
  return {
    host,
    port,
    url,
    async createDatabase(prefix = "t") {
      const name = `${prefix}_${process.pid}_${++count}`;
      const client = new pg.Client({ host, port, user: "postgres", database: "postgres" });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name}"`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    async addPasswordUser(name, password) {
      const hba = path.join(data, "pg_hba.conf");
      // The first matching line wins: this role's line goes before the trust ones.
      fs.writeFileSync(hba, `host all ${name} 127.0.0.1/32 scram-sha-256\n${fs.readFileSync(hba, "utf8")}`);
      const client = new pg.Client({ host, port, user: "postgres", database: "postgres" });
      await client.connect();
      try {
        await client.query(`CREATE ROLE "${name}" LOGIN PASSWORD '${password.replace(/'/g, "''")}'`);
        await client.query("SELECT pg_reload_conf()");
      } finally {
        await client.end();
      }
      // The server reloads its configuration in the background: wait until it asks for the password.
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
        const probe = new pg.Client({
          host,
          port,
          user: name,
          password: `not-${password}`,
          database: "postgres",
        });
        const refused = await probe.connect().then(
          () => false,
          (err: { code?: string }) => err.code === "28P01",
        );
        await probe.end().catch(() => {});
        if (refused) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`PostgreSQL does not ask ${name} for a password`);
    },
    async stop() {
      try {
        pgExec(path.join(bin, "pg_ctl"), ["-D", data, "-m", "fast", "-w", "-t", "60", "stop"]);
      } finally {
        fs.rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
