"""The default piece, Pulse Garden (show.toml, shaders/garden.frag + shaders/pulse.frag): the
heartbeat flares it, calm and agitation look different, and it stays as it was."""

from __future__ import annotations

import os
from pathlib import Path

import moderngl
import numpy as np
import pytest

from installation.render.export import read_png, write_png
from installation.render.passes import Renderer
from installation.show import load_show, pass_specs

from .conftest import synthetic_image

REPO = Path(__file__).resolve().parents[2]
GOLDEN = os.path.join(os.path.dirname(__file__), "golden", "pulse_garden_96x54.png")
LUMA = np.array([0.2126, 0.7152, 0.0722])


def render_garden(ctx: moderngl.Context, controls: dict[str, float], frames: int = 40,
                  last: dict[str, float] | None = None, size: tuple[int, int] = (160, 90)
                  ) -> np.ndarray:
    """``frames`` frames of the garden growing under ``controls``; the last with ``last``."""
    show = load_show(REPO / "show.toml")
    gen_w, gen_h = show.generator.size
    with Renderer(ctx, pass_specs(show), size, show.generator.size) as renderer:
        renderer.upload(synthetic_image(gen_w, gen_h, seed=0.0, index=0))
        renderer.upload(synthetic_image(gen_w, gen_h, seed=1.0, index=1))
        for i in range(frames):
            values = last if (last is not None and i == frames - 1) else controls
            out = renderer.render(i / 30, 0.5, values, i).pixels
    return out


def luminance(pixels: np.ndarray) -> float:
    return float((pixels.astype(np.float64) @ LUMA).mean())


def test_the_felt_heartbeat_flares_the_garden(ctx: moderngl.Context) -> None:
    rest = {"pulse": 0.0, "calm": 0.5, "energy": 0.4}
    before = render_garden(ctx, rest)
    half = render_garden(ctx, rest, last={**rest, "pulse": 0.5})
    beat = render_garden(ctx, rest, last={**rest, "pulse": 1.0})
    assert luminance(before) < luminance(half) < luminance(beat)
    # The bar for a heartbeat one sees: at least a 25% swing in mean brightness.
    assert luminance(beat) / luminance(before) > 1.25
    assert np.abs(beat.astype(int) - before.astype(int)).mean() > 10


def test_calm_grows_cool_cells_and_agitation_hot_coral(ctx: moderngl.Context) -> None:
    calm = render_garden(ctx, {"pulse": 0.0, "calm": 1.0, "energy": 0.2}, frames=90)
    hot = render_garden(ctx, {"pulse": 0.0, "calm": 0.0, "energy": 0.8}, frames=90)
    calm_f, hot_f = calm.astype(float), hot.astype(float)
    # Blue minus red: positive when cool, negative when warm.
    assert (calm_f[..., 2] - calm_f[..., 0]).mean() > (hot_f[..., 2] - hot_f[..., 0]).mean() + 25
    # Coral covers more of the garden than the calm's separate cells do.
    assert luminance(hot) > luminance(calm)


def test_golden_image(ctx: moderngl.Context) -> None:
    out = render_garden(ctx, {"pulse": 0.6, "calm": 0.4, "energy": 0.5}, frames=30,
                        size=(96, 54))
    if os.environ.get("UPDATE_GOLDEN") == "1":
        write_png(GOLDEN, out)
        pytest.skip(f"wrote {GOLDEN}")
    golden = read_png(GOLDEN)
    diff = np.abs(out.astype(np.int16) - golden.astype(np.int16))
    assert diff.mean() < 2, f"mean abs diff {diff.mean():.2f}/255 (max {diff.max()})"
    assert np.percentile(diff, 99) < 24, f"99th percentile abs diff {np.percentile(diff, 99)}"
