#!/bin/bash

# Process every data file, one task each (process_all.sh submits them)
baton submit -P cpu-16 --name preprocess ./process_all.sh

# Train once every file is processed
baton submit -P gpu-1 --name train --after-success preprocess python train_model.py

# Validate the results once training is done
baton submit -P cpu-8 --name validate --after-success train python validate_job.py
