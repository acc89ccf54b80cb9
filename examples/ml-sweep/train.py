#!/usr/bin/env python3
"""Train a logistic regression with full-batch gradient descent (pure Python).

    python3 train.py --lr 0.01 [--epochs 200] --data FILE... [--out DIR]

--data takes the files bound to the `dataset` input (train.csv and test.csv): only the one
named train.csv is used here. Writes DIR/model.json (weights, bias, the lr it was trained
with) and DIR/history.csv (loss per epoch); DIR defaults to $BATON_OUTPUT_DIR. Appends
{"train_loss": ..., "accuracy": ...} (on the training split) to $BATON_METRICS.
"""
import argparse
import csv
import json
import math
import os
import sys


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    return header[:-1], [[float(v) for v in r[:-1]] for r in body], [int(r[-1]) for r in body]


def sigmoid(z):
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def loss_and_accuracy(w, b, xs, ys):
    loss = correct = 0
    for x, y in zip(xs, ys):
        p = min(max(sigmoid(sum(wi * xi for wi, xi in zip(w, x)) + b), 1e-12), 1 - 1e-12)
        loss -= y * math.log(p) + (1 - y) * math.log(1 - p)
        correct += (p >= 0.5) == (y == 1)
    return loss / len(ys), correct / len(ys)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lr", type=float, required=True)
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--data", nargs="+", required=True)
    ap.add_argument("--out", default=os.environ.get("BATON_OUTPUT_DIR") or "output")
    args = ap.parse_args()

    train = [p for p in args.data if os.path.basename(p) == "train.csv"]
    if len(train) != 1:
        sys.exit("train: expected exactly one train.csv among --data %s" % args.data)
    features, xs, ys = load(train[0])

    w, b, n = [0.0] * len(features), 0.0, len(ys)
    history = []
    for epoch in range(1, args.epochs + 1):
        gw, gb = [0.0] * len(w), 0.0
        for x, y in zip(xs, ys):
            err = sigmoid(sum(wi * xi for wi, xi in zip(w, x)) + b) - y
            gw = [g + err * xi for g, xi in zip(gw, x)]
            gb += err
        w = [wi - args.lr * g / n for wi, g in zip(w, gw)]
        b -= args.lr * gb / n
        history.append((epoch, loss_and_accuracy(w, b, xs, ys)[0]))
    loss, acc = loss_and_accuracy(w, b, xs, ys)

    os.makedirs(args.out, exist_ok=True)
    model = {
        "lr": args.lr,
        "epochs": args.epochs,
        "features": features,
        "weights": [round(v, 8) for v in w],
        "bias": round(b, 8),
        "trained_by": os.environ.get("BATON_TASK_NAME", "train"),
    }
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(model, f, indent=1)
        f.write("\n")
    with open(os.path.join(args.out, "history.csv"), "w") as f:
        f.write("epoch,train_loss\n" + "".join("%d,%.6f\n" % h for h in history))

    metrics = {"train_loss": round(loss, 6), "accuracy": round(acc, 4)}
    print("train lr=%g epochs=%d: %s" % (args.lr, args.epochs, json.dumps(metrics)))
    if os.environ.get("BATON_METRICS"):
        with open(os.environ["BATON_METRICS"], "a") as f:
            f.write(json.dumps(metrics) + "\n")


if __name__ == "__main__":
    main()
