#!/usr/bin/env python3
"""Predicts y for every row of one data file; writes work/predictions/FILE.json."""
import csv
import os
import sys

from common import WORK, model, write_json

path = sys.argv[1]
m = model()
with open(path) as f:
    rows = [(float(r["x"]), float(r["y"])) for r in csv.DictReader(f)]
write_json(os.path.join(WORK, "predictions", os.path.basename(path) + ".json"), [[m["a"] * x + m["b"], y] for x, y in rows])
print(f"{path}: {len(rows)} predictions")
