#!/usr/bin/env python3
"""Make a small synthetic 2-class dataset and split it into train.csv / test.csv.

    python3 preprocess.py [--rows 400] [--seed 0] [--test-fraction 0.25] [--out DIR]

Three raw features on very different scales: age (years), income and spending (dollars).
Income and spending are strongly correlated; class 1 (~40% of rows, "saves money") is told
mostly by income being high *for its spending*. Gradient descent first follows the plain
income signal and finds the income-minus-spending direction only after enough steps, so the
learning rate visibly changes test accuracy. Features are standardised with the training
split's mean and standard deviation (the test split never leaks into training).
Same seed -> byte-identical files, which is what lets Baton's cache reuse them.
DIR defaults to $BATON_OUTPUT_DIR.
"""
import argparse
import csv
import os
import random

FEATURES = ["age", "income", "spending"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=400)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--test-fraction", type=float, default=0.25)
    ap.add_argument("--out", default=os.environ.get("BATON_OUTPUT_DIR") or "output")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    rows = []
    for _ in range(args.rows):
        label = 1 if rng.random() < 0.4 else 0
        wealth = rng.gauss(0, 1)  # shared by income and spending
        age = 40 + 10 * rng.gauss(0, 1) + 2 * label
        income = 50000 + 12000 * (wealth + 0.3 * rng.gauss(0, 1) + 1.2 * label)
        spending = 30000 + 7000 * (wealth + 0.3 * rng.gauss(0, 1))
        rows.append([age, income, spending, label])
    rng.shuffle(rows)
    n_test = round(len(rows) * args.test_fraction)
    test, train = rows[:n_test], rows[n_test:]

    k = len(FEATURES)
    mean = [sum(r[j] for r in train) / len(train) for j in range(k)]
    std = [(sum((r[j] - mean[j]) ** 2 for r in train) / len(train)) ** 0.5 for j in range(k)]

    os.makedirs(args.out, exist_ok=True)
    for name, part in (("train.csv", train), ("test.csv", test)):
        with open(os.path.join(args.out, name), "w", newline="") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(FEATURES + ["label"])
            for r in part:
                w.writerow(["%.6f" % ((r[j] - mean[j]) / std[j]) for j in range(k)] + [r[k]])
    positives = sum(r[k] for r in rows)
    print("preprocess: %d rows (%d positive) -> train.csv %d, test.csv %d" % (len(rows), positives, len(train), len(test)))


if __name__ == "__main__":
    main()
