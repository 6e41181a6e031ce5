"""The quality figures: the shape score recognises shapes and refuses mush, the ratios mean
what they say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from installation.generator.quality import make_shapes, quality, shape_validity


@pytest.fixture(scope="module")
def shapes(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    paths = make_shapes(tmp_path_factory.mktemp("shapes"), count=60, size=64, seed=0)
    return np.stack([np.array(Image.open(p)) for p in paths])


def test_make_shapes_is_seeded(tmp_path: Path) -> None:
    a = make_shapes(tmp_path / "a", count=3, size=32, seed=4)
    b = make_shapes(tmp_path / "b", count=3, size=32, seed=4)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_the_shape_score_accepts_the_procedural_shapes(shapes: np.ndarray) -> None:
    assert np.mean([shape_validity(im).valid for im in shapes]) >= 0.95


def test_the_shape_score_refuses_noise_blends_and_empty_images(shapes: np.ndarray) -> None:
    rng = np.random.default_rng(0)
    noise = rng.uniform(0, 255, (20, 64, 64, 3)).astype(np.uint8)
    two = ((shapes[:30].astype(int) + shapes[30:60].astype(int)) // 2).astype(np.uint8)
    flat = np.full((5, 64, 64, 3), 90, np.uint8)
    assert not any(shape_validity(im).valid for im in noise)
    assert not any(shape_validity(im).valid for im in flat)
    assert np.mean([shape_validity(im).valid for im in two]) < 0.3


def test_the_ratios_mean_what_they_say(shapes: np.ndarray) -> None:
    half, other = shapes[:30], shapes[30:]
    fresh = quality(half, other, shapes=True)
    assert fresh.sharpness_ratio == pytest.approx(1.0, abs=0.3)
    assert fresh.diversity_ratio == pytest.approx(1.0, abs=0.2)
    assert fresh.memorisation_ratio > 0.7 and fresh.copies == 0.0  # new images, not copies
    copies = quality(other[:10], other, shapes=True)
    assert copies.copies == 1.0 and copies.memorisation_ratio < 1e-3
    blur = np.stack([ndimage.gaussian_filter(im.astype(float), (2, 2, 0)) for im in half])
    blurred = quality(blur.astype(np.uint8), other)
    assert blurred.sharpness_ratio < 0.2 and blurred.validity is None
    collapsed = quality(np.repeat(half[:1], 30, axis=0), other)
    assert collapsed.diversity_ratio < 1e-3


def test_the_shape_score_names_each_kind_so_a_one_shape_generator_shows(
        shapes: np.ndarray) -> None:
    # make_shapes cycles circle, square, triangle: the kinds must come back in that order.
    from installation.generator.quality import SHAPES
    kinds = [shape_validity(im).kind for im in shapes]
    expected = [SHAPES[i % 3] for i in range(len(shapes))]
    assert np.mean([k == e for k, e in zip(kinds, expected, strict=True)]) >= 0.95
    discs = quality(shapes[0::3], shapes, shapes=True)  # circles only
    assert discs.validity_by_kind["circle"] == pytest.approx(discs.validity)
    assert discs.validity_by_kind["square"] == discs.validity_by_kind["triangle"] == 0.0
