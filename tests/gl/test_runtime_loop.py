"""The one loop, with real parts: a recording source, a real pipeline, real clocks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import moderngl
import pytest

from installation.clock import FixedStepClock, PlaybackClock
from installation.inputs.recording import RecordingSource, load_recording
from installation.messages import Chunk, Status
from installation.modes.replay import resolve_streams
from installation.pipeline import Pipeline, Step
from installation.runtime import Loop, SinkPart, run
from installation.show import load_show

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "installation" / "demo" / "demo_session.xdf"


class Collect(SinkPart):
    """Keeps what the loop hands over; optionally fails on one frame or holds."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.steps: list[Step] = []
        self.missed_frames: list[int] = []
        self.fail_at = fail_at
        self.held = False

    def show(self, step: Step, chunks: Mapping[str, Chunk]) -> None:
        if step.frame.index == self.fail_at:
            raise RuntimeError("a sink fault")
        self.steps.append(step)

    def missed(self, index: int) -> None:
        self.missed_frames.append(index)


@pytest.fixture
def parts(ctx: moderngl.Context):
    show = load_show(REPO / "show.toml")
    recording = load_recording(DEMO)
    pipeline = Pipeline(show, ctx, (32, 18), 10.0, device="cpu")
    yield pipeline, RecordingSource(recording, resolve_streams(show, recording))
    pipeline.release()


def test_run_makes_the_frames_on_the_fixed_step_clock(parts) -> None:
    pipeline, source = parts
    sink = Collect()
    made = run(pipeline, source, FixedStepClock(fps=10.0, start=8.0), sink, frames=5,
               warm_from=0.0)
    assert made == 5
    assert [s.frame.index for s in sink.steps] == [0, 1, 2, 3, 4]
    assert [s.frame.t for s in sink.steps] == [8.0, 8.1, 8.2, 8.3, 8.4]
    assert sink.steps[0].features["ecg"].status is Status.OK  # warmed up over 0..8 s


class Wall:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_seek_rewarms_the_features_so_the_visitor_is_there_at_once(parts) -> None:
    pipeline, source = parts
    wall = Wall()
    clock = PlaybackClock(duration=60.0, wall=wall)
    sink = Collect()
    loop = Loop(pipeline, source, clock, sink)
    loop.once()
    assert sink.steps[-1].mode == "idle"  # t = 0: nobody has arrived yet
    clock.seek(45.0)
    loop.once()
    state = sink.steps[-1].features["state"]
    # The warm-up ran over the history before 45 s: present and already calibrated.
    assert sink.steps[-1].mode == "visitor" and state.values["calibrated"] == 1.0
    wall.t += 0.1
    loop.once()
    assert sink.steps[-1].frame.t == pytest.approx(45.1)


def test_a_fault_ends_the_run_unless_a_fault_handler_keeps_it_going(parts) -> None:
    pipeline, source = parts
    with pytest.raises(RuntimeError, match="a sink fault"):
        run(pipeline, source, FixedStepClock(fps=10.0), Collect(fail_at=1), frames=3)
    faults: list[int] = []
    sink = Collect(fail_at=1)
    made = run(pipeline, source, FixedStepClock(fps=10.0, start=1.0), sink, frames=3,
               on_fault=lambda error, index: faults.append(index))
    assert made == 3 and faults == [1] and sink.missed_frames == [1]
    assert [s.frame.index for s in sink.steps] == [0, 2]


def test_a_held_sink_gets_no_new_frames_while_the_features_keep_up(parts) -> None:
    pipeline, source = parts
    sink = Collect()
    sink.held = True
    run(pipeline, source, FixedStepClock(fps=10.0), sink, frames=20)
    assert sink.steps == [] and sink.missed_frames == list(range(20))
    assert pipeline.extract({}, 2.0)["ecg"].t == pytest.approx(1.9)  # read meanwhile
