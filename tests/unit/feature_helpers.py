"""Helpers shared by the feature-extractor tests: feed arrays as LSL-like chunks."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from installation.messages import Chunk, Event, Features, Status, StreamInfo


def feed(
    extractor: Callable[[Chunk], Features],
    ts: np.ndarray,
    x: np.ndarray,
    step: int,
    kind: str = "X",
    srate: float = 0.0,
) -> tuple[list[Features], list[Event]]:
    """Feed ``x`` (n,) or (n, ch) in chunks of ``step`` samples; return features and events."""
    x2 = x[:, None] if x.ndim == 1 else x
    info = StreamInfo(name=kind.lower(), type=kind, channel_count=x2.shape[1], nominal_srate=srate)
    feats: list[Features] = []
    events: list[Event] = []
    for i in range(0, ts.size, step):
        f = extractor(Chunk(info, ts[i : i + step], x2[i : i + step], float(ts[i : i + step][-1])))
        feats.append(f)
        events.extend(f.events)
    return feats, events


def series(feats: list[Features], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(t, value, ok)`` arrays of one feature."""
    t = np.array([f.t for f in feats])
    v = np.array([f.values[key] for f in feats])
    ok = np.array([f.status is Status.OK for f in feats])
    return t, v, ok
