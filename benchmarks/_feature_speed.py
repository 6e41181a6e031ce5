"""Compute per 100 ms chunk of the live feature path, for ``bench_signal_quality.py``.

    python benchmarks/_feature_speed.py [--code DIR] [--seconds 60] [--repeats 5]

``--code DIR`` times the ``installation`` package found in ``DIR`` instead of this checkout's
(``bench_signal_quality.py`` extracts the commit before issue 15 there), so the old and the new path
are measured on the same machine in the same run. Data as in ``bench_features.py``: ECG lead
II and PLETH of challenge2015 v102s (250 Hz) and 8-channel EEG at 256 Hz, in 100 ms chunks.
Prints one JSON line: medians (process CPU time) in ms per chunk, per kind and in total, and,
for this checkout's code, the share spent in the quality indices.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", type=Path, default=None)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.code is not None:
        sys.path.insert(0, str(args.code))
    import importlib.util

    import numpy as np
    from scipy import signal

    from installation.features.cardiac import CardiacExtractor
    from installation.features.eeg import EegExtractor
    from installation.features.ppg import PpgExtractor
    from installation.messages import Chunk, StreamInfo

    # The WFDB reader lives with this checkout's tests, whichever engine is timed.
    spec = importlib.util.spec_from_file_location("wfdb212", REPO / "tests" / "wfdb212.py")
    wfdb = importlib.util.module_from_spec(spec)
    sys.modules["wfdb212"] = wfdb
    spec.loader.exec_module(wfdb)
    read_wfdb212 = wfdb.read_wfdb212

    data = Path(os.environ.get("SHARED_DATA", REPO.parent / "shared" / "data"))
    rec = read_wfdb212(data / "challenge2015" / "v102s.hea", unwrap=True)
    n = int(args.seconds * rec.fs)
    ts = rec.timestamps[:n]
    spliced = np.loadtxt(data / "biosppy" / "eeg_eo_then_ec_spliced.csv", delimiter=",",
                         skiprows=1)
    eeg1 = signal.resample_poly(spliced[: int(args.seconds * 125), 1], 256, 125)
    rng = np.random.default_rng(0)
    eeg = eeg1[:, None] + rng.normal(scale=0.1 * eeg1.std(), size=(eeg1.size, 8))
    t_eeg = np.arange(eeg.shape[0]) / 256.0

    def chunks(info: StreamInfo, t: np.ndarray, x: np.ndarray, step: int) -> list:
        x2 = x[:, None] if x.ndim == 1 else x
        return [Chunk(info, t[i:i + step], x2[i:i + step], float(t[i:i + step][-1]))
                for i in range(0, t.size, step)]

    streams = {
        "ecg": (CardiacExtractor, chunks(StreamInfo("ecg", "ECG", 1, 250.0), ts,
                                         rec.channel("II")[:n], 25)),
        "ppg": (PpgExtractor, chunks(StreamInfo("ppg", "PPG", 1, 250.0), ts,
                                     rec.channel("PLETH")[:n], 25)),
        "eeg": (EegExtractor, chunks(StreamInfo("eeg", "EEG", 8, 256.0, channel_labels=(
            "Fp1", "Fp2", "F3", "F4", "C3", "C4", "O1", "O2")), t_eeg, eeg, 26)),
    }
    n_chunks = min(len(c) for _, c in streams.values())
    quality_s = _wrap_quality() if args.code is None else None
    per_kind: dict[str, list[float]] = {k: [] for k in streams}
    total: list[float] = []
    quality: list[float] = []
    for _ in range(args.repeats):
        spent = dict.fromkeys(streams, 0.0)
        exs = {k: cls() for k, (cls, _) in streams.items()}
        if quality_s is not None:
            quality_s[0] = 0.0
        for i in range(n_chunks):
            for k, (_, cs) in streams.items():
                t0 = time.process_time()
                exs[k](cs[i])
                spent[k] += time.process_time() - t0
        for k in streams:
            per_kind[k].append(spent[k] / n_chunks * 1e3)
        total.append(sum(spent.values()) / n_chunks * 1e3)
        if quality_s is not None:
            quality.append(quality_s[0] / n_chunks * 1e3)
    out = {"ms_per_chunk": statistics.median(total),
           **{f"{k}_ms": statistics.median(v) for k, v in per_kind.items()}}
    if quality:
        out["quality_ms"] = statistics.median(quality)
    print(json.dumps(out))


def _wrap_quality() -> list[float]:
    """Time every quality index computation (this checkout's code only)."""
    from installation.features import cardiac, ppg, quality

    spent = [0.0]
    depth = [0]  # nested quality calls are counted once, by the outermost

    def timed(owner: object, name: str) -> None:
        fn = getattr(owner, name)

        def wrapper(*a, **k):
            depth[0] += 1
            t0 = time.process_time()
            try:
                return fn(*a, **k)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    spent[0] += time.process_time() - t0

        setattr(owner, name, wrapper)

    for name in ("add", "reject", "set_organisation"):
        timed(quality.BeatQuality, name)
    for name in ("neighbours", "template", "add", "prepare"):
        timed(quality.BeatShapes, name)
    timed(cardiac.CardiacExtractor, "_beat_shape")
    timed(cardiac.CardiacExtractor, "_organisation")
    timed(ppg.PpgExtractor, "_judge")
    return spent


if __name__ == "__main__":
    main()
