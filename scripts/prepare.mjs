// npm's `prepare`: builds the project (`npm run build`) unless the last build is newer than
// everything it reads. npm runs `prepare` after `npm ci`, and again when `npx baton` in this
// folder installs the folder as a package for itself: without this check that first `npx baton`
// ran the whole build a second time (some 18 s) before the command. A build made this way leaves
// dist/.build-stamp; `npm run build` run by hand does not, so the next `prepare` builds again.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
const stamp = path.join(root, "dist", ".build-stamp");

/** What the build reads (web/dist is its output). */
const INPUTS = [
  "src",
  "web",
  "native",
  "scripts",
  "bin",
  "package.json",
  "package-lock.json",
  "tsconfig.json",
  "tsconfig.build.json",
];
const SKIP = new Set([path.join(root, "web", "dist"), path.join(root, "web", "node_modules")]);

/** The newest modification time below `p` (files and folders: a removed file changes its folder's). */
function newest(p) {
  if (SKIP.has(p)) return 0;
  const st = statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  let t = st.mtimeMs;
  if (st.isDirectory()) for (const name of readdirSync(p)) t = Math.max(t, newest(path.join(p, name)));
  return t;
}

const built = statSync(stamp, { throwIfNoEntry: false })?.mtimeMs ?? -1;
const inputs = Math.max(...INPUTS.map((p) => newest(path.join(root, p))));
if (built > inputs) {
  console.log("prepare: the build in dist/ is newer than its sources; not building again");
} else {
  const r = spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}
