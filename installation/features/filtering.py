"""Second-order-section filtering of one channel, chunk by chunk, at little cost per call.

``scipy.signal.sosfilt`` spends about 25 µs per call checking and reshaping its arguments
(array-API dispatch, ``moveaxis``, validation of ``sos``) before the compiled kernel runs
for a microsecond or two on a 100 ms chunk: on the live feature path, with an ECG, a PPG
and a breathing filter per chunk, that was a quarter of the ECG's cost (issue 15). This
calls the same compiled kernel scipy uses, with the same arguments it would pass, so the
output is bit-for-bit scipy's (a unit test holds it to that); where a scipy release moves
the kernel, it falls back to ``scipy.signal.sosfilt``.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

try:  # private, so guarded: the public function is the fallback
    from scipy.signal._sosfilt import _sosfilt as _kernel
except ImportError:  # pragma: no cover - depends on the scipy release
    _kernel = None


def sosfilt_1d(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Filter the 1-D signal ``x`` with ``sos`` from state ``zi``.

    Parameters
    ----------
    sos
        ``(sections, 6)`` second-order sections, as ``scipy.signal.butter(..., output="sos")``.
    x
        The samples, ``(n,)``.
    zi
        The filter state, ``(sections, 2)``; not modified.

    Returns
    -------
    y, zf
        The filtered samples (float64) and the state after them, as
        ``scipy.signal.sosfilt(sos, x, zi=zi)`` returns them (which raises on an empty
        ``x``; here that returns nothing and the state unchanged).
    """
    if x.size == 0:  # scipy raises on an empty signal; an empty chunk changes nothing
        return np.empty(0), np.array(zi, dtype=np.float64)
    if _kernel is None:
        return signal.sosfilt(sos, x, zi=zi)
    y = np.array(x, dtype=np.float64, order="C").reshape(1, -1)  # a copy, filtered in place
    z = np.array(zi, dtype=np.float64, order="C").reshape(1, -1, 2)
    _kernel(np.ascontiguousarray(sos, dtype=np.float64), y, z)
    return y[0], z[0]
