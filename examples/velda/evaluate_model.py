"""Mean squared error of the model on the processed rows; writes work/eval.json."""
import os

from common import WORK, metrics, model, processed_rows, write_json

m = model()
rows = processed_rows()
mse = sum((y - (m["a"] * x + m["b"])) ** 2 for x, y in rows) / len(rows)
write_json(os.path.join(WORK, "eval.json"), {"rows": len(rows), "mse": mse})
metrics(mse=mse)
print(f"mse {mse:.5f} on {len(rows)} rows")
