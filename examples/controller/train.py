"""A tiny, deterministic "training" task: fits y = w*x + b to a fixed noisy line by gradient descent.

Params come from the environment, as Baton passes them (BATON_PARAM_<NAME>):
  BATON_PARAM_LR            learning rate (default 0.05)
  BATON_PARAM_EPOCHS        passes over the data (default 40)
  BATON_PARAM_STEP_SECONDS  sleep after each epoch, to watch a sweep (or kill one) in slow motion (default 0)

Writes model.json to $BATON_OUTPUT_DIR and appends {"accuracy", "loss"} to $BATON_METRICS.
Exits 1 if training diverges. Pure Python standard library.
"""

import json
import math
import os
import sys
import time


def dataset(split):
    """A fixed line y = 3x - 1 with deterministic "noise"; `test` points sit between the `train` ones."""
    offset = 0.0 if split == "train" else 0.5
    xs = [(i + offset) / 20 for i in range(20)]
    return [(x, 3 * x - 1 + 0.05 * math.sin(7 * x * 13 + (0 if split == "train" else 1))) for x in xs]


def accuracy(w, b, points):
    """1 - (mean squared error / variance of y): 1 is perfect, 0 is no better than the mean."""
    ys = [y for _, y in points]
    mean = sum(ys) / len(ys)
    var = sum((y - mean) ** 2 for y in ys) / len(ys)
    mse = sum((w * x + b - y) ** 2 for x, y in points) / len(points)
    return max(0.0, 1 - mse / var), mse


def main():
    lr = float(os.environ.get("BATON_PARAM_LR", "0.05"))
    epochs = int(os.environ.get("BATON_PARAM_EPOCHS", "40"))
    step_seconds = float(os.environ.get("BATON_PARAM_STEP_SECONDS", "0"))
    points = dataset("train")
    w = b = 0.0
    for epoch in range(epochs):
        gw = sum(2 * (w * x + b - y) * x for x, y in points) / len(points)
        gb = sum(2 * (w * x + b - y) for x, y in points) / len(points)
        w, b = w - lr * gw, b - lr * gb
        if not (math.isfinite(w) and math.isfinite(b)) or abs(w) > 1e6:
            print(f"lr={lr}: diverged at epoch {epoch}", file=sys.stderr)
            sys.exit(1)
        if step_seconds:
            time.sleep(step_seconds / epochs)
    acc, mse = accuracy(w, b, points)
    print(f"lr={lr} epochs={epochs}: w={w:.4f} b={b:.4f} accuracy={acc:.4f}")
    out = os.environ.get("BATON_OUTPUT_DIR", "output")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump({"w": w, "b": b, "lr": lr, "epochs": epochs, "accuracy": round(acc, 4)}, f)
    metrics = os.environ.get("BATON_METRICS")
    if metrics:
        with open(metrics, "a") as f:
            f.write(json.dumps({"accuracy": round(acc, 4), "loss": round(mse, 6)}) + "\n")


if __name__ == "__main__":
    main()
