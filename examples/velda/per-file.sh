#!/usr/bin/env bash
# A per-file sub-pipeline: inference, then evaluation once inference succeeded.
# Submitted once per file by recursive-eval.sh; its tasks become children of this script's task.
set -euo pipefail
cd "$(dirname "$0")"
file=$1
name=$(basename "$file" .csv)
node ../../bin/baton.js submit -n "infer" -- python3 steps.py infer "$file"
node ../../bin/baton.js submit -n "score" --after-success infer -- python3 steps.py score "$file"
