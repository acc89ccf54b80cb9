"""Tiny, deterministic 'ML' steps for the Velda-style examples (standard library only).

Files are shared through $BATON_PIPELINE_DIR (one folder per run), as Velda scripts share a volume.
"""
import csv
import glob
import json
import os
import sys

shared = os.environ["BATON_PIPELINE_DIR"]


def prepare():
    rows = []
    for path in sorted(glob.glob("data/*.csv")):
        with open(path) as f:
            rows += [(float(r["x"]), float(r["y"])) for r in csv.DictReader(f)]
    with open(os.path.join(shared, "dataset.json"), "w") as f:
        json.dump(rows, f)
    print(f"prepared {len(rows)} rows")


def train():
    shard = int(os.environ.get("BATON_SHARD_ID", "0"))
    shards = int(os.environ.get("BATON_TOTAL_SHARDS", "1"))
    with open(os.path.join(shared, "dataset.json")) as f:
        rows = json.load(f)[shard::shards]
    # Least squares fit of y = a*x + b on this shard.
    n = len(rows)
    sx = sum(x for x, _ in rows)
    sy = sum(y for _, y in rows)
    sxx = sum(x * x for x, _ in rows)
    sxy = sum(x * y for x, y in rows)
    a = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    b = (sy - a * sx) / n
    with open(os.path.join(shared, f"model-{shard}.json"), "w") as f:
        json.dump({"a": a, "b": b, "rows": n}, f)
    with open(os.environ["BATON_METRICS"], "a") as f:
        f.write(json.dumps({"rows": n}) + "\n")
    print(f"shard {shard}/{shards}: y = {a:.4f} x + {b:.4f} on {n} rows")


def evaluate():
    with open(os.path.join(shared, "dataset.json")) as f:
        rows = json.load(f)
    models = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(shared, "model-*.json")))]
    a = sum(m["a"] for m in models) / len(models)
    b = sum(m["b"] for m in models) / len(models)
    mse = sum((y - (a * x + b)) ** 2 for x, y in rows) / len(rows)
    with open(os.path.join(os.environ["BATON_OUTPUT_DIR"], "report.json"), "w") as f:
        json.dump({"models": len(models), "mse": mse}, f)
    with open(os.environ["BATON_METRICS"], "a") as f:
        f.write(json.dumps({"mse": mse}) + "\n")
    print(f"mse of the averaged model over {len(models)} shard(s): {mse:.5f}")


def process(path):
    with open(path) as f:
        values = [float(r["y"]) for r in csv.DictReader(f)]
    out = os.path.join(shared, "stats", os.path.basename(path) + ".json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"file": os.path.basename(path), "n": len(values), "mean": sum(values) / len(values)}, f)


def aggregate():
    stats = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(shared, "stats", "*.json")))]
    total = sum(s["n"] for s in stats)
    mean = sum(s["mean"] * s["n"] for s in stats) / total
    with open(os.path.join(os.environ["BATON_OUTPUT_DIR"], "summary.json"), "w") as f:
        json.dump({"files": len(stats), "rows": total, "mean": mean}, f)
    print(f"{len(stats)} files, {total} rows, mean {mean:.4f}")


def infer(path):
    with open(path) as f:
        values = [float(r["x"]) for r in csv.DictReader(f)]
    out = os.path.join(shared, "predictions", os.path.basename(path) + ".json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump([0.5 * v for v in values], f)


def score(path):
    with open(path) as f:
        ys = [float(r["y"]) for r in csv.DictReader(f)]
    with open(os.path.join(shared, "predictions", os.path.basename(path) + ".json")) as f:
        preds = json.load(f)
    mae = sum(abs(p - y) for p, y in zip(preds, ys)) / len(ys)
    with open(os.environ["BATON_METRICS"], "a") as f:
        f.write(json.dumps({"mae": mae}) + "\n")
    print(f"{os.path.basename(path)}: mae {mae:.4f}")


if __name__ == "__main__":
    step, *args = sys.argv[1:]
    globals()[step](*args)
