"""The predicted beat and the pulse placed at_s after each R-peak, on annotated MIT-BIH 100."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from installation.errors import ShowError
from installation.features.beat_eval import replay_features, schedule, score
from installation.features.beat_timing import BeatPredictor
from installation.mapping import Mapper
from installation.messages import Features, Status
from installation.pulse_at import BeatPulse
from installation.show import MappingSpec, load_show

DATA = Path(__file__).resolve().parents[1] / "data"
FS = 360.0


def _annotated() -> tuple[np.ndarray, np.ndarray]:
    with (DATA / "mitdb100_rpeaks_0-60s.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    return np.array([float(r["time_s"]) for r in rows]), np.array([r["symbol"] for r in rows])


@pytest.fixture(scope="module")
def replay() -> list[Features]:
    """Cardiac features of the 60 s MIT-BIH 100 excerpt at every frame of a 30 fps replay."""
    x = np.loadtxt(DATA / "mitdb100_MLII_0-60s.csv", comments="#", skiprows=3)
    return replay_features(x, FS, fps=30.0)


# ------------------------------------------------------------------ the forecast
def test_forecast_of_the_next_annotated_beat_is_close_on_sinus_rhythm() -> None:
    beats, symbols = _annotated()
    p = BeatPredictor()
    errors = []
    for i, b in enumerate(beats):
        due = p.values(b, 0.8)["next_beat_in_s"] + b  # forecast made before the beat
        if i >= 4 and symbols[i - 2 : i + 1].tolist() == ["N"] * 3:
            errors.append(due - b)
        p.add_beat(b)
    assert np.median(np.abs(errors)) < 0.03
    assert np.percentile(np.abs(errors), 95) < 0.07


def test_confidence_collapses_after_an_ectopic_beat_and_recovers() -> None:
    beats, symbols = _annotated()
    k = int(np.flatnonzero(symbols == "A")[0])  # the atrial premature beat at 5.68 s
    p = BeatPredictor()
    conf = []
    for b in beats:
        p.add_beat(b)
        conf.append(p.confidence(b + 0.01))
    assert min(conf[k - 2 : k]) >= 0.5  # regular before it
    assert conf[k] < 0.5 and conf[k + 1] < 0.5  # early beat, then its compensatory pause
    assert conf[k + 8] >= 0.5  # regular again


def test_confidence_stays_low_on_an_irregular_rhythm() -> None:
    rng = np.random.default_rng(3)
    beats = np.cumsum(rng.uniform(0.45, 1.1, 80))  # AF-like: intervals without a pattern
    p = BeatPredictor()
    conf = []
    for b in beats:
        p.add_beat(b)
        conf.append(p.confidence(b + 0.01))
    assert np.mean(np.array(conf[10:]) >= 0.5) < 0.1


def test_confidence_drops_when_the_next_beat_is_overdue() -> None:
    p = BeatPredictor()
    for b in np.arange(0.0, 10.0, 0.8):
        p.add_beat(b)
    last = 9.6
    assert p.confidence(last + 0.7) > 0.9
    assert p.confidence(last + 0.8 + 0.41) == 0.0
    v = p.values(last + 0.9, 0.8)
    assert v["next_beat_in_s"] == pytest.approx(-0.1)
    assert v["beat_phase_pred"] < 1.0


def test_prediction_features_are_finite_before_any_beat() -> None:
    v = BeatPredictor().values(0.0, 0.857)
    assert v == {"next_beat_in_s": 0.857, "beat_phase_pred": 0.0, "beat_confidence": 0.0}


def test_ecg_features_carry_the_forecast_on_real_data(replay: list[Features]) -> None:
    ok = [f for f in replay if f.status is Status.OK and f.t > 10]
    conf = np.array([f.values["beat_confidence"] for f in ok])
    assert np.mean(conf >= 0.5) > 0.8  # sinus rhythm: mostly confident
    phase = np.array([f.values["beat_phase_pred"] for f in ok])
    assert phase.min() >= 0.0 and phase.max() < 1.0


# ------------------------------------------------------------------ pulse_at in replay
@pytest.mark.parametrize("at_s", [0.1, 0.23, 0.4])
def test_delayed_pulse_lands_within_a_frame_of_r_peak_plus_at_s(
    replay: list[Features], at_s: float
) -> None:
    beats, _ = _annotated()
    beats = beats[(beats > 10) & (beats < 59)]
    sc = score(schedule(replay, at_s), beats, at_s)
    assert sc.missed == 0 and sc.extra == 0
    assert sc.abs_percentile(95) <= 1 / 30  # one frame at 30 fps
    assert sc.fallback == 0


def test_pulse_at_zero_uses_the_forecast_and_detection_caps_it(replay: list[Features]) -> None:
    beats, _ = _annotated()
    beats = beats[(beats > 10) & (beats < 59)]
    fires = schedule(replay, 0.0)
    sc = score(fires, beats, 0.0)
    assert sc.missed == 0 and sc.extra == 0
    assert {f.how for f in fires} >= {"predicted"}
    # Forecasts can be early; late ones are cut short by the detection (< 2 frames).
    assert sc.errors.max() < 2 / 30
    assert sc.abs_percentile(50) < 0.03


def test_latency_is_subtracted_from_at_s(replay: list[Features]) -> None:
    beats, _ = _annotated()
    beats = beats[(beats > 10) & (beats < 59)]
    sc = score(schedule(replay, 0.3, latency_s=0.1), beats, 0.2)  # seen 0.1 s after start
    assert sc.missed == 0 and sc.abs_percentile(95) <= 1 / 30


def test_low_confidence_falls_back_to_the_detected_beat() -> None:
    pulse = BeatPulse(at_s=0.0)
    values = {"beat_count": 5.0, "rr": 0.8, "beat_confidence": 0.1, "next_beat_in_s": 0.5}
    for i in range(5):  # learn the detection latency: beats known 30 ms late
        pulse(values | {"since_beat_s": 0.03}, 0.8 * i + 0.03)
    assert pulse.predicting
    # Until three beats have measured how late they come, a delay line; then forecasts lead,
    # and without confidence the pulse falls back to the detected beat.
    assert [f.how for f in pulse.fires] == ["delay"] * 2 + ["fallback"] * 3
    assert pulse(values | {"since_beat_s": 0.03}, 4.03) == 1.0


def test_mapping_pulse_at_drives_a_control_that_fades_when_the_stream_is_lost(
    replay: list[Features],
) -> None:
    spec = MappingSpec(control="pulse", feature="ecg.pulse_at", at_s=0.23, idle=0.0,
                       idle_fade_s=0.1)
    mapper = Mapper([spec])
    values = [mapper({"ecg": f}, f.t).get("pulse") for f in replay]
    assert max(values) == pytest.approx(1.0)
    assert sum(math.isclose(v, 1.0) for v in values) == len(mapper.pulses()["pulse"].fires)
    lost = Features("ecg", replay[-1].t + 0.1, {}, Status.LOST, "gone")
    for k in range(30):
        out = mapper({"ecg": lost}, lost.t + k / 30).get("pulse")
    assert out < 0.01


@pytest.mark.parametrize("value", ["0.5", "-0.1"])
def test_at_s_outside_its_range_is_an_error_naming_the_key(tmp_path: Path, value: str) -> None:
    (tmp_path / "a.frag").write_text("// shader\n")
    path = tmp_path / "show.toml"
    path.write_text(f'[streams.ecg]\ntype = "ECG"\n\n[[mappings]]\ncontrol = "pulse"\n'
                    f'feature = "ecg.pulse_at"\nat_s = {value}\n\n[[passes]]\n'
                    'shader = "a.frag"\nuniforms = { u_pulse = "pulse" }\n')
    with pytest.raises(ShowError, match=r"show.toml:7:.*mappings\[0\]\.at_s"):
        load_show(path)
