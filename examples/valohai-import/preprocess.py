"""Splits data/raw.csv (bound to the input "raw") into train.csv and test.csv."""
import argparse
import glob
import os

p = argparse.ArgumentParser()
p.add_argument("--out", required=True)
a = p.parse_args()
src = glob.glob(os.path.join(os.environ["VH_INPUTS_DIR"], "raw", "*"))[0]
header, *rows = open(src).read().splitlines()
cut = len(rows) * 4 // 5
for name, part in (("train.csv", rows[:cut]), ("test.csv", rows[cut:])):
    with open(os.path.join(a.out, name), "w") as f:
        f.write("\n".join([header, *part]) + "\n")
print(f"{len(rows)} rows: {cut} train, {len(rows) - cut} test")
