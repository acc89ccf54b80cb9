"""Final evaluation: scores a model.json (from train.py) on the held-out points.

The model comes from BATON_PARAM_MODEL (a path), or the first argument.
Appends {"test_accuracy", "test_loss"} to $BATON_METRICS. Pure Python standard library.
"""

import json
import os
import sys

from train import accuracy, dataset


def main():
    path = os.environ.get("BATON_PARAM_MODEL") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if not path:
        sys.exit("evaluate.py: give the model as BATON_PARAM_MODEL or as an argument")
    with open(path) as f:
        model = json.load(f)
    acc, mse = accuracy(model["w"], model["b"], dataset("test"))
    print(f"model lr={model['lr']} epochs={model['epochs']}: test accuracy={acc:.4f}")
    metrics = os.environ.get("BATON_METRICS")
    if metrics:
        with open(metrics, "a") as f:
            f.write(json.dumps({"test_accuracy": round(acc, 4), "test_loss": round(mse, 6)}) + "\n")


if __name__ == "__main__":
    main()
