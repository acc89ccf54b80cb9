#!/usr/bin/env python3
"""Mean absolute error of one file's predictions; writes work/evals/FILE.json."""
import os
import sys

from common import WORK, metrics, read_json, write_json

name = os.path.basename(sys.argv[1])
pairs = read_json(os.path.join(WORK, "predictions", name + ".json"))
mae = sum(abs(p - y) for p, y in pairs) / len(pairs)
write_json(os.path.join(WORK, "evals", name + ".json"), {"file": name, "mae": mae})
metrics(mae=mae)
print(f"{name}: mae {mae:.4f}")
