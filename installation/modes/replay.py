"""Headless replay: a recording and a show in, a video out, on a fixed-step clock.

The same recording and show give byte-identical frames: time comes from the frame index,
every stage runs in lock-step on one thread, and every random choice is seeded.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from tqdm import tqdm

from installation.clock import FixedStepClock
from installation.errors import RecordingError, UserError
from installation.first_frame import start_probe
from installation.inputs.recording import RecordedStream, Recording, RecordingSource, load_recording
from installation.messages import Chunk
from installation.pipeline import Pipeline, Step
from installation.render.export import BackgroundWriter, PngSequenceWriter, VideoWriter
from installation.render.gl_context import create_offscreen_context
from installation.runtime import SinkPart, run
from installation.show import Show


@dataclass(frozen=True)
class ReplayOptions:
    """How to replay: output size and rate, and which part of the recording."""

    size: tuple[int, int]
    fps: float
    start: float = 0.0
    duration: float | None = None
    progress: bool = True
    device: str | None = None
    # x264 speed/size trade-off: "veryfast" keeps a 2-core replay above real time at 640x360
    # for files ~1.5x larger than "medium"; archive renders can ask for a slower preset.
    preset: str = "veryfast"


@dataclass(frozen=True)
class ReplaySummary:
    """What a replay did."""

    output: Path
    frames: int
    duration: float
    wall_s: float
    warnings: tuple[str, ...]


def resolve_streams(show: Show, recording: Recording) -> dict[str, RecordedStream]:
    """Match the show's streams to the recording's; a missing required stream is an error."""
    found: dict[str, RecordedStream] = {}
    for key, spec in show.streams.items():
        try:
            stream = recording.find_stream(spec.type, spec.name or None)
        except RecordingError as error:
            if spec.required:
                raise RecordingError(f"{error} (needed by {show.path} streams.{key})") from None
            continue
        if stream.info.channel_count < 1:
            # The recording's header is damaged, not the show: say so, naming both.
            raise RecordingError(
                f"{recording.path}: stream {stream.info.name!r} declares channel_count = "
                f"{stream.info.channel_count} (a damaged header; needed by {show.path} "
                f"streams.{key})"
            )
        if stream.info.is_numeric and spec.channel >= stream.info.channel_count:
            raise UserError(
                f"{show.path}: streams.{key}.channel: {spec.channel} is out of range for "
                f"stream {stream.info.name!r} in {recording.path} "
                f"({stream.info.channel_count} channels)"
            )
        found[key] = stream
    return found


def replay(
    recording_path: str | Path,
    show: Show,
    output: str | Path,
    options: ReplayOptions,
    on_step: Callable[[Step], None] | None = None,
) -> ReplaySummary:
    """Render ``recording_path`` through ``show`` into ``output`` (``.mp4`` or a folder).

    Parameters
    ----------
    recording_path
        An XDF or CSV recording.
    show
        The loaded show.
    output
        ``*.mp4`` for H.264 video; any other path is a folder for a PNG sequence.
    options
        Size, frame rate, start offset and duration.
    on_step
        Called with every :class:`Step` (frames, controls, features), e.g. by tests.

    Raises
    ------
    UserError
        Bad recording, missing stream, unwritable output, a shader that fails, or a pass
        that does not finish its probe frame within ``[output] probe_limit_s``.
    """
    began = time.perf_counter()
    # The probe's child draws while the recording loads; its verdict comes before our own GL
    # context, since a draw that never returns would hang this process for good.
    with start_probe(show, options.size) as probe:
        recording = load_recording(recording_path)
        source = RecordingSource(recording, resolve_streams(show, recording))
        start, n_frames = _frame_range(recording, options)
        output = Path(output)
        probe.require()
    ctx = create_offscreen_context()
    try:
        # No pass budget in replay: it is measured in wall time, and a loaded machine must
        # never turn a slow pass off and so make two replays of one recording differ.
        pipeline = Pipeline(show, ctx, options.size, options.fps, device=options.device,
                            pass_budget=False)
        try:
            with _open_writer(output, options) as writer, tqdm(
                total=n_frames, unit="frame", disable=not options.progress, desc="replay",
                dynamic_ncols=True, leave=True,
            ) as bar:
                # Features need history: they run over the recording up to the start first.
                run(pipeline, source, FixedStepClock(fps=options.fps, start=start),
                    EncoderSink(writer, bar, on_step), frames=n_frames, warm_from=0.0)
        finally:
            pipeline.release()
    finally:
        ctx.release()
    return ReplaySummary(
        output=output, frames=n_frames, duration=n_frames / options.fps,
        wall_s=time.perf_counter() - began, warnings=recording.warnings,
    )


class EncoderSink(SinkPart):
    """Replay's sink: every frame to the writer (and to ``on_step``), one progress tick."""

    def __init__(self, writer: BackgroundWriter, bar: tqdm,
                 on_step: Callable[[Step], None] | None) -> None:
        self.writer, self.bar, self.on_step = writer, bar, on_step

    def show(self, step: Step, chunks: Mapping[str, Chunk]) -> None:
        self.writer.write(step.frame)
        if self.on_step is not None:
            self.on_step(step)
        self.bar.update(1)


def _frame_range(recording: Recording, options: ReplayOptions) -> tuple[float, int]:
    """The first frame's time and the number of frames to render."""
    if not math.isfinite(options.start):
        raise UserError(f"--start must be a finite number of seconds, got {options.start}")
    start = max(0.0, options.start)
    if not any(s.n for s in recording.streams):
        raise UserError(f"{recording.path}: nothing to replay (no stream has samples)")
    if not math.isfinite(recording.duration) or recording.duration <= 0:
        raise UserError(f"{recording.path}: nothing to replay (the recording lasts 0 s)")
    if start > 0 and start >= recording.duration:
        raise UserError(
            f"{recording.path}: --start {start:g} s is past the end ({recording.duration:.1f} s)"
        )
    duration = recording.duration - start
    if options.duration is not None:
        duration = min(duration, options.duration)
    return start, max(1, int(duration * options.fps + 1e-9))


def _open_writer(output: Path, options: ReplayOptions) -> BackgroundWriter:
    try:
        if output.suffix.lower() == ".mp4":
            output.parent.mkdir(parents=True, exist_ok=True)
            fps = Fraction(options.fps).limit_denominator(1001)
            return BackgroundWriter(VideoWriter(output, options.size, fps, preset=options.preset))
        output.mkdir(parents=True, exist_ok=True)
        return BackgroundWriter(PngSequenceWriter(output))
    except OSError as error:
        raise UserError(f"{output}: cannot write output ({error.strerror or error})") from None
