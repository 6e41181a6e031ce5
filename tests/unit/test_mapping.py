"""Mapping: range, curve, invert, smoothing independent of frame rate, fade to idle."""

from __future__ import annotations

import math

import pytest

from installation.mapping import Mapper, shape
from installation.messages import Features, Status
from installation.show import MappingSpec


def features(value: float, status: Status = Status.OK) -> dict[str, Features]:
    return {"ecg": Features(stream="ecg", t=0.0, values={"heart_rate": value}, status=status)}


def spec(**kw) -> MappingSpec:
    base = dict(control="energy", feature="ecg.heart_rate", in_range=(60.0, 120.0))
    return MappingSpec(**(base | kw))


def test_shape_clips_to_the_range_and_applies_curve_and_invert() -> None:
    assert shape(spec(), 30.0) == 0.0
    assert shape(spec(), 200.0) == 1.0
    assert shape(spec(), 90.0) == pytest.approx(0.5)
    assert shape(spec(curve="ease_in"), 90.0) == pytest.approx(0.25)
    assert shape(spec(invert=True), 75.0) == pytest.approx(0.75)
    assert shape(spec(out_range=(-1.0, 1.0)), 120.0) == 1.0


def test_unsmoothed_mapping_follows_the_feature_at_once() -> None:
    mapper = Mapper([spec()])
    assert mapper(features(120.0), 0.0).get("energy") == 1.0
    assert mapper(features(60.0), 0.1).get("energy") == 0.0


def test_smoothing_reaches_63_percent_after_one_time_constant_at_any_frame_rate() -> None:
    results = []
    for fps in (10, 60):
        mapper = Mapper([spec(smoothing_s=1.0, idle=0.0)])
        mapper(features(60.0), 0.0)
        value = 0.0
        for i in range(1, fps + 1):
            value = mapper(features(120.0), i / fps).get("energy")
        results.append(value)
    assert results[0] == pytest.approx(1 - math.exp(-1), abs=1e-9)
    assert results[1] == pytest.approx(results[0], abs=1e-9)


@pytest.mark.parametrize("status", [Status.LOST, Status.INVALID])
def test_untrusted_feature_fades_to_idle(status: Status) -> None:
    mapper = Mapper([spec(idle=0.25, idle_fade_s=0.5)])
    assert mapper(features(120.0), 0.0).get("energy") == 1.0
    value = 1.0
    for i in range(1, 41):
        value = mapper(features(120.0, status), i / 10).get("energy")
    assert value == pytest.approx(0.25, abs=1e-3)


def test_missing_stream_gives_the_idle_value_not_nan() -> None:
    controls = Mapper([spec(idle=0.4)])({}, 0.0)
    assert controls.get("energy") == 0.4


def test_stale_feature_holds_the_last_control_value() -> None:
    mapper = Mapper([spec(idle=0.0, idle_fade_s=0.5)])
    mapper(features(90.0), 0.0)
    for i in range(1, 20):
        value = mapper(features(120.0, Status.STALE), i / 10).get("energy")
    assert value == pytest.approx(0.5)
