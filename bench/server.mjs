// A real `baton server` process and an HTTP client for it, shared by the server benches
// (`load.mjs`, `scale-out.mjs`). All traffic goes to 127.0.0.1.

import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const BATON = join(REPO, "bin", "baton.js");
export const TERMINAL = new Set(["succeeded", "failed", "cancelled", "skipped", "cached"]);
/** Per-request bound: a request that takes longer counts as a failure. */
const REQUEST_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// The server process

/**
 * Starts `baton server --port 0` in dir (more arguments in `args`, e.g. `--db URL`; `bin`: another
 * checkout's bin/baton.js); resolves
 * { child, url, port, token, saveStderr() } once it listens.
 */
export function startServer(dir, stderrFile, args = [], bin = BATON) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k !== "BATON_URL" && k !== "BATON_TOKEN"),
  );
  const child = spawn(process.execPath, [bin, "server", "--port", "0", ...args], {
    cwd: dir,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stdout.resume();
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => {
    err += d;
    if (err.length > 1_000_000) err = err.slice(-500_000);
  });
  const saveStderr = () => writeFileSync(stderrFile, err);
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`server did not print its address within 30 s; stderr: ${err.trim()}`));
    }, 30_000);
    const onData = () => {
      // "Sign in: URL/?token=TOKEN": with two servers in one folder, .baton/server.json names the first only.
      const m = /Sign in: (http:\/\/127\.0\.0\.1:(\d+))\/\?token=([0-9A-Za-z_-]+)/.exec(err);
      if (!m) return;
      cleanup();
      resolvePromise({ child, url: m[1], port: Number(m[2]), token: m[3], saveStderr });
    };
    const onExit = (code, signal) => {
      cleanup();
      reject(new Error(`server exited (${signal ?? `code ${code}`}) before listening: ${err.trim()}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stderr.off("data", onData);
      child.off("exit", onExit);
    };
    child.stderr.on("data", onData);
    child.on("exit", onExit);
    child.on("error", (e) => reject(e));
  });
}

/** SIGTERM, then up to 30 s for the server to exit, then SIGKILL. Returns what happened. */
export async function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return `had already exited (${child.signalCode ?? `code ${child.exitCode}`})`;
  }
  const exited = new Promise((r) => child.once("exit", (code, signal) => r(signal ?? `code ${code}`)));
  const t0 = performance.now();
  child.kill("SIGTERM");
  let timer;
  const bound = (ms) =>
    new Promise((r) => {
      timer = setTimeout(() => r(null), ms);
    });
  const how = await Promise.race([exited, bound(30_000)]);
  clearTimeout(timer);
  if (how !== null) return `stopped by SIGTERM in ${((performance.now() - t0) / 1000).toFixed(1)} s (${how})`;
  child.kill("SIGKILL");
  await Promise.race([exited, bound(5000)]);
  clearTimeout(timer);
  return "did not exit within 30 s of SIGTERM: killed with SIGKILL";
}

/** The server process's peak RSS (VmHWM) in MB, from /proc. */
export function peakRssMb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export class HttpFailure extends Error {}

export function makeClient(base, token, agent) {
  const url = new URL(base);
  if (url.hostname !== "127.0.0.1") throw new Error(`refusing to send traffic to ${url.hostname}`);
  return (method, path, body) =>
    new Promise((resolvePromise, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        {
          host: "127.0.0.1",
          port: url.port,
          method,
          path: `/api/v1${path}`,
          agent,
          headers: {
            authorization: `Bearer ${token}`,
            accept: "application/json",
            ...(payload === undefined
              ? {}
              : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
          },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let json;
            try {
              json = JSON.parse(text);
            } catch {
              json = undefined;
            }
            resolvePromise({ status: res.statusCode, json, text });
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () =>
        req.destroy(new Error(`${method} ${path}: no answer within ${REQUEST_TIMEOUT_MS} ms`)),
      );
      req.on("error", (e) => reject(new HttpFailure(`${method} /api/v1${path}: ${e.message}`)));
      if (payload !== undefined) req.write(payload);
      req.end();
    });
}

/** Throws with the exact status and body unless the answer has the expected status. */
export function expect(res, status, what) {
  if (res.status !== status) {
    throw new HttpFailure(`${what}: HTTP ${res.status} (expected ${status}): ${res.text.slice(0, 2000)}`);
  }
  return res.json;
}

/**
 * Listens to GET /api/v1/events (SSE) and records task ends; `waitEnded(id, ms)` resolves true
 * once the task has ended (even if the event came before the caller asked), false at the timeout.
 */
export function watchEvents(port, token) {
  const ended = new Set();
  const waiters = new Map();
  let buffer = "";
  let req;
  const ready = new Promise((resolvePromise, reject) => {
    req = http.get(
      {
        host: "127.0.0.1",
        port,
        path: "/api/v1/events",
        agent: false,
        headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
      },
      (res) => {
        if (res.statusCode !== 200) {
          reject(new HttpFailure(`GET /api/v1/events: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding("utf8");
        res.on("data", (d) => {
          buffer += d;
          let cut = buffer.indexOf("\n\n");
          while (cut >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const data = block
              .split("\n")
              .filter((l) => l.startsWith("data: "))
              .map((l) => l.slice(6))
              .join("\n");
            if (data) {
              try {
                const e = JSON.parse(data);
                if (e.type === "task" && TERMINAL.has(e.status)) {
                  ended.add(e.taskId);
                  waiters.get(e.taskId)?.();
                }
              } catch {
                // not an event we read
              }
            }
            cut = buffer.indexOf("\n\n");
          }
        });
        resolvePromise();
      },
    );
    req.on("error", (e) => reject(new HttpFailure(`GET /api/v1/events: ${e.message}`)));
  });
  return {
    ready,
    waitEnded(id, ms) {
      if (ended.has(id)) return Promise.resolve(true);
      return new Promise((r) => {
        const timer = setTimeout(() => {
          waiters.delete(id);
          r(false);
        }, ms);
        waiters.set(id, () => {
          clearTimeout(timer);
          waiters.delete(id);
          r(true);
        });
      });
    },
    close: () => req?.destroy(),
  };
}
