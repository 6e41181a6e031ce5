"""Drive the real demo recording through the real extractors, state and mapper, frame by frame.

Also a script (``python tests/integration/_session_helpers.py SHOW_DIR [--realtime]
[--fsize-limit BYTES]``): it records a visitor session with :class:`SessionRecorder` and prints
one JSON line per written frame (``{"t": ...}``) after the write, so a test can kill it and
know what must be in the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # run as a script
    sys.path.insert(0, str(REPO_ROOT))

from installation.features.registry import make_feature_extractor  # noqa: E402
from installation.features.state import StateSettings, VisitorState  # noqa: E402
from installation.inputs.recording import RecordingSource, load_recording  # noqa: E402
from installation.mapping import Mapper  # noqa: E402
from installation.messages import Chunk, Controls, Features  # noqa: E402
from installation.show import STATE_STREAM, RecordSpec, Show, load_show  # noqa: E402

DEMO = REPO_ROOT / "installation" / "demo" / "demo_session.xdf"


@dataclass(frozen=True)
class DemoStep:
    t: float
    chunks: dict[str, Chunk]
    features: dict[str, Features]
    controls: Controls


def recording_show(folder: Path, record: RecordSpec | None = None) -> Show:
    """The default show, as if its show.toml were in ``folder``, recording to ``recs/``."""
    show = load_show(REPO_ROOT / "show.toml")
    record = record or RecordSpec(enabled=True, dir=Path("recs"))
    return dataclasses.replace(show, path=folder / "show.toml", record=record)


def demo_steps(
    show: Show, fps: float = 30.0, duration: float = 60.0, markers: bool = True
) -> Iterator[DemoStep]:
    """Every frame of the demo recording as the gallery loop would see it.

    The show's streams come under their keys; with ``markers`` the recording's string marker
    stream comes too, under ``markers`` (chunks only, it has no extractor).
    """
    recording = load_recording(DEMO)
    streams = {key: recording.find_stream(spec.type) for key, spec in show.streams.items()}
    if markers:
        streams["markers"] = recording.find_stream("Markers")
    source = RecordingSource(recording, list(streams.values()))
    extractors = {key: make_feature_extractor(spec.type, key, spec.channel)
                  for key, spec in show.streams.items()}
    state = VisitorState(StateSettings(sources=show.state_sources()))
    mapper = Mapper(show.mappings, idle=show.idle)
    latest: dict[str, Features] = {}
    for index in range(1, int(duration * fps) + 1):
        t = index / fps
        chunks = dict(zip(streams, source.read_until(t), strict=True))
        for key, extractor in extractors.items():
            latest[key] = extractor(chunks[key])
        features = dict(latest)
        features[STATE_STREAM] = state(features, t)
        yield DemoStep(t, chunks, features, mapper(features, t))


def _main() -> None:
    from installation.record.session import SessionRecorder

    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--realtime", action="store_true")
    parser.add_argument("--fsize-limit", type=int, default=0)
    args = parser.parse_args()
    if args.fsize_limit:
        # A file size limit makes writes fail with EFBIG, as a full disk fails them with
        # ENOSPC; SIGXFSZ would kill us instead, so it is ignored.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.fsize_limit, resource.RLIM_INFINITY))
    show = recording_show(args.folder)
    recorder = SessionRecorder.for_show(show, started=time.time())
    assert recorder is not None
    print(json.dumps({"path": str(recorder.path)}), flush=True)
    begin = time.monotonic()
    for step in demo_steps(show):
        if args.realtime:
            time.sleep(max(0.0, begin + step.t - time.monotonic()))
        recorder.write_step(step.chunks, step.features, step.controls)
        print(json.dumps({"t": step.t, "active": recorder.active}), flush=True)
    recorder.close()
    print(json.dumps({"closed": True}), flush=True)


if __name__ == "__main__":
    _main()
