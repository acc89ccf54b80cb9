#!/bin/bash
# A sub-pipeline per data file: each task runs inference_and_eval.sh, whose steps are its children.
baton submit bash -c "ls *.csv | xargs -I {} baton submit --name {} ./inference_and_eval.sh {}"
