"""Process the data set: ClearML's "step 2, process dataset" (split into train and test sets).

  python3 process.py DATASET_CSV

Params (BATON_PARAM_<NAME>):
  TEST_SIZE     the share of points kept for testing (default 0.25)
  RANDOM_STATE  the seed of the shuffle (default 42)

Writes train.csv and test.csv to $BATON_OUTPUT_DIR. Pure Python standard library.
"""

import os
import random
import sys

from stage_data import read_csv, write_csv


def split(points, test_size=0.25, random_state=42):
    """Shuffles the points with the seed and cuts them: (train, test)."""
    shuffled = list(points)
    random.Random(random_state).shuffle(shuffled)
    cut = int(round(len(shuffled) * test_size))
    return shuffled[cut:], shuffled[:cut]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: python3 process.py DATASET_CSV")
    test_size = float(os.environ.get("BATON_PARAM_TEST_SIZE", "0.25"))
    random_state = int(os.environ.get("BATON_PARAM_RANDOM_STATE", "42"))
    train, test = split(read_csv(sys.argv[1]), test_size, random_state)
    out = os.environ.get("BATON_OUTPUT_DIR", "output")
    os.makedirs(out, exist_ok=True)
    write_csv(os.path.join(out, "train.csv"), train)
    write_csv(os.path.join(out, "test.csv"), test)
    print(f"split {len(train) + len(test)} points: {len(train)} to train, {len(test)} to test")


if __name__ == "__main__":
    main()
