#!/usr/bin/env python3
"""Summarise one shard of the CSV files: one partial-summary JSON per file.

    python3 stats.py --shard K --shards N [--in DIR] [--out DIR]

Takes the files part-IIII.csv under --in (searched recursively; default
$BATON_INPUTS_DIR/csvs) whose index IIII % N == K, and writes for each one
OUT/part-IIII.json: {file, rows, sum, min, max, by_category: {cat: [count, sum]}}.
OUT defaults to $BATON_OUTPUT_DIR. Appends {"files": ..., "rows": ...} to $BATON_METRICS.

The directory is read instead of passing ${{ inputs.csvs }} on the command line: 1,000 paths
would make the command string long enough to hit the kernel's 128 KiB limit on one argument.
"""
import argparse
import csv
import json
import os
import re
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shard", type=int, required=True)
    ap.add_argument("--shards", type=int, required=True)
    ap.add_argument("--in", dest="indir", default=os.path.join(os.environ.get("BATON_INPUTS_DIR", "."), "csvs"))
    ap.add_argument("--out", default=os.environ.get("BATON_OUTPUT_DIR") or "output")
    args = ap.parse_args()
    if not 0 <= args.shard < args.shards:
        sys.exit("stats: --shard must be in [0, %d)" % args.shards)

    found, mine = 0, []
    for root, _, files in os.walk(args.indir, followlinks=True):
        for name in files:
            m = re.fullmatch(r"part-(\d+)\.csv", name)
            if m:
                found += 1
                if int(m.group(1)) % args.shards == args.shard:
                    mine.append((int(m.group(1)), os.path.join(root, name)))
    if not found:
        sys.exit("stats: no part-*.csv under %s" % args.indir)  # an empty shard is fine, no input is not

    os.makedirs(args.out, exist_ok=True)
    total_rows = 0
    for index, path in sorted(mine):
        values, by_cat = [], {}
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                v = float(row["value"])
                values.append(v)
                count, s = by_cat.get(row["category"], (0, 0.0))
                by_cat[row["category"]] = (count + 1, s + v)
        partial = {
            "file": os.path.basename(path),
            "rows": len(values),
            "sum": sum(values),
            "min": min(values),
            "max": max(values),
            "by_category": {k: list(v) for k, v in sorted(by_cat.items())},
        }
        with open(os.path.join(args.out, "part-%04d.json" % index), "w") as f:
            json.dump(partial, f)
        total_rows += len(values)

    metrics = {"files": len(mine), "rows": total_rows}
    print("stats shard %d/%d: %s" % (args.shard, args.shards, json.dumps(metrics)))
    if os.environ.get("BATON_METRICS"):
        with open(os.environ["BATON_METRICS"], "a") as f:
            f.write(json.dumps(metrics) + "\n")


if __name__ == "__main__":
    main()
