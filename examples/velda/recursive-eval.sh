#!/usr/bin/env bash
# Recursive sub-pipelines: one per-file inference-and-evaluate sub-pipeline per CSV file,
# each a task whose own children are its steps (see `baton ls RUN --tree`).
# Run it:  npx baton submit --wait -- ./recursive-eval.sh
set -euo pipefail
cd "$(dirname "$0")"
for f in data/*.csv; do
  node ../../bin/baton.js submit -n "eval-$(basename "$f" .csv)" -- ./per-file.sh "$f"
done
