"""Presence and the visitor's state inside the pipeline, on real ECG: the same code the gallery,
rehearsal and replay run. Also: a live generator thread that dies is restarted."""

from __future__ import annotations

import time
from pathlib import Path

import moderngl
import numpy as np
import pytest

from installation.generation import LiveGeneration
from installation.messages import Chunk, Status, StreamInfo
from installation.pipeline import Pipeline
from installation.presence import IDLE, VISITOR
from installation.show import load_show

REPO = Path(__file__).resolve().parents[2]
ECG_CSV = REPO / "tests" / "data" / "mitdb100_MLII_0-60s.csv"
ECG = StreamInfo("MIT-BIH 100", "ECG", 1, 360.0)
FS = 360.0


def _ecg_with_a_gap(off: tuple[float, float]) -> np.ndarray:
    # Real ECG; during ``off`` the electrode is off (a flat line): one visitor leaves, the
    # next one arrives when the signal returns.
    signal = np.loadtxt(ECG_CSV, comments="#", skiprows=3)
    signal[int(off[0] * FS):int(off[1] * FS)] = signal[int(off[0] * FS)]
    return signal


def _beats() -> np.ndarray:
    """The annotated R-peaks of the excerpt (tests/data)."""
    path = REPO / "tests" / "data" / "mitdb100_rpeaks_0-60s.csv"
    return np.loadtxt(path, delimiter=",", skiprows=1, usecols=1)


def _feed(pipeline: Pipeline, signal: np.ndarray, until: float, step: float = 0.1) -> list:
    out = []
    for k in range(1, int(until / step) + 1):
        t = k * step
        a, b = round((t - step) * FS), round(t * FS)
        chunk = Chunk(ECG, np.arange(a, b) / FS, signal[a:b, None].astype(np.float64), t)
        features = pipeline.extract({"ecg": chunk}, t)
        out.append((t, pipeline.presence.mode, features["state"]))
    return out


@pytest.fixture
def pipeline(ctx: moderngl.Context) -> Pipeline:
    show = load_show(REPO / "show.toml")
    p = Pipeline(show, ctx, (64, 36), 30.0, device="cpu")
    yield p
    p.release()


def test_a_visitor_arrives_with_their_heartbeat_and_is_met_at_the_neutral_state(
    pipeline: Pipeline,
) -> None:
    out = _feed(pipeline, _ecg_with_a_gap((59.0, 60.0)), until=40.0)
    arrival = next(t for t, mode, _ in out if mode == VISITOR)
    # The ECG flows from t=0. Warm-up is no visitor (a strap on a chair warms up too, issue
    # 15): the detector learns its levels (1.5 s), then also finds the beats of that window;
    # the quality judge trusts the third beat in a row that matches (the first has no shape
    # before it: the fourth beat). arrive_s (0.5 s) counts from the run's first beat
    # (Features.ok_since): the run is the debounce, and the visit starts at trust.
    beats = _beats()
    assert beats[2] < arrival <= beats[3] + 0.1 + 0.3
    before = [s for t, _, s in out if t < arrival]
    assert all(s.status is Status.LOST and s.reason == "nobody here" for s in before)
    calibrating = [s for t, _, s in out if arrival + 3.0 < t < arrival + 14.0]
    assert all(s.status is Status.OK and s.reason == "calibrating" for s in calibrating)
    assert all(s.values["calm"] == 0.5 and s.values["arousal"] == 0.5 for s in calibrating)
    done = out[-1][2]
    assert done.status is Status.OK and done.reason == "" and done.values["calibrated"] == 1.0
    assert done.values["z_heart_rate"] != 0.0


def test_an_electrode_off_ends_the_visit_and_the_next_visitor_is_calibrated_afresh(
    pipeline: Pipeline,
) -> None:
    out = _feed(pipeline, _ecg_with_a_gap((25.0, 35.0)), until=45.0)
    features_at_45 = pipeline.extract({}, 45.0)
    modes = {round(t, 1): mode for t, mode, _ in out}
    assert modes[24.0] == VISITOR
    assert modes[30.0] == IDLE  # flat line: invalid, then gone after leave_s
    assert modes[40.0] == VISITOR
    assert pipeline.presence.visits == 2
    state = {round(t, 1): s for t, _, s in out}
    assert state[24.0].values["z_heart_rate"] != 0.0  # the first visitor's HR is calibrated
    assert state[30.0].status is Status.LOST
    # The second visitor's baseline starts from nothing, not from the first visitor's.
    assert 0.0 < state[40.0].values["calibrated"] < 0.5
    assert state[40.0].reason == "calibrating" and state[40.0].values["calm"] == 0.5
    assert state[40.0].values["z_heart_rate"] == 0.0
    # Fresh extractors too: the second visitor's beats are counted from their own first one,
    # not on top of the 24 s of the first visitor's (about 30 beats).
    assert features_at_45["ecg"].values["beat_count"] < 15


def test_the_idle_piece_turns_to_an_arriving_visitor_within_two_seconds(
    pipeline: Pipeline,
) -> None:
    signal = _ecg_with_a_gap((5.0, 30.0))  # a visitor leaves at 5 s, the next comes at 30 s
    weights = []
    step = 0.1
    for k in range(1, 400):
        t = k * step
        a, b = round((t - step) * FS), round(t * FS)
        chunk = Chunk(ECG, np.arange(a, b) / FS, signal[a:b, None].astype(np.float64), t)
        pipeline.mapper(pipeline.extract({"ecg": chunk}, t), t)
        weights.append((t, pipeline.presence.mode, pipeline.mapper.idle_weight))
    idle_at_arrival = [w for t, mode, w in weights if 29.0 < t < 30.0]
    assert min(idle_at_arrival) > 0.8  # empty room: the piece had gone idle
    arrival = next(t for t, mode, _ in weights if t > 30.0 and mode == VISITOR)
    # Fresh extractors (the last visitor left): levels learnt (1.5 s), an entry run of three
    # alike beats of consistent size (arrive_s counted from its first). Here the real beats'
    # size swings by more than the entry run allows (0.48 -> 0.36 -> 0.46 at 32.7-34.3 s:
    # 0.78x the run's median; breathing), so trust comes with the sixth beat, not the third
    # (docs/signal-quality.md, "Limits, known").
    sixth = _beats()[_beats() > 30.0 + 1.5][5]
    assert arrival <= sixth + 0.1 + 0.3
    after = {round(t, 1): w for t, _, w in weights}
    assert after[round(arrival + 2.0, 1)] < 0.05  # turned to the visitor within 2 s


def test_a_dead_generator_thread_is_restarted_and_images_flow_again(ctx: moderngl.Context) -> None:
    show = load_show(REPO / "show.toml")
    pipeline = Pipeline(show, ctx, (64, 36), 30.0, device="cpu", generation=LiveGeneration)
    original = pipeline.generator.generate
    calls = {"n": 0}

    def fails_on_the_third_image(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return original(*args, **kwargs)

    # Fault injection into the real generator: the worker thread dies on the third image.
    pipeline.generator.generate = fails_on_the_third_image
    try:
        images_after_restart = 0
        start = time.monotonic()
        index = 0
        while time.monotonic() - start < 4.0 and images_after_restart < 3:
            step = pipeline.step({}, time.monotonic(), index)
            index += 1
            if pipeline.generator_restarts and step.generated is not None:
                images_after_restart += 1
            time.sleep(1 / 30)
        assert pipeline.generator_restarts == 1
        assert images_after_restart >= 3
    finally:
        pipeline.release()


def test_a_show_reload_keeps_the_visitor_and_their_baseline_unless_visitor_settings_change(
    ctx: moderngl.Context, pipeline: Pipeline,
) -> None:
    import dataclasses

    signal = _ecg_with_a_gap((59.0, 60.0))
    _feed(pipeline, signal, until=30.0)
    assert pipeline.presence.mode == VISITOR
    # An artist edits a mapping: same streams, same [visitor]: the visit goes on, calibrated.
    edited = dataclasses.replace(pipeline.show, mappings=pipeline.show.mappings[:1])
    reloaded = Pipeline(edited, ctx, (64, 36), 30.0, device="cpu")
    retuned = Pipeline(dataclasses.replace(
        edited, visitor=dataclasses.replace(edited.visitor, baseline_s=5.0)), ctx, (64, 36), 30.0,
        device="cpu")
    try:
        reloaded.adopt_sensing(pipeline)
        retuned.adopt_sensing(pipeline)
        a, b = round(30.0 * FS), round(30.1 * FS)
        chunk = Chunk(ECG, np.arange(a, b) / FS, signal[a:b, None].astype(np.float64), 30.1)
        kept = reloaded.extract({"ecg": chunk}, 30.1)["state"]
        assert reloaded.presence.mode == VISITOR and kept.values["z_heart_rate"] != 0.0
        # New calibration settings: a new visit, calibrated with them.
        assert retuned.extract({"ecg": chunk}, 30.1)["state"].status is Status.LOST
        assert retuned.presence.mode == IDLE
    finally:
        reloaded.release()
        retuned.release()
