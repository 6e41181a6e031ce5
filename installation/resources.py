"""Will a show fit this machine? Memory of the generator and the render targets, estimated.

``installation check`` passed shows that could not run: a 4096x4096 CPPN with ``hidden = 512``
asks torch for tens of GB in one layer, and every pass holds two RGBA16F targets at the output
size. This estimates both from the show alone (no torch, no GL), so ``check``, ``replay``,
``rehearse`` and ``gallery`` refuse such a show with one line naming the key, before a frame
is tried.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from installation.errors import ShowError
from installation.show import Show
from installation.tomlconfig import TomlLocator, format_path

__all__ = ["ResourceEstimate", "check_resources", "estimate_resources", "machine_memory"]

# The share of the machine's memory a show may plan for: torch, Python, the video encoder and
# the OS need the rest.
USABLE_SHARE = 0.5
_GB = 1024**3


@dataclass(frozen=True)
class ResourceEstimate:
    """Bytes a show needs at its peak, by part.

    Parameters
    ----------
    generator_bytes
        The generator's largest moment: for the CPPN, its widest activations over every pixel
        (two hidden-width tensors alive at once); for the other models, their output buffers.
    targets_bytes
        The renderer: two RGBA16F targets per pass at the output size, the two generated
        images (RGB8 with mipmaps) and the read-back frame.
    """

    generator_bytes: int
    targets_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.generator_bytes + self.targets_bytes

    def describe(self) -> str:
        return (f"generator {self.generator_bytes / 2**20:.0f} MB, render targets "
                f"{self.targets_bytes / 2**20:.0f} MB")


def estimate_resources(show: Show, size: tuple[int, int] | None = None,
                       buffers: int = 2) -> ResourceEstimate:
    """Estimate the memory ``show`` needs, rendered at ``size`` (default: ``output.size``)."""
    out_w, out_h = size or show.output.size
    gen_w, gen_h = show.generator.size
    pixels = gen_w * gen_h
    g = show.generator
    if g.model == "cppn":
        # float32 (pixels, hidden) activations: the input of a layer and its output.
        generator = pixels * g.hidden * 4 * 2 + pixels * 3 * 4
    else:
        generator = pixels * 3 * 4 * 4  # model output, float copy, clamp, uint8 staging
    generator += pixels * 3 * buffers  # the uint8 output buffers
    passes = len(show.passes)
    targets = (passes * 2 * out_w * out_h * 4 * 2  # RGBA16F ping-pong targets per pass
               + 2 * gen_w * gen_h * 3 * 4 // 3  # two generated images with mipmaps
               + 2 * out_w * out_h * 3)  # read-back and the frame handed on
    return ResourceEstimate(int(generator), int(targets))


def machine_memory() -> int:
    """This machine's physical memory in bytes (0 when the OS does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 0


def check_resources(show: Show, size: tuple[int, int] | None = None,
                    memory: int | None = None) -> ResourceEstimate:
    """Raise :class:`ShowError` when ``show`` cannot fit in this machine's memory.

    Parameters
    ----------
    show
        The loaded show.
    size
        The output size it will be rendered at (default: ``output.size``).
    memory
        The machine's memory in bytes (default: :func:`machine_memory`).

    Returns
    -------
    ResourceEstimate
        The estimate, for ``check`` to report.
    """
    found = estimate_resources(show, size)
    memory = machine_memory() if memory is None else memory
    if memory <= 0:
        return found
    usable = memory * USABLE_SHARE
    if found.total_bytes <= usable:
        return found
    if found.generator_bytes >= found.targets_bytes:
        key = ("generator", "size")
        g = show.generator
        what = (f"the {g.model} generator at {g.size[0]}x{g.size[1]}"
                + (f" with hidden = {g.hidden}" if g.model == "cppn" else ""))
    else:
        key = ("output", "size") if size is None else ("passes",)
        what = f"{len(show.passes)} passes at {(size or show.output.size)}"
    raise ShowError(
        f"{_where(show.path, key)}: {format_path(key)}: {what} needs about "
        f"{found.total_bytes / _GB:.1f} GB ({found.describe()}), more than "
        f"{USABLE_SHARE:.0%} of this machine's {memory / _GB:.1f} GB; make it smaller"
    )


def _where(path: Path, key: tuple[str, ...]) -> str:
    try:
        line = TomlLocator(path.read_text(encoding="utf-8")).line(key)
    except (OSError, UnicodeDecodeError):
        line = None
    return f"{path}:{line}" if line else str(path)
