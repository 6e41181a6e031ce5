"""Mapping ``delay_s`` (a causal delay line) and the ``[idle]`` behaviour."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from installation.errors import ShowError
from installation.mapping import Mapper
from installation.messages import Features, Status
from installation.show import IdleSpec, MappingSpec, load_show

REPO = Path(__file__).resolve().parents[2]


def hr(value: float, status: Status = Status.OK) -> dict[str, Features]:
    return {"ecg": Features(stream="ecg", t=0.0, values={"heart_rate": value}, status=status)}


def spec(**kw) -> MappingSpec:
    base = dict(control="energy", feature="ecg.heart_rate", in_range=(60.0, 120.0), idle=0.25)
    return MappingSpec(**(base | kw))


def test_a_delayed_control_shows_the_value_from_delay_s_ago() -> None:
    mapper = Mapper([spec(delay_s=0.5)])
    out = {}
    for i in range(30):  # 30 fps; the heart rate jumps from 60 to 120 bpm at t = 0.5 s
        t = i / 30.0
        out[i] = mapper(hr(60.0 if t < 0.5 else 120.0), t).get("energy")
    assert out[0] == 0.25 and out[14] == 0.25  # no history 0.5 s old yet: idle value
    assert out[15] == 0.0  # value from t = 0
    assert out[29] == 0.0  # t = 0.967: the jump at 0.5 s is still 0.033 s in the future
    assert mapper(hr(120.0), 1.0).get("energy") == 1.0  # ... and arrives exactly at 1.0 s


def test_delay_does_not_depend_on_the_frame_rate() -> None:
    results = []
    for fps in (10, 60):
        mapper = Mapper([spec(delay_s=1.0)])
        n = int(3 * fps)
        for i in range(n + 1):
            t = i / fps
            value = mapper(hr(60.0 + 20.0 * t), t).get("energy")
        results.append(value)  # at t = 3: the value of t = 2 (100 bpm)
    assert results == pytest.approx([40 / 60, 40 / 60])


def idle_spec(**kw) -> IdleSpec:
    base = dict(after_s=2.0, fade_s=0.0, return_s=0.0, controls={"calm": 0.9},
                breath_control="pulse",
                breath_period_s=4.0, breath_depth=0.4)
    return IdleSpec(**(base | kw))


def test_the_piece_goes_idle_only_after_after_s_without_good_data() -> None:
    mapper = Mapper([spec()], idle=idle_spec())
    assert "calm" not in mapper(hr(90.0), 0.0).values
    lost = hr(90.0, Status.LOST)
    assert "calm" not in mapper(lost, 1.9).values  # only 1.9 s since the last good data
    idle = mapper(lost, 2.0)  # t = 2: breath phase pi -> peak
    assert idle.get("calm") == 0.9
    assert idle.get("pulse") == pytest.approx(0.4)
    assert mapper(lost, 4.0).get("pulse") == pytest.approx(0.0, abs=1e-9)
    back = mapper(hr(120.0), 4.1)  # data returns: the body drives again at once (fade 0)
    assert "calm" not in back.values and back.get("energy") == 1.0


def test_idle_eases_in_with_its_time_constant() -> None:
    lost = hr(90.0, Status.LOST)
    energy = Mapper([spec(idle=0.0, idle_fade_s=0.0)],
                    idle=idle_spec(after_s=0.0, fade_s=1.0, controls={"energy": 1.0},
                                   breath_control=""))
    energy(lost, 0.0)
    assert energy(lost, 1.0).get("energy") == pytest.approx(1.0 - math.exp(-1.0))


def test_default_show_declares_idle_and_safety(tmp_path: Path) -> None:
    show = load_show(REPO / "show.toml")
    assert show.safety.flash_limit is True
    assert show.idle.breath_control == "pulse"
    bad = tmp_path / "show.toml"
    text = (REPO / "show.toml").read_text().replace("after_s = 10.0", "after_s = -1.0")
    bad.write_text(text.replace('shader = "shaders/', f'shader = "{REPO}/shaders/'))
    with pytest.raises(ShowError, match=r"idle\.after_s: must be >= 0.0"):
        load_show(bad)
