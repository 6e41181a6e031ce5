"""One offscreen EGL context for the whole GL test session (as in moderngl's tests)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import moderngl
import numpy as np
import pytest

from installation.messages import GeneratedImage
from installation.render.gl_context import OffscreenContextError, create_offscreen_context

REPO = Path(__file__).resolve().parents[2]
SHADERS = REPO / "shaders"


@pytest.fixture(scope="session")
def ctx() -> Iterator[moderngl.Context]:
    try:
        context = create_offscreen_context()
    except OffscreenContextError as exc:
        # .ci/run sets INSTALLATION_REQUIRE_GL=1, and any CI sets CI, so that a broken EGL
        # set-up fails the GL tests there instead of skipping them all.
        if os.environ.get("INSTALLATION_REQUIRE_GL") == "1" or os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    yield context
    context.release()


def synthetic_image(width: int, height: int, seed: float = 0.0, index: int = 0) -> GeneratedImage:
    """A colourful, deterministic stand-in for a generated image."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    x /= width
    y /= height
    rgb = np.stack(
        [
            0.5 + 0.5 * np.sin(6 * x + seed),
            0.5 + 0.5 * np.sin(5 * y + 2 * x + 1.3 * seed),
            0.5 + 0.5 * np.cos(12 * x * y + seed),
        ],
        axis=-1,
    )
    disc = np.hypot((x - 0.6) * width / height, y - 0.35) < 0.18
    rgb[disc] = (1.0, 0.85, 0.3)
    return GeneratedImage(t=0.0, index=index, pixels=(rgb * 255).round().astype(np.uint8))


def solid_image(width: int, height: int, rgb: tuple[int, int, int]) -> GeneratedImage:
    pixels = np.empty((height, width, 3), dtype=np.uint8)
    pixels[:] = rgb
    return GeneratedImage(t=0.0, index=0, pixels=pixels)
