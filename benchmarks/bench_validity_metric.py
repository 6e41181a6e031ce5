"""Is the shape-validity score reachable by a slightly soft or noisy generator?

    .venv/bin/python benchmarks/bench_validity_metric.py [--size 64] [--json out.json]

Scores the 240 procedural training shapes of ``bench_quality.py`` (``quality.make_shapes``,
seed 0) with ``quality.shape_validity`` as they are, Gaussian-blurred (sigma in pixels), with
seeded Gaussian pixel noise (std in 0..1 units), and both, and counts which of the score's
tests fail. A fair score passes the data and lightly degraded copies of it; one that fails
them would ask the generator for more than the data show.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from scipy import ndimage

from installation.generator.dataset import load_folder
from installation.generator.quality import make_shapes, shape_validity


def degrade(images: np.ndarray, blur: float, noise: float, seed: int = 0) -> np.ndarray:
    """Blur each image by ``blur`` px (per channel), then add ``noise`` std (0..1 units)."""
    x = images.astype(np.float64)
    if blur > 0:
        x = np.stack([ndimage.gaussian_filter(im, (blur, blur, 0)) for im in x])
    if noise > 0:
        x = x + np.random.default_rng(seed).normal(0.0, noise * 255.0, x.shape)
    return x.round().clip(0, 255).astype(np.uint8)


def failures(images: np.ndarray) -> tuple[float, dict[str, int]]:
    """The validity rate and, over the invalid images, how many fail each test."""
    counts: dict[str, int] = {}
    valid = 0
    for image in images:
        v = shape_validity(image)
        valid += v.valid
        if v.valid:
            continue
        if v.solidity == 0.0:  # refused before the moments: too little contrast or area
            counts["area_or_contrast"] = counts.get("area_or_contrast", 0) + 1
            continue
        tests = {"components": v.components >= 0.95, "solidity": v.solidity >= 0.85,
                 "isotropy": v.isotropy >= 0.7, "invariant": 0.15 <= v.invariant <= 0.21,
                 "colour_spread": v.colour_spread <= 0.12}
        for name, ok in tests.items():
            counts[name] = counts.get(name, 0) + (not ok)
    return valid / len(images), {k: n for k, n in counts.items() if n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        make_shapes(Path(tmp), count=240, size=args.size, seed=0)
        images, _ = load_folder(Path(tmp), args.size)
    rows = []
    for blur, noise in [(0, 0), (0.5, 0), (1, 0), (1.5, 0), (2, 0), (3, 0), (0, 0.02),
                        (0, 0.05), (0, 0.1), (1, 0.05), (2, 0.05)]:
        rate, fails = failures(degrade(images, blur, noise))
        rows.append({"blur_px": blur, "noise_std": noise, "validity": round(rate, 3),
                     "failed_tests": fails})
        print(json.dumps(rows[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
