from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from installation.features.filtering import sosfilt_1d


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [1, 25, 1000])
def test_sosfilt_1d_equals_scipy_bit_for_bit_and_leaves_the_state_alone(dtype, n) -> None:
    rng = np.random.default_rng(n)
    sos = np.concatenate([signal.butter(2, [5.0, 18.0], "bandpass", fs=250.0, output="sos"),
                          signal.tf2sos(*signal.iirnotch(50.0, 10.0, 250.0))])
    x = rng.normal(size=n).astype(dtype)
    zi = signal.sosfilt_zi(sos) * 0.3
    before = zi.copy()
    y, zf = sosfilt_1d(sos, x, zi)
    y_ref, zf_ref = signal.sosfilt(sos, x, zi=zi)
    assert y.dtype == y_ref.dtype and zf.shape == zf_ref.shape
    assert np.array_equal(y, y_ref) and np.array_equal(zf, zf_ref)
    assert np.array_equal(zi, before)


def test_sosfilt_1d_carries_state_across_chunks_like_one_call() -> None:
    rng = np.random.default_rng(1)
    sos = signal.butter(4, 0.5, "highpass", fs=100.0, output="sos")
    x = rng.normal(size=997)
    zi = signal.sosfilt_zi(sos) * x[0]
    whole, _ = signal.sosfilt(sos, x, zi=zi)
    parts, z = [], zi
    for i in range(0, x.size, 25):
        y, z = sosfilt_1d(sos, x[i : i + 25], z)
        parts.append(y)
    assert np.array_equal(np.concatenate(parts), whole)


def test_sosfilt_1d_on_an_empty_chunk_returns_nothing_and_the_same_state() -> None:
    sos = signal.butter(2, 0.5, "highpass", fs=100.0, output="sos")
    zi = signal.sosfilt_zi(sos)
    y, zf = sosfilt_1d(sos, np.empty(0), zi)
    assert y.size == 0 and np.array_equal(zf, zi) and zf is not zi
