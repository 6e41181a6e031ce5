"""A small reader for WFDB records stored in format 212 (MIT-BIH, PhysioNet challenges).

Hand-written on purpose: the ``wfdb`` package would pull pandas and matplotlib into the
test environment for what is a 3-bytes-per-2-samples unpacking; this module needs only numpy.
Only the tests and benchmarks read WFDB records, so it lives here, not in the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["WfdbRecord", "read_wfdb212"]


@dataclass(frozen=True, slots=True)
class WfdbRecord:
    """One WFDB record: ``signals`` is ``(n, ch)`` in physical units, NaN where invalid."""

    fs: float
    names: tuple[str, ...]
    units: tuple[str, ...]
    signals: np.ndarray

    @property
    def timestamps(self) -> np.ndarray:
        return np.arange(self.signals.shape[0]) / self.fs

    def channel(self, name: str) -> np.ndarray:
        """The samples of the signal called ``name``."""
        return self.signals[:, self.names.index(name)]


def _parse_gain(field: str) -> tuple[float, float | None, str]:
    # "200", "2281/mV", "200(1024)/mV": gain, optional baseline, units.
    units = ""
    if "/" in field:
        field, units = field.split("/", 1)
    baseline = None
    if "(" in field:
        field, rest = field.split("(", 1)
        baseline = float(rest.rstrip(")"))
    gain = float(field) if field else 200.0
    return (gain if gain != 0 else 200.0), baseline, units or "mV"


def read_wfdb212(header: str | Path, unwrap: bool = False) -> WfdbRecord:
    """Read a format-212 WFDB record.

    Parameters
    ----------
    header
        The ``.hea`` file; the ``.dat`` it names is read from the same folder.
    unwrap
        Undo 12-bit overflow: some PhysioNet Challenge 2015 records (e.g. v102s) store
        signals larger than the ADC range, which wrap from +2047 to -2048. With ``unwrap``
        a jump of more than half the range between consecutive samples is taken as a wrap
        (``numpy.unwrap`` with a period of 4096 digital units), which restores smooth signals
        such as PPG; a QRS steeper than half the range per sample still leaves a step.

    Returns
    -------
    WfdbRecord
        Physical values ``(digital - baseline) / gain``; the digital value -2048 (WFDB's
        "invalid sample") becomes NaN.
    """
    header = Path(header)
    lines = [ln.strip() for ln in header.read_text().splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    rec = lines[0].split()
    n_sig, fs = int(rec[1]), float(rec[2].split("/")[0])
    n = int(rec[3]) if len(rec) > 3 else -1
    names, units, gains, bases, files = [], [], [], [], set()
    for ln in lines[1 : 1 + n_sig]:
        parts = ln.split()
        if parts[1].split("x")[0].split(":")[0] != "212":
            raise ValueError(f"{header}: only format 212 is supported, not {parts[1]}")
        files.add(parts[0])
        gain, baseline, unit = _parse_gain(parts[2])
        adc_zero = int(parts[4]) if len(parts) > 4 else 0
        gains.append(gain)
        bases.append(adc_zero if baseline is None else baseline)
        units.append(unit)
        names.append(parts[8] if len(parts) > 8 else f"sig{len(names)}")
    if len(files) != 1:
        raise ValueError(f"{header}: signals spread over several files are not supported")
    raw = np.fromfile(header.parent / files.pop(), dtype=np.uint8)
    triples = raw[: raw.size // 3 * 3].reshape(-1, 3).astype(np.int16)
    # Format 212: two 12-bit two's-complement samples in 3 bytes; the middle byte holds the
    # high nibbles (low nibble -> first sample, high nibble -> second).
    a = triples[:, 0] | ((triples[:, 1] & 0x0F) << 8)
    b = triples[:, 2] | ((triples[:, 1] & 0xF0) << 4)
    flat = np.empty(2 * triples.shape[0], dtype=np.int16)
    flat[0::2], flat[1::2] = a, b
    flat = np.where(flat >= 2048, flat - 4096, flat)
    total = flat.size // n_sig
    if n >= 0:
        total = min(total, n)
    digital = flat[: total * n_sig].reshape(total, n_sig)
    invalid = digital == -2048
    digital = digital.astype(np.float64)
    if unwrap:
        for c in range(n_sig):
            col, bad = digital[:, c], invalid[:, c]
            if bad.all():
                continue
            good = np.flatnonzero(~bad)
            col[good] = np.unwrap(col[good], period=4096.0)
    phys = (digital - np.asarray(bases)) / np.asarray(gains)
    phys[invalid] = np.nan
    return WfdbRecord(fs=fs, names=tuple(names), units=tuple(units), signals=phys)
