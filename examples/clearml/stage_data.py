"""Stage the data set: ClearML's "step 1, dataset artifact".

ClearML's example downloads the Iris data set; Baton's examples stay offline, so this step
makes a small deterministic one instead: two clouds of 2-D points, labelled 0 and 1.

Params (BATON_PARAM_<NAME>, as Baton passes them):
  ROWS  how many points (default 240)
  SEED  the random seed (default 7)

Writes dataset.csv (x1,x2,label) to $BATON_OUTPUT_DIR. Pure Python standard library.
"""

import csv
import os
import random


def make_dataset(rows=240, seed=7):
    """`rows` points (x1, x2, label): label 1 around (3, 3), label 0 around (1, 1), overlapping a little."""
    rng = random.Random(seed)
    points = []
    for i in range(rows):
        label = i % 2
        centre = 3.0 if label else 1.0
        points.append((round(rng.gauss(centre, 0.9), 4), round(rng.gauss(centre, 0.9), 4), label))
    return points


def write_csv(path, points):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["x1", "x2", "label"])
        writer.writerows(points)


def read_csv(path):
    with open(path, newline="") as f:
        return [(float(r["x1"]), float(r["x2"]), int(r["label"])) for r in csv.DictReader(f)]


def main():
    rows = int(os.environ.get("BATON_PARAM_ROWS", "240"))
    seed = int(os.environ.get("BATON_PARAM_SEED", "7"))
    out = os.environ.get("BATON_OUTPUT_DIR", "output")
    os.makedirs(out, exist_ok=True)
    points = make_dataset(rows, seed)
    write_csv(os.path.join(out, "dataset.csv"), points)
    print(f"staged {len(points)} points (seed {seed}) in dataset.csv")


if __name__ == "__main__":
    main()
