"""The default piece, shaders/pulse.frag: it responds to the body, and stays as it was."""

from __future__ import annotations

import os

import moderngl
import numpy as np
import pytest

from installation.render.export import read_png, write_png
from installation.render.passes import PassSpec, Renderer

from .conftest import SHADERS, synthetic_image

GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "pulse_64x36.png")
PULSE = PassSpec(
    SHADERS / "pulse.frag", {"u_pulse": "pulse", "u_calm": "calm", "u_energy": "energy"}
)


def render_pulse(
    ctx: moderngl.Context, controls: dict[str, float], size: tuple[int, int] = (160, 90)
) -> np.ndarray:
    with Renderer(ctx, [PULSE], size, (64, 64)) as renderer:
        renderer.upload(synthetic_image(64, 64, seed=0.0, index=0))
        renderer.upload(synthetic_image(64, 64, seed=1.0, index=1))
        for i in range(3):
            out = renderer.render(i / 30, 0.5 + 0.25 * i, controls, i).pixels
    return out


def luminance(pixels: np.ndarray) -> float:
    return float((pixels.astype(np.float64) @ [0.2126, 0.7152, 0.0722]).mean())


def test_pulse_raises_brightness(ctx: moderngl.Context) -> None:
    rest = luminance(render_pulse(ctx, {"pulse": 0.0, "calm": 0.5, "energy": 0.3}))
    half = luminance(render_pulse(ctx, {"pulse": 0.5, "calm": 0.5, "energy": 0.3}))
    beat = luminance(render_pulse(ctx, {"pulse": 1.0, "calm": 0.5, "energy": 0.3}))
    assert rest < half < beat
    assert 1.08 < beat / rest < 1.30


def test_calm_is_cool_and_agitation_is_warm(ctx: moderngl.Context) -> None:
    calm = render_pulse(ctx, {"pulse": 0.0, "calm": 1.0, "energy": 0.0}).astype(float)
    warm = render_pulse(ctx, {"pulse": 0.0, "calm": 0.0, "energy": 1.0}).astype(float)
    # Blue minus red across the image: positive when cool, negative when warm.
    assert (calm[..., 2] - calm[..., 0]).mean() > (warm[..., 2] - warm[..., 0]).mean() + 20


def test_golden_image(ctx: moderngl.Context) -> None:
    out = render_pulse(ctx, {"pulse": 0.6, "calm": 0.4, "energy": 0.5}, size=(64, 36))
    if os.environ.get("UPDATE_GOLDEN") == "1":
        write_png(GOLDEN, out)
        pytest.skip(f"wrote {GOLDEN}")
    golden = read_png(GOLDEN)
    diff = np.abs(out.astype(np.int16) - golden.astype(np.int16))
    assert diff.mean() < 2, f"mean abs diff {diff.mean():.2f}/255 (max {diff.max()})"
    assert diff.max() < 24, f"max abs diff {diff.max()}/255"
