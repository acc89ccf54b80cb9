#!/usr/bin/env python3
"""Learn a sensor calibration from the algo's results on grey-chart captures.

    python3 calibration.py OUTPUT_DIR... [-o DIR]

Each OUTPUT_DIR is the output folder of one `images` task (it holds the algo's stats.json).
The chart is known: the top-left zone is black, the other zones are neutral grey. Capture
names say the illuminant (DL50 = daylight 5000 K). From them this script measures

- the black level (mean of the black zone) and the read noise (its spread),
- for each illuminant, the raw R/G and B/G of neutral grey,

and fits the illuminant locus r(m), b(m) as straight lines of the mired m = 1e6 / CCT.
Writes DIR/calibration.cde (JSON, an algo config layer: `./algo --config base --config
calibration.cde ...`). DIR defaults to $BATON_OUTPUT_DIR. Metrics: black_level, read_noise,
fit_rmse, illuminants.
"""
import argparse
import json
import math
import os
import re
import sys

BLACK_ZONE = 0
MIRED_MARGIN = 30  # how far outside the calibrated illuminants AWB may go


def fit_line(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - slope * mx, slope


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dirs", nargs="+")
    ap.add_argument("-o", "--output-dir", default=os.environ.get("BATON_OUTPUT_DIR") or "output")
    args = ap.parse_args()

    captures = []
    for d in args.dirs:
        with open(os.path.join(d, "stats.json")) as f:
            stats = json.load(f)
        m = re.match(r"DL(\d\d)", stats["input"])
        if not m:
            sys.exit("calibration: %s: %s is not a DLnn chart capture" % (d, stats["input"]))
        captures.append((int(m.group(1)) * 100, stats))
    if len(captures) < 2:
        sys.exit("calibration: need captures under at least two illuminants, got %d" % len(captures))
    captures.sort(key=lambda c: c[0])

    blacks = [z["mean"] for _, s in captures for z in s["zones"][BLACK_ZONE : BLACK_ZONE + 1]]
    black = sum(sum(m) / 3 for m in blacks) / len(blacks)
    read_noise = sum(s["zones"][BLACK_ZONE]["std_g"] for _, s in captures) / len(captures)

    mireds, rs, bs, table = [], [], [], []
    for cct, s in captures:
        wsum = rsum = bsum = 0.0
        for i, z in enumerate(s["zones"]):
            r, g, b = (v - black for v in z["mean"])
            if i == BLACK_ZONE or g < 20 * read_noise or z["mean"][1] > 0.95 * s["white_level"]:
                continue  # too dark to trust, or clipped
            wsum, rsum, bsum = wsum + g, rsum + r, bsum + b  # weight by signal
        r_g, b_g = rsum / wsum, bsum / wsum
        mireds.append(1e6 / cct)
        rs.append(r_g)
        bs.append(b_g)
        table.append({"input": s["input"], "cct": cct, "r_g": round(r_g, 5), "b_g": round(b_g, 5)})

    r_line, b_line = fit_line(mireds, rs), fit_line(mireds, bs)
    residuals = [
        (r - (r_line[0] + r_line[1] * m)) ** 2 + (b - (b_line[0] + b_line[1] * m)) ** 2 for m, r, b in zip(mireds, rs, bs)
    ]
    rmse = math.sqrt(sum(residuals) / len(residuals))

    cde = {
        "black_level": round(black, 3),
        "awb": {
            "r": [round(v, 7) for v in r_line],
            "b": [round(v, 7) for v in b_line],
            "mired_range": [round(min(mireds) - MIRED_MARGIN, 2), round(max(mireds) + MIRED_MARGIN, 2)],
        },
        "calibrated_from": table,
    }
    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "calibration.cde"), "w") as f:
        json.dump(cde, f, indent=1)
        f.write("\n")

    metrics = {"black_level": round(black, 3), "read_noise": round(read_noise, 3), "fit_rmse": round(rmse, 6), "illuminants": len(captures)}
    print("calibration:", json.dumps(metrics))
    if os.environ.get("BATON_METRICS"):
        with open(os.environ["BATON_METRICS"], "a") as f:
            f.write(json.dumps(metrics) + "\n")


if __name__ == "__main__":
    main()
