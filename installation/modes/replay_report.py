"""What a replay leaves beside its video: what drove the picture, and a summary.

``out.mp4`` gets ``out.features.csv`` (every feature and control, one row per frame),
``out.drivers.png`` (controls and stream health over time) and ``out.summary.json``
(duration, frames, stream status changes, warnings, the flash check when one ran, and per
stream what was measured: nominal and measured sample rate, samples, gaps, and the fraction
of the time in each status and each reason).
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from installation.features.sampling import SampleClock
from installation.messages import Chunk, Status
from installation.pipeline import Step


@dataclass(frozen=True)
class StatusChange:
    """A stream's health changed at engine time ``t``."""

    t: float
    stream: str
    status: str
    reason: str


def reason_kind(reason: str) -> str:
    """A reason without its numbers, so "no beat for 4 s" and "... 5 s" count as one."""
    return re.sub(r"\d+(\.\d+)?(e[-+]?\d+)?", "N", reason)


@dataclass
class StreamTally:
    """What one stream delivered over a replay, measured the way the extractors measure it."""

    clock: SampleClock = field(default_factory=SampleClock)
    nominal: float = 0.0
    samples: int = 0
    first: float = float("nan")
    last: float = float("nan")
    frames: int = 0
    status: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)

    def add_chunk(self, chunk: Chunk) -> None:
        self.nominal = float(chunk.info.nominal_srate)
        if not chunk.n:
            return
        ts = np.asarray(chunk.timestamps, dtype=np.float64)
        self.samples += chunk.n
        fin = ts[np.isfinite(ts)]
        if fin.size:
            self.first = float(fin[0]) if np.isnan(self.first) else self.first
            self.last = float(fin[-1])
        if self.nominal > 0:
            for _ in self.clock.segments(ts, np.zeros(ts.size)):
                pass

    def summary(self) -> dict[str, Any]:
        span = self.last - self.first
        if self.nominal > 0:
            measured = self.clock.fs
        else:  # irregular (markers, RR): the mean rate
            measured = (self.samples - 1) / span if self.samples > 1 and span > 0 else 0.0
        n = max(1, self.frames)
        return {
            "nominal_rate_hz": self.nominal,
            "measured_rate_hz": round(float(measured), 4),
            "samples": self.samples,
            "gaps": self.clock.gaps if self.nominal > 0 else None,
            "status_fraction": {k: round(v / n, 4) for k, v in sorted(self.status.items())},
            "reason_fraction": {k: round(v / n, 4) for k, v in self.reasons.most_common()},
        }


@dataclass
class ReplayReport:
    """Collects one row per :class:`Step`; pass it as ``replay(..., on_step=report)``."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    changes: list[StatusChange] = field(default_factory=list)
    streams: dict[str, StreamTally] = field(default_factory=dict)
    _columns: dict[str, None] = field(default_factory=dict)
    _last_status: dict[str, tuple[Status, str]] = field(default_factory=dict)

    def __call__(self, step: Step) -> None:
        row: dict[str, Any] = {"frame": step.frame.index, "t": round(step.frame.t, 6)}
        for key, chunk in step.chunks.items():
            self.streams.setdefault(key, StreamTally()).add_chunk(chunk)
        for key, features in step.features.items():
            row[f"{key}.status"] = features.status.value
            for name, value in features.values.items():
                row[f"{key}.{name}"] = round(float(value), 6)
            self._note_status(step.frame.t, key, features.status, features.reason)
            tally = self.streams.setdefault(key, StreamTally())
            tally.frames += 1
            tally.status[features.status.value] += 1
            tally.reasons[reason_kind(features.reason)] += 1
        for name, value in step.controls.values.items():
            row[f"control.{name}"] = round(float(value), 6)
        for column in row:
            self._columns.setdefault(column, None)
        self.rows.append(row)

    def _note_status(self, t: float, key: str, status: Status, reason: str) -> None:
        last = self._last_status.get(key)
        if last is None or last[0] is not status:
            self.changes.append(StatusChange(round(t, 6), key, status.value, reason))
        self._last_status[key] = (status, reason)

    def write(self, video: Path, summary: Mapping[str, Any]) -> list[Path]:
        """Write the CSV, plot and JSON beside ``video``; returns their paths."""
        base = video.with_suffix("") if video.suffix else video / "replay"
        paths = [base.with_suffix(".features.csv"), base.with_suffix(".summary.json"),
                 base.with_suffix(".drivers.png")]
        with paths[0].open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(self._columns), restval="")
            writer.writeheader()
            writer.writerows(self.rows)
        document = dict(summary)
        document["streams"] = {key: tally.summary() for key, tally in self.streams.items()}
        document["status_changes"] = [change.__dict__ for change in self.changes]
        paths[1].write_text(json.dumps(document, indent=2, default=str) + "\n")
        self._plot(paths[2])
        return paths

    def _plot(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")  # headless: no display needed, nothing global beyond this
        import matplotlib.pyplot as plt

        t = [row["t"] for row in self.rows]
        controls = [c for c in self._columns if c.startswith("control.")]
        streams = sorted({c.split(".")[0] for c in self._columns if c.endswith(".status")})
        fig, axes = plt.subplots(
            len(controls) + 1, 1, figsize=(10, 1.6 * (len(controls) + 1)), sharex=True,
            squeeze=False,
        )
        for ax, column in zip(axes[:, 0], controls, strict=False):
            ax.plot(t, [row.get(column, float("nan")) for row in self.rows], lw=0.9)
            ax.set_ylabel(column.removeprefix("control."), rotation=0, ha="right")
            ax.grid(alpha=0.3)
        status_ax = axes[-1, 0]
        levels = {s.value: i for i, s in enumerate(Status)}
        for offset, key in enumerate(streams):
            values = [levels.get(row.get(f"{key}.status", ""), float("nan")) for row in self.rows]
            status_ax.step(t, [v + 0.08 * offset for v in values], where="post", label=key)
        status_ax.set_yticks(list(levels.values()), list(levels))
        status_ax.set_ylabel("streams", rotation=0, ha="right")
        status_ax.legend(loc="upper right", fontsize="small")
        status_ax.set_xlabel("time (s)")
        fig.suptitle("What drove the picture")
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
