"""Picks the best of several model.json files (by their training accuracy) for the static sweep.

Usage: pick.py MODEL.json... ; copies the best to $BATON_OUTPUT_DIR/model.json and appends
{"best_lr", "accuracy"} to $BATON_METRICS. Pure Python standard library.
"""

import json
import os
import shutil
import sys


def main():
    models = []
    for path in sys.argv[1:]:
        with open(path) as f:
            models.append((json.load(f), path))
    if not models:
        sys.exit("pick.py: no models given")
    best, path = max(models, key=lambda m: m[0]["accuracy"])
    print(f"best of {len(models)}: lr={best['lr']} accuracy={best['accuracy']}")
    out = os.environ.get("BATON_OUTPUT_DIR", "output")
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(path, os.path.join(out, "model.json"))
    metrics = os.environ.get("BATON_METRICS")
    if metrics:
        with open(metrics, "a") as f:
            f.write(json.dumps({"best_lr": best["lr"], "accuracy": best["accuracy"]}) + "\n")


if __name__ == "__main__":
    main()
