"""Fits y = a*x + b (least squares) on the processed rows; writes work/model.json."""
import os

from common import WORK, metrics, processed_rows, write_json

rows = processed_rows()
n = len(rows)
if n < 2:
    raise SystemExit(f"train: {n} processed rows: run the processing step first")
sx = sum(x for x, _ in rows)
sy = sum(y for _, y in rows)
sxx = sum(x * x for x, _ in rows)
sxy = sum(x * y for x, y in rows)
a = (n * sxy - sx * sy) / (n * sxx - sx * sx)
b = (sy - a * sx) / n
write_json(os.path.join(WORK, "model.json"), {"a": a, "b": b, "rows": n})
metrics(rows=n)
print(f"y = {a:.4f} x + {b:.4f} on {n} rows")
