"""Checks that every data file was processed and a model was trained; writes work/validation.json."""
import glob
import os

from common import WORK, write_json

missing = [p for p in sorted(glob.glob("*.csv")) if not os.path.exists(os.path.join(WORK, "processed", p + ".json"))]
if missing or not os.path.exists(os.path.join(WORK, "model.json")):
    raise SystemExit(f"validate: not processed: {missing}" if missing else "validate: no model")
write_json(os.path.join(WORK, "validation.json"), {"files": len(glob.glob("*.csv")), "ok": True})
print("valid")
