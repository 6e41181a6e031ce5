"""The one loop every mode runs: ``run(pipeline, source, clock, sink)``.

```
            ┌──────── clock.now() ────────┐
            ▼                             │
 source.read(t) ─► pipeline.step(chunks, t, index) ─► sink.show(step) ─► clock.tick()
   (recording,        (extract -> map -> generate        (encoder, rehearsal     (fixed step,
    live LSL)          -> render -> flash limiter)        window, kiosk window)   playback, LSL)
```

A mode is a choice of the three ends (see ``docs/runtime.md``):

=========  ====================  ======================  ===========================
mode       source                clock                   sink
=========  ====================  ======================  ===========================
replay     ``RecordingSource``   ``FixedStepClock``      encoder (MP4 / PNG)
rehearsal  recording or live     ``PlaybackClock`` /     window + HUD (+ OSC out)
                                 ``LslClock``
gallery    ``LslSource``         ``LslClock``            kiosk window, status, visits
=========  ====================  ======================  ===========================

Features need history: :func:`warm_up` runs them, unrendered, over the part of a recording
before the first frame, and again after the clock jumps (a rehearsal seek or loop), for as
long as the pipeline says the features and the visitor's baseline need (``history_s``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from installation.clock import Clock
from installation.inputs import Source
from installation.messages import Chunk, Controls, Features
from installation.pipeline_latency import PipelineLatency

__all__ = ["Deadline", "Loop", "Sink", "SinkPart", "Sinks", "run", "warm_up"]

WARMUP_STEP_S = 0.1  # feature warm-up granularity


class _Step(Protocol):
    @property
    def features(self) -> Mapping[str, Features]: ...


class Stepper(Protocol):
    """The part of :class:`~installation.pipeline.Pipeline` the loop uses."""

    def step(self, chunks: Mapping[str, Chunk], t: float, index: int,
             adjust: Callable[[Controls], Controls] | None = None) -> _Step: ...

    def extract(self, chunks: Mapping[str, Chunk], t: float) -> Mapping[str, Features]: ...

    def reset_sensing(self) -> None: ...

    @property
    def history_s(self) -> float: ...


class Sink(Protocol):
    """Where the frames go."""

    @property
    def held(self) -> bool:
        """True while a frozen picture is shown: the loop then only keeps the features up
        to date (``pipeline.extract``) and calls :meth:`missed`."""
        ...

    def running(self) -> bool:
        """False ends the run (window closed, quit, a stop signal, time is up)."""
        ...

    def show(self, step: _Step, chunks: Mapping[str, Chunk]) -> None:
        """Take one new step (write, present, record, publish)."""
        ...

    def missed(self, index: int) -> None:
        """No new step for frame ``index`` (a fault, a frozen picture): keep what is shown."""
        ...


class SinkPart:
    """A sink that does nothing: parts override only what they need."""

    held = False

    def running(self) -> bool:
        return True

    def show(self, step: _Step, chunks: Mapping[str, Chunk]) -> None:
        pass

    def missed(self, index: int) -> None:
        pass

    def close(self) -> None:
        """Finish (the mode calls it when the run ends, however it ends)."""


class Sinks(SinkPart):
    """Several sinks as one: each sees every frame, in order; any of them may stop the run."""

    def __init__(self, *parts: Sink) -> None:
        self.parts = parts

    @property
    def held(self) -> bool:  # type: ignore[override]
        return any(part.held for part in self.parts)

    def running(self) -> bool:
        return all(part.running() for part in self.parts)

    def show(self, step: _Step, chunks: Mapping[str, Chunk]) -> None:
        for part in self.parts:
            part.show(step, chunks)

    def missed(self, index: int) -> None:
        for part in self.parts:
            part.missed(index)

    def close(self) -> None:
        """Close the parts, last first; each is closed even if another raised."""
        with contextlib.ExitStack() as stack:
            for part in self.parts:
                close = getattr(part, "close", None)
                if close is not None:
                    stack.callback(close)


@dataclass
class Deadline(SinkPart):
    """Ends the run ``seconds`` of wall time after the first frame (tests, soak runs)."""

    seconds: float | None
    wall: Callable[[], float] = time.perf_counter
    _began: float | None = field(default=None, init=False)

    def running(self) -> bool:
        if self.seconds is None:
            return True
        now = self.wall()
        if self._began is None:
            self._began = now
        return now - self._began < self.seconds


def warm_up(pipeline: Stepper, source: Source, start: float, end: float,
            step: float = WARMUP_STEP_S) -> None:
    """Run the features over the source from ``start`` up to (not including) ``end``,
    unrendered, so they have their history when the first frame at ``end`` is made."""
    t = start
    while t + step < end:
        t += step
        pipeline.extract(source.read(t), t)


class Loop:
    """One frame at a time: :meth:`once`; :func:`run` calls it with the clock's pacing.

    Parameters
    ----------
    pipeline, source, clock, sink
        The four parts (see the module docstring).
    adjust
        Changes the controls after mapping (rehearsal: OSC holds and nudges).
    on_fault
        Called with an exception a frame raised, after which the sink keeps what it shows
        and the loop goes on (gallery). ``None``: the exception ends the run.
    latency
        Told, after each new frame was shown, how much engine time passed since the frame's
        own time (render + present: the pipeline latency ``at_s`` mappings subtract). Live
        modes only: a fixed-step clock's ``now()`` does not move within a frame.
    """

    def __init__(self, pipeline: Stepper, source: Source, clock: Clock, sink: Sink, *,
                 adjust: Callable[[Controls], Controls] | None = None,
                 on_fault: Callable[[Exception, int], None] | None = None,
                 latency: PipelineLatency | None = None) -> None:
        self.pipeline, self.source, self.clock, self.sink = pipeline, source, clock, sink
        self.adjust = adjust
        self.on_fault = on_fault
        self.latency = latency
        self.index = 0
        self._jumps = clock.jumps

    def once(self) -> bool:
        """Make (or, while held, skip) one frame; ``False`` once the sink stops the run."""
        if not self.sink.running():
            return False
        t = self.clock.now()
        if self.clock.jumps != self._jumps:
            # A seek or a loop: the features restart from a warm-up before t, long enough to
            # re-learn the visitor's baseline too, so the piece shows what that moment of the
            # recording really drove.
            self._jumps = self.clock.jumps
            self.pipeline.reset_sensing()
            start = max(0.0, t - self.pipeline.history_s)
            self.source.seek(start)
            warm_up(self.pipeline, self.source, start, t)
        try:
            chunks = self.source.read(t)
            if self.sink.held:
                self.pipeline.extract(chunks, t)
                self.sink.missed(self.index)
            else:
                step = self.pipeline.step(chunks, t, self.index, adjust=self.adjust)
                self.sink.show(step, chunks)
                self._measure(t)
        except Exception as error:
            if self.on_fault is None:
                raise
            self.on_fault(error, self.index)
            self.sink.missed(self.index)
        self.index += 1
        return True

    def _measure(self, t: float) -> None:
        if self.latency is None:
            return
        now = self.clock.now()
        if self.clock.jumps == self._jumps:  # a seek or loop during the present means nothing
            self.latency.add(now - t)

    def run(self, frames: int | None = None) -> int:
        """Frames until the sink stops, or ``frames`` were made, paced by the clock."""
        while (frames is None or self.index < frames) and self.once():
            self.clock.tick()
        return self.index


def run(pipeline: Stepper, source: Source, clock: Clock, sink: Sink, *,
        frames: int | None = None, warm_from: float | None = None,
        adjust: Callable[[Controls], Controls] | None = None,
        on_fault: Callable[[Exception, int], None] | None = None,
        latency: PipelineLatency | None = None) -> int:
    """Run frames until the sink stops, or ``frames`` were made; returns the frame count.

    ``warm_from``: run the features over the source from this engine time up to the clock's
    first frame before rendering (replay with ``--start``). ``latency``: measured after each
    frame shown (live modes, see :class:`Loop`).
    """
    if warm_from is not None:
        warm_up(pipeline, source, warm_from, clock.now())
    return Loop(pipeline, source, clock, sink, adjust=adjust, on_fault=on_fault,
                latency=latency).run(frames)
