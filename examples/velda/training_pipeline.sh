#!/bin/bash

# Clean the data files
baton submit -P cpu-16 --name process python process_data.py

# Train the model once processing is done
baton submit -P gpu-1 --name train --after-success process python train_model.py

# Evaluate the model once training is done
baton submit -P cpu-8 --name eval --after-success train python evaluate_model.py
