"""Write blobs.csv, the data set of blobs.toml: 240 points in the plane, three classes of 80.

Class c's points are N(m_c, 0.6^2 I) with the means m_c at radius 1.5 and angles 90 + 120 c
degrees: the classes overlap a little, so a small network learns them to ~90 % accuracy.
Rerun to regenerate the file exactly (numpy's default generator, seed 0):

    python docs/examples/make_blobs.py
"""

from pathlib import Path

import numpy as np

N_PER_CLASS, RADIUS, SPREAD = 80, 1.5, 0.6


def main() -> None:
    rng = np.random.default_rng(0)
    angles = np.deg2rad(90 + 120 * np.arange(3))
    means = RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    labels = np.repeat(np.arange(3), N_PER_CLASS)
    points = means[labels] + SPREAD * rng.standard_normal((len(labels), 2))
    order = rng.permutation(len(labels))  # classes interleaved: no part of the file is one class
    lines = ["x1,x2,label"] + [f"{a:.4f},{b:.4f},{c}" for (a, b), c in zip(points[order], labels[order])]
    (Path(__file__).parent / "blobs.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
