#!/usr/bin/env bash
# A linear training pipeline, Velda style: each step is submitted with its dependencies.
# Run it:  npx baton submit --wait -- ./train-pipeline.sh
set -euo pipefail
cd "$(dirname "$0")"
baton() { node ../../bin/baton.js "$@"; }

baton submit -n prepare -- python3 steps.py prepare
baton submit -n train --after-success prepare -N 2 -- python3 steps.py train
baton submit -n evaluate --after-success train -- python3 steps.py evaluate
# Runs only if training failed; skipped otherwise.
baton submit -n alert --after-fail train -- echo "training failed: paging the on-call"
# Runs whatever happened to evaluate.
baton submit -n cleanup --after evaluate -- echo "cleaning up scratch space"
