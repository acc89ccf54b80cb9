#!/usr/bin/env python3
"""Combine the partial summaries of all shards into summary.json.

    python3 aggregate.py [--expect N] [--in DIR] [--out DIR]

Reads every *.json under --in (recursively: partials of a fanned-out node sit in one
sub-folder per task; default $BATON_INPUTS_DIR/partials). Fails if a CSV file was counted
twice, or, with --expect N, if the number of files summarised is not N. Writes
OUT/summary.json (OUT defaults to $BATON_OUTPUT_DIR) and appends
{"files": ..., "rows": ..., "mean": ...} to $BATON_METRICS.
"""
import argparse
import json
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--expect", type=int)
    ap.add_argument("--in", dest="indir", default=os.path.join(os.environ.get("BATON_INPUTS_DIR", "."), "partials"))
    ap.add_argument("--out", default=os.environ.get("BATON_OUTPUT_DIR") or "output")
    args = ap.parse_args()

    seen = set()
    rows, total, lo, hi, by_cat = 0, 0.0, float("inf"), float("-inf"), {}
    for root, _, files in os.walk(args.indir, followlinks=True):
        for name in files:
            if not name.endswith(".json"):
                continue
            with open(os.path.join(root, name)) as f:
                p = json.load(f)
            if p["file"] in seen:
                sys.exit("aggregate: %s summarised twice (shards overlap?)" % p["file"])
            seen.add(p["file"])
            rows += p["rows"]
            total += p["sum"]
            lo, hi = min(lo, p["min"]), max(hi, p["max"])
            for cat, (count, s) in p["by_category"].items():
                c = by_cat.setdefault(cat, [0, 0.0])
                c[0] += count
                c[1] += s
    if not seen:
        sys.exit("aggregate: no partial summaries under %s" % args.indir)
    if args.expect is not None and len(seen) != args.expect:
        sys.exit("aggregate: expected %d files, got %d" % (args.expect, len(seen)))

    summary = {
        "files": len(seen),
        "rows": rows,
        "mean": round(total / rows, 6),
        "min": lo,
        "max": hi,
        "by_category": {k: {"rows": c, "mean": round(s / c, 6)} for k, (c, s) in sorted(by_cat.items())},
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
        f.write("\n")
    metrics = {"files": summary["files"], "rows": rows, "mean": summary["mean"]}
    print("aggregate: %s" % json.dumps(metrics))
    if os.environ.get("BATON_METRICS"):
        with open(os.environ["BATON_METRICS"], "a") as f:
            f.write(json.dumps(metrics) + "\n")


if __name__ == "__main__":
    main()
