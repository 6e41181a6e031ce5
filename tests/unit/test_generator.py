"""The CPPN generator: deterministic, shaped for GL upload, and moved by the controls."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from installation.generator.device import pick_device
from installation.generator.latent_walk import LatentWalk, slerp
from installation.generator.stage import CppnGenerator
from installation.messages import Controls
from installation.show import GeneratorSpec

SPEC = GeneratorSpec(size=(64, 36), seed=3)


def controls(t: float = 1.0, **values: float) -> Controls:
    return Controls(t=t, values=values)


def test_same_seed_and_controls_give_identical_images() -> None:
    a = CppnGenerator(SPEC, device="cpu")(controls(calm=0.3))
    b = CppnGenerator(SPEC, device="cpu")(controls(calm=0.3))
    assert np.array_equal(a.pixels, b.pixels)


def test_image_is_contiguous_uint8_rgb_of_the_configured_size() -> None:
    image = CppnGenerator(SPEC, device="cpu")(controls())
    assert image.pixels.shape == (36, 64, 3)
    assert image.pixels.dtype == np.uint8
    assert image.pixels.flags.c_contiguous


def test_image_is_rich_not_a_flat_field() -> None:
    pixels = CppnGenerator(SPEC, device="cpu")(controls()).pixels.astype(float)
    assert pixels.std(axis=(0, 1)).mean() > 20  # real structure in every channel
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 500


def test_mood_control_changes_the_image_measurably() -> None:
    calm = CppnGenerator(SPEC, device="cpu")(controls(calm=1.0)).pixels.astype(float)
    restless = CppnGenerator(SPEC, device="cpu")(controls(calm=0.0)).pixels.astype(float)
    assert np.abs(calm - restless).mean() > 15


def test_different_seeds_give_different_pieces() -> None:
    a = CppnGenerator(SPEC, device="cpu")(controls()).pixels.astype(float)
    b = CppnGenerator(GeneratorSpec(size=(64, 36), seed=4), device="cpu")(controls()).pixels
    assert np.abs(a - b).mean() > 15


def test_latent_walk_never_moves_more_than_max_step() -> None:
    walk = LatentWalk(GeneratorSpec(max_step=0.1))
    previous = walk(controls(calm=0.0))
    for i, calm in enumerate([1.0, 0.0, 1.0, 1.0]):
        z = walk(controls(t=i, calm=calm, pulse=1.0))
        assert float((z - previous).norm()) <= 0.1 + 1e-6
        previous = z


def test_walk_drifts_by_itself_with_constant_controls() -> None:
    walk = LatentWalk(GeneratorSpec())
    a = walk(controls(t=0.0))
    b = walk(controls(t=5.0))
    assert float((a - b).norm()) > 0.01


def test_slerp_ends_at_its_anchors() -> None:
    a, b = torch.randn(8), torch.randn(8)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)


def test_device_falls_back_to_cpu_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device().type == "cpu"
    assert pick_device("cpu").type == "cpu"
