#!/bin/bash

ls *.csv | xargs -I {} baton submit --wait -P cpu-8 python process_file.py {}
