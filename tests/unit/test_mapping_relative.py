"""A ``relative_s`` mapping maps through the feature's own recent range, not a fixed one."""

from __future__ import annotations

import math

import pytest

from installation.errors import ShowError
from installation.mapping import Mapper
from installation.messages import Features, Status
from installation.show import MappingSpec, load_show


def calm(value: float, status: Status = Status.OK) -> dict[str, Features]:
    return {"state": Features(stream="state", t=0.0, values={"calm": value}, status=status)}


def spec(**kw) -> MappingSpec:
    base = dict(control="light", feature="state.calm", in_range=(0.3, 0.75))
    return MappingSpec(**(base | kw))


def swing(mapper: Mapper, start: float, seconds: float, centre: float, amplitude: float,
          fps: float = 10.0) -> list[float]:
    """Drive a slow sine of calm and return the control at each frame."""
    out = []
    for i in range(int(seconds * fps)):
        t = start + i / fps
        value = centre + amplitude * math.sin(2 * math.pi * t / 20.0)
        out.append(mapper(calm(value), t).get("light"))
    return out


def test_a_narrow_band_of_calm_spans_the_whole_control_once_its_range_is_known() -> None:
    # One visitor's calm stays within 0.50 +- 0.03: a fixed [0.3, 0.75] range turns that into
    # a control between 0.39 and 0.52; their own range spreads it over (nearly) 0 to 1.
    fixed = swing(Mapper([spec()]), 0.0, 60.0, 0.5, 0.03)
    own = swing(Mapper([spec(relative_s=600.0)]), 0.0, 60.0, 0.5, 0.03)
    assert max(fixed[300:]) - min(fixed[300:]) < 0.15
    assert min(own[300:]) == pytest.approx(0.0, abs=1e-9)
    assert max(own[300:]) == pytest.approx(1.0, abs=1e-9)


def test_the_fixed_range_is_used_until_ten_seconds_of_the_feature_exist() -> None:
    fixed = swing(Mapper([spec()]), 0.0, 12.0, 0.5, 0.03)
    own = swing(Mapper([spec(relative_s=600.0)]), 0.0, 12.0, 0.5, 0.03)
    assert own[:95] == fixed[:95]  # samples every 0.5 s: 20 of them by t = 9.5 s
    assert own[110:] != fixed[110:]


def test_a_lost_stream_forgets_the_range_so_the_next_visitor_starts_afresh() -> None:
    mapper = Mapper([spec(relative_s=600.0)])
    swing(mapper, 0.0, 60.0, 0.5, 0.03)
    for i in range(20):
        mapper(calm(0.0, Status.LOST), 60.0 + i / 10)
    fresh = Mapper([spec(relative_s=600.0)])
    after = swing(mapper, 62.0, 5.0, 0.5, 0.03)
    assert after == pytest.approx(swing(fresh, 62.0, 5.0, 0.5, 0.03), abs=0.02)
    assert max(after) < 0.6  # the fixed range again, not the narrow band's


def test_a_flat_feature_is_not_stretched_into_noise() -> None:
    # A range under a tenth of in_range's width is widened to that tenth: 0.5 +- 0.001 gives
    # a control within 0.5 +- 0.05, not 0 to 1.
    out = swing(Mapper([spec(relative_s=600.0)]), 0.0, 60.0, 0.5, 0.001)
    assert min(out[300:]) > 0.4 and max(out[300:]) < 0.6


def test_the_range_looks_back_relative_s_seconds_only() -> None:
    # A visitor calm around 0.6 for two minutes, then around 0.4: with a 60 s window the
    # second band soon spans the control on its own; with 600 s it stays low (less calm).
    short, long = Mapper([spec(relative_s=60.0)]), Mapper([spec(relative_s=600.0)])
    swing(short, 0.0, 120.0, 0.6, 0.03)
    swing(long, 0.0, 120.0, 0.6, 0.03)
    late_short = swing(short, 120.0, 120.0, 0.4, 0.03)[-200:]
    late_long = swing(long, 120.0, 120.0, 0.4, 0.03)[-200:]
    assert max(late_short) > 0.95
    assert max(late_long) < 0.5


def test_relative_s_is_read_from_show_toml_and_a_bad_one_names_its_key(tmp_path) -> None:
    (tmp_path / "a.frag").write_text("// shader\n")
    text = ('[streams.ecg]\ntype = "ECG"\n[[mappings]]\ncontrol = "light"\n'
            'feature = "state.calm"\nrelative_s = {}\n'
            '[[passes]]\nshader = "a.frag"\nuniforms = {{ u_light = "light" }}\n')
    path = tmp_path / "show.toml"
    path.write_text(text.format("600.0"))
    assert load_show(path).mappings[0].relative_s == 600.0
    path.write_text(text.format("-1.0"))
    with pytest.raises(ShowError, match=r"show.toml:6: mappings\[0\]\.relative_s"):
        load_show(path)


def test_time_going_back_forgets_the_range() -> None:
    mapper = Mapper([spec(relative_s=600.0)])
    swing(mapper, 0.0, 60.0, 0.5, 0.03)
    fresh = Mapper([spec(relative_s=600.0)])
    assert swing(mapper, 0.0, 12.0, 0.5, 0.03) == swing(fresh, 0.0, 12.0, 0.5, 0.03)


def test_a_window_too_short_to_fill_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 10 s"):
        spec(relative_s=5.0)
