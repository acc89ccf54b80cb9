#!/usr/bin/env python3
"""Generate the fake sensor captures in data/ (run once; the outputs are committed).

    python3 make_data.py            # rewrites data/*.raw and data/*.ref.ppm

The "sensor": 64x48 Bayer RGGB, 16-bit little-endian words holding 12-bit values, no header,
black level 64 DN, white level 4095 DN, read noise + shot noise. Everything is seeded, so
the files are byte-for-byte reproducible.

- DL50.raw, DL55.raw, DL65.raw: a grey chart (4x3 patches, the top-left one black) shot
  under daylight illuminants of 5000 K, 5500 K and 6500 K. They are what `calibrate` learns from.
- test_1.raw (6000 K, varied colours) and test_2.raw (4400 K, mostly green foliage, where
  plain grey-world white balance goes wrong), each with test_N.ref.ppm: the true scene as
  an 8-bit gamma-2.2 RGB image at the half resolution the algo outputs. `evaluate` scores
  the algo against it (PSNR).
"""
import math
import os
import random
import struct

W, H = 64, 48  # raw (Bayer) size; the demosaiced image is W/2 x H/2
BLACK, WHITE = 64, 4095
EXPOSURE = 0.8  # fraction of the range a 100% green-channel reflectance reaches
READ_NOISE = 3.0  # DN
SHOT = 0.25  # DN per DN of signal (variance)
ZONES = (4, 3)
HERE = os.path.dirname(os.path.abspath(__file__))


def sensor_response(cct):
    """Raw R/G and B/G ratios of a neutral surface under a daylight illuminant of `cct` kelvin.

    Roughly linear in mired with a little curvature, as real sensors are.
    """
    d = 1e6 / cct - 153.85
    return 0.50 + 0.00154 * d + 0.000004 * d * d, 0.667 - 0.0024 * d


def render(scene, cct, seed, name):
    """scene: H/2 rows of W/2 (r, g, b) reflectances. Writes data/NAME.raw."""
    rng = random.Random(seed)
    rr, rb = sensor_response(cct)
    words = []
    for y in range(H):
        for x in range(W):
            refl = scene[y // 2][x // 2]
            if y % 2 == 0 and x % 2 == 0:
                s = refl[0] * rr
            elif y % 2 == 1 and x % 2 == 1:
                s = refl[2] * rb
            else:
                s = refl[1]
            signal = EXPOSURE * s * (WHITE - BLACK)
            noise = rng.gauss(0.0, math.sqrt(READ_NOISE**2 + SHOT * signal))
            words.append(max(0, min(WHITE, round(BLACK + signal + noise))))
    with open(os.path.join(HERE, "data", name + ".raw"), "wb") as f:
        f.write(struct.pack("<%dH" % len(words), *words))


def write_reference(scene, name):
    w, h = W // 2, H // 2
    px = bytearray()
    for row in scene:
        for refl in row:
            for c in refl:
                v = min(1.0, EXPOSURE * c)
                px.append(round(255 * v ** (1 / 2.2)))
    with open(os.path.join(HERE, "data", name + ".ref.ppm"), "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h) + bytes(px))


def patches(colours):
    """A W/2 x H/2 scene of ZONES patches with a faint texture so it is not perfectly flat."""
    w, h = W // 2, H // 2
    zw, zh = w // ZONES[0], h // ZONES[1]
    scene = []
    for y in range(h):
        row = []
        for x in range(w):
            base = colours[(y // zh) * ZONES[0] + (x // zw)]
            t = 1 + 0.04 * math.sin(x * 1.3) * math.cos(y * 0.9)
            row.append(tuple(min(1.0, c * t) for c in base))
        scene.append(row)
    return scene


def main():
    os.makedirs(os.path.join(HERE, "data"), exist_ok=True)
    greys = [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    chart = patches([(g, g, g) for g in greys])
    for i, cct in enumerate((5000, 5500, 6500)):
        render(chart, cct, seed=100 + i, name="DL%d" % (cct // 100))

    rng = random.Random(7)
    varied = [tuple(rng.uniform(0.05, 0.85) for _ in range(3)) for _ in range(12)]
    foliage = [(rng.uniform(0.05, 0.2), rng.uniform(0.35, 0.7), rng.uniform(0.03, 0.15)) for _ in range(9)]
    foliage += [(0.6, 0.6, 0.6), (0.75, 0.3, 0.2), (0.2, 0.3, 0.7)]
    for name, colours, cct, seed in (("test_1", varied, 6000, 201), ("test_2", foliage, 4400, 202)):
        scene = patches(colours)
        render(scene, cct, seed, name)
        write_reference(scene, name)


if __name__ == "__main__":
    main()
