// Clearing work folders without timing the clearing into the next run.
//
// On ext4 without a journal (this project's CI machines and many VM images), creating a file
// skips every inode of its block group that was freed in the last minute, and reads the inode
// table to find out: after `rm -rf` of a folder of 10,000 files, each new file costs tens of
// microseconds more, and a run that creates several files per task pays it several times per
// task. A harness that deleted the previous run's folder just before timing the next one would
// time that deletion's after-effect, and charge it to whichever tool creates the most files.
// So old work folders are renamed aside (a rename frees no inode) and deleted once, after the
// last timed run.
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";

let serial = 0;

/** Moves `dir`, if it exists, into `.aside/` next to `root`'s contents, where {@link clearAside} deletes it. */
export function setAside(dir, root) {
  if (!existsSync(dir)) return;
  const aside = join(root, ".aside");
  mkdirSync(aside, { recursive: true });
  renameSync(dir, join(aside, `${process.pid}-${++serial}-${basename(dirname(dir))}-${basename(dir)}`));
}

/**
 * Deletes what {@link setAside} moved under `root`: call it after the last timed run. With
 * `BENCH_KEEP_OLD=1` it is left there (for runs in a row: delete `bench/out/.aside` after the last).
 */
export function clearAside(root) {
  if (process.env.BENCH_KEEP_OLD === "1") return;
  rmSync(join(root, ".aside"), { recursive: true, force: true });
}
