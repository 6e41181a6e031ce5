"""One show across many machines, on Lab Streaming Layer: a sensing node and render nodes.

``installation sense SHOW`` runs the sensing half (:class:`~installation.sensing.Sensing`:
inputs, features, presence, visitor state, mapping) and the generator's *walk* (controls ->
latent), and publishes, once per frame, one sample of a ``Controls`` stream stamped with its
engine time (this machine's LSL clock). ``installation render SHOW --tile C,R/COLS,ROWS``
subscribes to that stream by its pinned ``source_id``, runs the generator's *model* on the
latent it received and the show's passes at the sample's own time stamp, and shows its tile
of the canvas. LSL carries the data and keeps the machines' clocks together
(``time_correction``); no transport of our own.

Where the generator runs (measured, BENCHMARKS.md "One show, many machines"): the walk is
stateful (it integrates the controls since the start), so it runs once, on the sensing node,
and every render node gets the same latent; the model is stateless, so each render node runs
it on that latent and gets the same image, bit for bit (same seed, same weights, same ops).
The latent costs ``latent_dim`` numbers per frame; the image itself would cost 256 x 144 x 3
bytes per image per node, about 330 times more, and render nodes have a GPU or CPU to spare
anyway. Image stages that keep state between images (a dream with feedback) would differ on
a node started later: a multi-machine show should not use them (docs/latency.md).

Stream layout (``Controls``, double64, irregular so that liblsl does not dejitter the time
stamps differently on each node; one sample per sensing frame): ``_t`` (the sensing node's
engine time: the show time every node renders, identical to the bit), ``_seq`` (frame index),
``_status`` (0 ok, 1 nobody here: idle), ``_image`` (generator image index), ``_image_t``
(engine time of that image), then the latent ``z0..`` and the previous image's latent
``prev_z0..`` (the renderer crossfades between the two: a node that missed a sample still
blends the same pair), then the controls in name order. A
``Features`` stream carries every feature value (``stream.feature``) and a status code per
stream (0 ok, 1 stale, 2 lost, 3 invalid).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from installation.messages import Controls, Features, Status
from installation.show import Show

__all__ = [
    "STATUS_CODES",
    "ControlsLayout",
    "RemoteControls",
    "TileSpec",
    "controls_source_id",
    "parse_tile",
]

STATUS_CODES = {Status.OK: 0.0, Status.STALE: 1.0, Status.LOST: 2.0, Status.INVALID: 3.0}
HEADER = ("_t", "_seq", "_status", "_image", "_image_t")


def controls_source_id(show: Show) -> str:
    """The ``source_id`` of a show's control stream: its title and a hash of its file, so a
    render node only ever follows the sensing node of the very same show."""
    slug = re.sub(r"[^a-z0-9]+", "-", show.meta.title.lower()).strip("-")[:40] or "show"
    digest = hashlib.sha1(show.path.read_bytes()).hexdigest()[:12]
    return f"installation-{slug}-{digest}"


def show_controls(show: Show) -> tuple[str, ...]:
    """The controls a show's mappings and ``[idle]`` produce, in name order."""
    names = {m.control for m in show.mappings} | set(show.idle.controls)
    return tuple(sorted(names))


@dataclass(frozen=True)
class ControlsLayout:
    """Channel layout of the ``Controls`` stream, derived from the show on both ends."""

    controls: tuple[str, ...]
    latent_dim: int

    @property
    def labels(self) -> tuple[str, ...]:
        z = tuple(f"z{i}" for i in range(self.latent_dim))
        return HEADER + z + tuple(f"prev_{name}" for name in z) + self.controls

    @property
    def channels(self) -> int:
        return len(HEADER) + 2 * self.latent_dim + len(self.controls)

    def pack(self, t: float, seq: int, status: float, image: int, image_t: float,
             z: np.ndarray, z_prev: np.ndarray, controls: Controls) -> list[float]:
        values = [t, float(seq), status, float(image), image_t, *map(float, z),
                  *map(float, z_prev)]
        return values + [controls.get(name) for name in self.controls]

    def unpack(self, sample: Sequence[float], stamp: float) -> RemoteSample:
        z0 = len(HEADER)
        p0 = z0 + self.latent_dim
        c0 = p0 + self.latent_dim
        t = float(sample[0])
        values = dict(zip(self.controls, map(float, sample[c0:]), strict=True))
        return RemoteSample(
            t=t, stamp=stamp, seq=int(sample[1]), idle=sample[2] != 0.0, image=int(sample[3]),
            image_t=float(sample[4]), z=np.asarray(sample[z0:p0], dtype=np.float32),
            z_prev=np.asarray(sample[p0:c0], dtype=np.float32),
            controls=Controls(t=t, values=values),
        )


@dataclass(frozen=True)
class RemoteSample:
    """One frame of the sensing node, as a render node receives it."""

    t: float  # the sensing node's engine time (show time: the same on every node)
    stamp: float  # the same moment on this machine's LSL clock (time_correction applied)
    seq: int
    idle: bool
    image: int
    image_t: float
    z: np.ndarray
    z_prev: np.ndarray  # the latent of the image before: a node that skipped it can crossfade
    controls: Controls


def feature_labels(features: Mapping[str, Features]) -> tuple[str, ...]:
    """Channel labels of the ``Features`` stream for these features."""
    labels = []
    for key in sorted(features):
        labels.append(f"{key}._status")
        labels.extend(f"{key}.{name}" for name in sorted(features[key].values))
    return tuple(labels)


@dataclass(frozen=True)
class TileSpec:
    """This node's part of the canvas: column ``col``, row ``row`` of ``cols`` x ``rows``,
    widened by ``overlap`` pixels on every inner edge (for a projector edge blend)."""

    col: int
    row: int
    cols: int
    rows: int
    overlap: int = 0

    def box(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """``(x0, y0, x1, y1)`` in canvas pixels (top row first) for a canvas of ``size``."""
        w, h = size
        x0, x1 = w * self.col // self.cols, w * (self.col + 1) // self.cols
        y0, y1 = h * self.row // self.rows, h * (self.row + 1) // self.rows
        o = self.overlap
        return max(x0 - o, 0), max(y0 - o, 0), min(x1 + o, w), min(y1 + o, h)


def parse_tile(text: str, overlap: int = 0) -> TileSpec:
    """``"COL,ROW/COLS,ROWS"`` (0-based), e.g. ``"1,0/3,1"``: the middle of three side by side."""
    m = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*/\s*(\d+)\s*,\s*(\d+)\s*", text)
    if not m:
        raise ValueError(f"tile must look like COL,ROW/COLS,ROWS (e.g. 1,0/3,1), got {text!r}")
    col, row, cols, rows = (int(v) for v in m.groups())
    if not (cols >= 1 and rows >= 1 and col < cols and row < rows):
        raise ValueError(f"tile {text!r}: need COL < COLS and ROW < ROWS, both counts >= 1")
    return TileSpec(col, row, cols, rows, overlap)


class RemoteControls:
    """The sensing node's ``Controls`` stream, pinned by ``source_id``; reading never blocks.

    Parameters
    ----------
    source_id
        Only a stream with exactly this source_id is followed (a stranger's is ignored).
    layout
        What the show says the stream carries; a stream with another channel count is
        refused with one logged line (a different show or version).
    lost_s
        No sample for this long: the sensing node is lost (the piece fades to idle).
    """

    def __init__(self, source_id: str, layout: ControlsLayout, lost_s: float = 1.0) -> None:
        from installation.inputs.lsl import LslInput  # liblsl only where it is used

        self.layout = layout
        self.lost_s = lost_s
        self.input = LslInput("controls", _Pins(source_id)).start()
        self._samples: list[RemoteSample] = []
        self._last_arrival = -math.inf

    def poll(self, now: float) -> list[RemoteSample]:
        """Samples that arrived since the last poll (oldest first)."""
        chunk = self.input.poll()
        out = []
        if chunk.n and chunk.data.shape[1] == self.layout.channels:
            for t, row in zip(chunk.timestamps, chunk.data, strict=True):
                out.append(self.layout.unpack(row, float(t)))
            self._last_arrival = now
        return out

    def lost(self, now: float) -> bool:
        return now - self._last_arrival > self.lost_s

    def close(self) -> None:
        self.input.close()


@dataclass(frozen=True)
class _Pins:
    source_id: str
    type: str = "Controls"
    name: str = ""
    hostname: str = ""
