"""Cleans every .csv file of the folder into work/processed/."""
import glob

from common import process

for path in sorted(glob.glob("*.csv")):
    process(path)
