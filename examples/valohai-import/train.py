"""A stand-in training script: reads the dataset from /valohai/inputs/dataset/, writes a model."""
import argparse
import glob
import json
import os

p = argparse.ArgumentParser()
p.add_argument("--learning_rate", type=float, required=True)
p.add_argument("--epochs", type=int, required=True)
a = p.parse_args()
files = glob.glob(os.path.join(os.environ["VH_INPUTS_DIR"], "dataset", "*.csv"))
rows = sum(len(open(f).read().splitlines()) - 1 for f in files)
# A made-up accuracy that prefers learning rates near 0.01.
accuracy = round(1 - abs(a.learning_rate - 0.01) * 3 - 0.01 * a.epochs / 10, 4)
name = f"model-lr{a.learning_rate}.json"
with open(os.path.join(os.environ["VH_OUTPUTS_DIR"], name), "w") as f:
    json.dump({"learning_rate": a.learning_rate, "epochs": a.epochs, "rows": rows, "accuracy": accuracy}, f)
print(json.dumps({"accuracy": accuracy, "rows": rows}))  # Valohai metadata: one JSON object per line
