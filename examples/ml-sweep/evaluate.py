#!/usr/bin/env python3
"""Score every trained model on the test split.

    python3 evaluate.py --test test.csv --models MODEL.json... [--out DIR]

Writes DIR/scores.json: one entry per model (lr, the task that trained it, test accuracy
and log loss), best first. DIR defaults to $BATON_OUTPUT_DIR. Appends
{"best_accuracy": ..., "mean_accuracy": ..., "models": N} to $BATON_METRICS.
"""
import argparse
import json
import os
import sys

from train import load, loss_and_accuracy


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--test", nargs="+", required=True, help="test.csv (other bound files are ignored)")
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--out", default=os.environ.get("BATON_OUTPUT_DIR") or "output")
    args = ap.parse_args()

    test = [p for p in args.test if os.path.basename(p) == "test.csv"]
    if len(test) != 1:
        sys.exit("evaluate: expected exactly one test.csv, got %s" % args.test)
    features, xs, ys = load(test[0])

    scores = []
    for path in args.models:
        with open(path) as f:
            model = json.load(f)
        if model["features"] != features:
            sys.exit("evaluate: %s was trained on %s, test set has %s" % (path, model["features"], features))
        loss, acc = loss_and_accuracy(model["weights"], model["bias"], xs, ys)
        scores.append({"lr": model["lr"], "trained_by": model["trained_by"], "accuracy": round(acc, 4), "log_loss": round(loss, 6)})
        print("evaluate: lr=%-8g accuracy=%.4f log_loss=%.4f  (%s)" % (model["lr"], acc, loss, model["trained_by"]))
    scores.sort(key=lambda s: (-s["accuracy"], s["log_loss"]))

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "scores.json"), "w") as f:
        json.dump({"test_rows": len(ys), "models": scores}, f, indent=1)
        f.write("\n")
    metrics = {
        "best_accuracy": scores[0]["accuracy"],
        "mean_accuracy": round(sum(s["accuracy"] for s in scores) / len(scores), 4),
        "models": len(scores),
    }
    if os.environ.get("BATON_METRICS"):
        with open(os.environ["BATON_METRICS"], "a") as f:
            f.write(json.dumps(metrics) + "\n")


if __name__ == "__main__":
    main()
