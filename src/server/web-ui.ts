/**
 * The web UI at `/` (docs/api.md). The UI itself (React, built by Vite into `web/dist`) is added
 * separately; this serves it when it is built, and otherwise a small page saying so. The UI's
 * files need no token: the sign-in URL `/?token=...` hands the token to the page, which then
 * sends it with every API call.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";

/** `web/dist` of the package (the same from `src/server/` and from `dist/server/`). */
export function defaultWebRoot(): string {
  return fileURLToPath(new URL("../../web/dist", import.meta.url));
}

/** Whether the UI is built in `root`. */
export function isWebUiBuilt(root: string): boolean {
  return fs.existsSync(path.join(root, "index.html"));
}

/** Routes of the UI: the built files when there are some, else the placeholder page at `/`. */
export function registerWebUi(app: FastifyInstance, root: string): void {
  if (isWebUiBuilt(root)) {
    // Imported only when there is a UI to serve: every `baton run` starts an embedded API.
    void app.register(async (scope) => {
      const { default: fastifyStatic } = await import("@fastify/static");
      await scope.register(fastifyStatic, { root, prefix: "/", index: ["index.html"], dotfiles: "deny" });
    });
    return;
  }
  app.get("/", async (_req, reply) => reply.type("text/html; charset=utf-8").send(PLACEHOLDER));
}

/**
 * For a page the UI routes itself (`/runs/01H...` opened directly), the UI's index page;
 * undefined when the UI is not built.
 */
export function sendUiIndex(reply: FastifyReply, root: string): FastifyReply | undefined {
  if (!isWebUiBuilt(root)) return undefined;
  return reply
    .type("text/html; charset=utf-8")
    .header("cache-control", "no-cache")
    .send(fs.createReadStream(path.join(root, "index.html")));
}

const PLACEHOLDER = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Baton</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:0 .2em}</style>
</head>
<body>
<h1>Baton</h1>
<p>The server is running, but its web UI is not built (no <code>web/dist/index.html</code>).</p>
<p>The API is at <code>/api/v1</code>; its description at <code>/api/v1/openapi.json</code>
(send the token from <code>.baton/token</code> as <code>Authorization: Bearer &lt;token&gt;</code>).</p>
</body>
</html>
`;
