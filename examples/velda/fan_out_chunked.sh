#!/bin/bash
# Up to 100 files per task: fewer, longer tasks.
baton submit bash -c "ls *.csv | xargs -L 100 baton submit -P cpu-8 python process_file.py"
