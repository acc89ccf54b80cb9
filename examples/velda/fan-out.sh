#!/usr/bin/env bash
# Fan out over every CSV file with xargs, then aggregate once all of them are done.
# `process-all` submits one task per file; as a sibling with children, it counts as done only
# when its whole subtree is, so `aggregate` waits for every file.
# Run it:  npx baton submit --wait -- ./fan-out.sh
set -euo pipefail
cd "$(dirname "$0")"
baton() { node ../../bin/baton.js "$@"; }

baton submit -n process-all -- 'ls data | xargs -I {} node ../../bin/baton.js submit -n process-{} -- python3 steps.py process data/{}'
baton submit -n aggregate --after-success process-all -- python3 steps.py aggregate
