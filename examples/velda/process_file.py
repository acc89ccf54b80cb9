"""Cleans the .csv files named on the command line (one, or a chunk of them) into work/processed/."""
import sys

from common import process

for path in sys.argv[1:]:
    process(path)
