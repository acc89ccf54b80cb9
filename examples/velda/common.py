"""Helpers of the example steps (standard library only). Steps share files through the folder
they run in, as Velda tasks share their instance's disk: everything they write goes in work/."""
import csv
import glob
import json
import os

WORK = "work"


def read_json(path):
    with open(path) as f:
        return json.load(f)


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def process(path):
    """Cleans one data file: keeps the rows with a number in both columns."""
    rows = []
    with open(path) as f:
        for r in csv.DictReader(f):
            try:
                rows.append([float(r["x"]), float(r["y"])])
            except (KeyError, TypeError, ValueError):
                pass
    write_json(os.path.join(WORK, "processed", os.path.basename(path) + ".json"), rows)
    print(f"{path}: {len(rows)} rows")


def processed_rows():
    rows = []
    for path in sorted(glob.glob(os.path.join(WORK, "processed", "*.json"))):
        rows += read_json(path)
    return rows


def model():
    """The trained model, or a baseline when no training ran in this folder."""
    path = os.path.join(WORK, "model.json")
    return read_json(path) if os.path.exists(path) else {"a": 1.0, "b": 0.0}


def metrics(**values):
    """Recorded with the task when Baton runs it ($BATON_METRICS), shown by `baton show`."""
    if "BATON_METRICS" in os.environ:
        with open(os.environ["BATON_METRICS"], "a") as f:
            f.write(json.dumps(values) + "\n")
