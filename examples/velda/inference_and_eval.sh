#!/bin/bash
DATA_FILE=$1

# Run inference
baton submit --wait -P gpu-1 --name inference ./run_inference.py $DATA_FILE

# Evaluate the inference result
baton submit --wait -P cpu-4 --after-success inference ./evaluate_inference.py $DATA_FILE
