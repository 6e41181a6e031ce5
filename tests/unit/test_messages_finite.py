from __future__ import annotations

import math

import pytest

from installation.messages import Controls, Features


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_features_and_controls_refuse_a_non_finite_value_and_name_it(bad: float) -> None:
    with pytest.raises(ValueError, match=r"\['b'\]"):
        Features("ecg", 0.0, {"a": 1.0, "b": bad, "c": 2.0})
    with pytest.raises(ValueError, match=r"\['b'\]"):
        Controls(0.0, {"a": 1.0, "b": bad})


def test_huge_finite_values_are_accepted_even_where_their_sum_overflows() -> None:
    assert Features("eeg", 0.0, {"a": 1e308, "b": 1e308}).values["b"] == 1e308
    assert Controls(0.0, {"a": -1e308, "b": -1e308}).get("a") == -1e308
