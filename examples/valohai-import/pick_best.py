"""Copies the model with the best score to best-model.json, the file the release keeps."""
import glob
import json
import os
import shutil

inputs = os.environ["VH_INPUTS_DIR"]
scores = json.load(open(glob.glob(os.path.join(inputs, "scores", "**", "scores.json"), recursive=True)[0]))
best = max(scores, key=scores.get)
shutil.copy(os.path.join(inputs, "models", best), os.path.join(os.environ["VH_OUTPUTS_DIR"], "best-model.json"))
print(json.dumps({"best_accuracy": scores[best]}))
print(f"best: {best}")
