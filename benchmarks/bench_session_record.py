"""Per-visitor session recording: cost of ``SessionRecorder.write_step`` per frame, file size.

    .venv/bin/python benchmarks/bench_session_record.py [--fps 30] [--repeats 5]

The bundled demo session (60 s: ECG 360 Hz, EEG 125 Hz, a marker stream) runs through the real
extractors, visitor state and mapper of the default show; the frames are computed first, then
only the recorder's work is timed (raw samples, three features streams, controls, boundaries,
one flush per chunk), into a temporary folder. Reports the median over ``--repeats`` runs of
the per-frame median and 99th percentile (wall clock), and the file size per minute.
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from installation.features.registry import make_feature_extractor
from installation.features.state import StateSettings, VisitorState
from installation.inputs.recording import RecordingSource, load_recording
from installation.mapping import Mapper
from installation.record.session import SessionRecorder
from installation.show import STATE_STREAM, RecordSpec, load_show

REPO = Path(__file__).resolve().parents[1]


def _frames(show, fps: float) -> list[tuple]:
    recording = load_recording(REPO / "installation" / "demo" / "demo_session.xdf")
    streams = {key: recording.find_stream(spec.type) for key, spec in show.streams.items()}
    streams["markers"] = recording.find_stream("Markers")
    source = RecordingSource(recording, list(streams.values()))
    extractors = {k: make_feature_extractor(s.type, k, s.channel) for k, s in show.streams.items()}
    state = VisitorState(StateSettings(sources=show.state_sources()))
    mapper = Mapper(show.mappings, idle=show.idle)
    frames = []
    for index in range(1, int(recording.duration * fps) + 1):
        t = index / fps
        chunks = dict(zip(streams, source.read_until(t), strict=True))
        features = {k: extractors[k](chunks[k]) for k in extractors}
        features[STATE_STREAM] = state(features, t)
        frames.append((chunks, features, mapper(features, t)))
    return frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        show = dataclasses.replace(
            load_show(REPO / "show.toml"), path=Path(folder) / "show.toml",
            record=RecordSpec(enabled=True, dir=Path("recs")),
        )
        frames = _frames(show, args.fps)
        medians, p99s, sizes = [], [], []
        for run in range(args.repeats):
            recorder = SessionRecorder.for_show(show, started=time.time() + run)
            assert recorder is not None
            costs = np.empty(len(frames))
            for i, (chunks, features, controls) in enumerate(frames):
                began = time.perf_counter()
                recorder.write_step(chunks, features, controls)
                costs[i] = time.perf_counter() - began
            recorder.close()
            medians.append(float(np.median(costs)) * 1e6)
            p99s.append(float(np.percentile(costs, 99)) * 1e6)
            sizes.append(recorder.path.stat().st_size / (len(frames) / args.fps / 60) / 1e6)
    print(f"machine: {platform.processor() or platform.machine()}, python "
          f"{platform.python_version()}; {len(frames)} frames at {args.fps:g} fps, "
          f"{args.repeats} runs (medians)")
    print(f"write_step per frame: median {statistics.median(medians):.0f} us, "
          f"p99 {statistics.median(p99s):.0f} us")
    print(f"file size: {statistics.median(sizes):.2f} MB per minute")


if __name__ == "__main__":
    main()
