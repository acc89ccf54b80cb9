#!/bin/bash
# One task per .csv file, all of them children of one parent task (the bash -c).
baton submit bash -c "ls *.csv | xargs -I {} baton submit --name {} -P cpu-8 python process_file.py {}"
