#!/usr/bin/env python3
"""Write N small deterministic CSV files: part-0000.csv ... part-(N-1).csv.

    python3 generate.py [--files 1000] [--seed 0] [--out DIR]

Each file holds 5-40 rows of `id,category,value` (a made-up sensor log: category is one of
a few sensor kinds, value a reading). File i is generated from its own seed, so any file can
be regenerated alone and the whole set is byte-identical run after run.
DIR defaults to $BATON_OUTPUT_DIR.
"""
import argparse
import os
import random

CATEGORIES = {"temp": (21.0, 3.0), "humidity": (45.0, 10.0), "pressure": (1013.0, 8.0), "co2": (600.0, 150.0)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.environ.get("BATON_OUTPUT_DIR") or "output")
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    names = sorted(CATEGORIES)
    total = 0
    for i in range(args.files):
        rng = random.Random(args.seed * 1_000_003 + i)
        lines = ["id,category,value"]
        for r in range(rng.randint(5, 40)):
            cat = rng.choice(names)
            mean, sd = CATEGORIES[cat]
            lines.append("%d-%d,%s,%.3f" % (i, r, cat, rng.gauss(mean, sd)))
        total += len(lines) - 1
        with open(os.path.join(args.out, "part-%04d.csv" % i), "w") as f:
            f.write("\n".join(lines) + "\n")
    print("generate: %d files, %d rows" % (args.files, total))


if __name__ == "__main__":
    main()
