"""Scores every model in /valohai/inputs/models/ and writes scores.json."""
import glob
import json
import os

scores = {}
for path in glob.glob(os.path.join(os.environ["VH_INPUTS_DIR"], "models", "**", "model-*.json"), recursive=True):
    model = json.load(open(path))
    scores[os.path.relpath(path, os.path.join(os.environ["VH_INPUTS_DIR"], "models"))] = model["accuracy"]
with open(os.path.join(os.environ["VH_OUTPUTS_DIR"], "scores.json"), "w") as f:
    json.dump(scores, f, indent=2)
print(json.dumps({"best_accuracy": max(scores.values()), "models": len(scores)}))
