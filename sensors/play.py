"""Replay an XDF or CSV recording as LSL outlets, in real time (or faster / slower).

``python -m sensors.play session.xdf --loop --speed 2 --start 30``

Every stream of the file gets an outlet with its original name, type, channel count, channel
format, channel labels (``desc/channels``), nominal rate and source_id; empty streams get an
outlet too. Sample ``i`` goes out when the wall clock reaches
``start_clock + (t_i - start) / speed`` and carries that instant as its LSL time stamp, so the
recording's own timing (jitter, gaps, irregular markers) is kept, and the schedule is computed
from target times rather than accumulated sleeps.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pylsl

from installation.errors import UserError
from installation.inputs.recording import RecordedStream, load_recording
from sensors.outlet import make_outlet, ticks

__all__ = ["build_parser", "main"]


@dataclass
class _Track:
    """One recorded stream being played."""

    stream: RecordedStream
    outlet: pylsl.StreamOutlet
    timestamps: np.ndarray  # recording time of each sample from --start on
    data: np.ndarray
    sent: int = 0


def _outlet_for(stream: RecordedStream, source_id: str) -> pylsl.StreamOutlet:
    info = stream.info
    labels = info.channel_labels or tuple(f"ch{i + 1}" for i in range(info.channel_count))
    outlet = make_outlet(
        info.name, info.type, labels, info.nominal_srate, source_id,
        channel_format=info.channel_format, extra={"player": "sensors.play"},
    )
    return outlet


def _source_id(stream: RecordedStream, index: int, prefix: str) -> str:
    if prefix:
        return f"{prefix}-{index}"
    return stream.info.source_id or f"play-{stream.info.name}-{index}"


def _push(track: _Track, until: int, stamps: np.ndarray) -> None:
    """Push samples ``sent..until`` with their play-time stamps."""
    if until <= track.sent:
        return
    rows = track.data[track.sent:until]
    ts = stamps[track.sent:until]
    if track.stream.info.is_numeric:
        track.outlet.push_chunk(np.ascontiguousarray(rows), ts.tolist())
    else:
        for row, t in zip(rows, ts, strict=True):
            track.outlet.push_sample([str(v) for v in row], float(t))
    track.sent = until


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sensors.play", description=__doc__.splitlines()[0])
    parser.add_argument("recording", help="XDF or CSV recording")
    parser.add_argument("--loop", action="store_true", help="start again at the end")
    parser.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1)")
    parser.add_argument("--start", type=float, default=0.0, help="start offset in seconds")
    parser.add_argument("--source-id", default="",
                        help="source_id prefix (PREFIX-N for stream N); default: the file's own")
    parser.add_argument("--wait-consumers", type=float, default=0.0, metavar="S",
                        help="wait up to S seconds for every outlet to have a consumer first")
    parser.add_argument("--linger", type=float, default=1.0, metavar="S",
                        help="keep the outlets open S seconds after the end (default 1)")
    parser.add_argument("--chunk-ms", type=float, default=20.0, help="push period (ms)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.speed > 0:
        parser.error("--speed must be positive")
    try:
        recording = load_recording(args.recording)
    except UserError as e:
        print(f"sensors.play: error: {e}", file=sys.stderr)
        return 2
    tracks = []
    for index, stream in enumerate(recording.streams):
        keep = stream.timestamps >= args.start
        tracks.append(_Track(
            stream, _outlet_for(stream, _source_id(stream, index, args.source_id)),
            stream.timestamps[keep], stream.data[keep],
        ))
    if args.wait_consumers > 0:
        for track in tracks:
            track.outlet.wait_for_consumers(args.wait_consumers)
    span = max(recording.duration - args.start, 1e-3)
    print(json.dumps({"streams": [
        {"name": t.stream.info.name, "type": t.stream.info.type, "n": int(t.timestamps.shape[0]),
         "source_id": t.outlet.get_info().source_id()} for t in tracks
    ]}), flush=True)
    try:
        while True:
            clock0 = pylsl.local_clock()
            stamps = [clock0 + (t.timestamps - args.start) / args.speed for t in tracks]
            for track in tracks:
                track.sent = 0
            end = clock0 + span / args.speed
            for now in ticks(args.chunk_ms / 1000.0, clock0):
                for track, ts in zip(tracks, stamps, strict=True):
                    _push(track, int(np.searchsorted(ts, now, side="right")), ts)
                if now >= end:
                    break
            if not args.loop:
                break
        # Let inlets drain before the outlets (and their connections) go away.
        time.sleep(args.linger)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
