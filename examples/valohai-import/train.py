"""A stand-in training script: reads the dataset Valohai would put in /valohai/inputs/dataset/."""
import argparse
import glob
import json
import os

p = argparse.ArgumentParser()
p.add_argument("--learning_rate", type=float)
p.add_argument("--epochs", type=int)
a = p.parse_args()
inputs = os.environ.get("BATON_INPUTS_DIR", "/valohai/inputs")
values = [float(x) for f in glob.glob(f"{inputs}/dataset/**/*.csv", recursive=True) for x in open(f).read().split()]
loss = sum(values) / len(values) / (a.learning_rate * a.epochs)
with open(os.environ["BATON_METRICS"], "a") as f:
    f.write(json.dumps({"loss": round(loss, 4), "rows": len(values)}) + "\n")
print(f"trained {a.epochs} epochs at lr {a.learning_rate} on {len(values)} rows: loss {loss:.4f}")
