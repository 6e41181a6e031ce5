"""Feature extraction: compute time per 100 ms chunk, and accuracy on the shared recordings.

    .venv/bin/python benchmarks/bench_features.py [--seconds 60] [--repeats 5] [--skip-accuracy]

Speed: 8-channel EEG at 256 Hz + ECG at 250 Hz + PPG at 250 Hz, fed as 100 ms chunks to the
causal extractors (the live path), against neurokit2's offline processing of the same data in
the same run (``ecg_process``, ``ppg_process`` and Welch band powers via ``signal_power`` per
EEG channel), expressed per 100 ms of data. Medians of ``--repeats`` runs, in process CPU
time (robust to other load on a shared machine).

Data: ECG lead II and PLETH of PhysioNet Challenge 2015 record v102s (250 Hz); EEG: the BioSPPy
eyes-open/closed recording resampled 125 -> 256 Hz, eight channels (the same channel with
independent noise added, so channels differ).

Accuracy (the figures BENCHMARKS.md quotes): R-peak F1, detection latency and 10-s heart rate
on the whole MIT-BIH record 100; ECG vs PPG heart rate on v102s and on NeuroKit's resting
recording; EEG alpha ratio (closed/open, means and medians) and report delay; ECG-derived vs
belt breathing rate.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import signal

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the WFDB reader lives with the tests

from installation.features.cardiac import CardiacExtractor  # noqa: E402
from installation.features.eeg import EegExtractor  # noqa: E402
from installation.features.ppg import PpgExtractor  # noqa: E402
from installation.features.respiration import RespirationExtractor  # noqa: E402
from installation.messages import Chunk, Event, Features, Status, StreamInfo  # noqa: E402
from tests.wfdb212 import read_wfdb212  # noqa: E402

DATA = Path(os.environ.get("SHARED_DATA", REPO.parent / "shared" / "data"))
SWITCH = 241.624
# CPU time of this process, not wall time: the machine is shared, and another process taking a
# core would otherwise be billed to whichever side happened to run then.
_clock = time.process_time


def _chunks(info: StreamInfo, ts: np.ndarray, x: np.ndarray, step: int) -> list[Chunk]:
    x2 = x[:, None] if x.ndim == 1 else x
    return [
        Chunk(info, ts[i : i + step], x2[i : i + step], float(ts[i : i + step][-1]))
        for i in range(0, ts.size, step)
    ]


def _feed(extractor, chunks: list[Chunk]) -> tuple[list[Features], list[Event]]:
    feats, events = [], []
    for c in chunks:
        f = extractor(c)
        feats.append(f)
        events.extend(f.events)
    return feats, events


# ---------------------------------------------------------------------------------- speed
def speed(seconds: float, repeats: int) -> dict[str, float]:
    rec = read_wfdb212(DATA / "challenge2015" / "v102s.hea", unwrap=True)
    n = int(seconds * rec.fs)
    ts = rec.timestamps[:n]
    ecg, ppg = rec.channel("II")[:n], rec.channel("PLETH")[:n]
    spliced = np.loadtxt(DATA / "biosppy" / "eeg_eo_then_ec_spliced.csv", delimiter=",",
                         skiprows=1)
    eeg1 = signal.resample_poly(spliced[: int(seconds * 125), 1], 256, 125)
    rng = np.random.default_rng(0)
    eeg = eeg1[:, None] + rng.normal(scale=0.1 * eeg1.std(), size=(eeg1.size, 8))
    t_eeg = np.arange(eeg.shape[0]) / 256.0
    c_ecg = _chunks(StreamInfo("ecg", "ECG", 1, 250.0), ts, ecg, 25)
    c_ppg = _chunks(StreamInfo("ppg", "PPG", 1, 250.0), ts, ppg, 25)
    labels = ("Fp1", "Fp2", "F3", "F4", "C3", "C4", "O1", "O2")
    c_eeg = _chunks(StreamInfo("eeg", "EEG", 8, 256.0, channel_labels=labels), t_eeg, eeg, 26)
    n_chunks = min(len(c_ecg), len(c_eeg))
    ours: list[float] = []
    per_kind: dict[str, list[float]] = {"ecg": [], "ppg": [], "eeg": []}
    for _ in range(repeats):
        exs = {"ecg": CardiacExtractor(), "ppg": PpgExtractor(), "eeg": EegExtractor()}
        spent = dict.fromkeys(exs, 0.0)
        for k in range(n_chunks):
            for kind, chunks in (("ecg", c_ecg), ("ppg", c_ppg), ("eeg", c_eeg)):
                t0 = _clock()
                exs[kind](chunks[k])
                spent[kind] += _clock() - t0
        for kind in exs:
            per_kind[kind].append(spent[kind] / n_chunks * 1e3)
        ours.append(sum(spent.values()) / n_chunks * 1e3)

    import neurokit2 as nk  # imported late: its import alone takes seconds

    ref: list[float] = []
    clean_ecg = np.nan_to_num(ecg)
    clean_ppg = np.nan_to_num(ppg)
    bands = [(1, 4), (4, 8), (8, 13), (13, 30), (30, 45)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeats):
            t0 = _clock()
            nk.ecg_process(clean_ecg, sampling_rate=250)
            nk.ppg_process(clean_ppg, sampling_rate=250)
            for ch in range(8):
                nk.signal_power(eeg[:, ch], frequency_band=bands, sampling_rate=256)
            ref.append((_clock() - t0) / (seconds / 0.1) * 1e3)
    out = {"ours_ms_per_chunk": statistics.median(ours),
           "neurokit_offline_ms_per_100ms_of_data": statistics.median(ref)}
    out.update({f"ours_{k}_ms": statistics.median(v) for k, v in per_kind.items()})
    return out


# ------------------------------------------------------------------------------- accuracy
def _match(events: list[Event], ref: np.ndarray, tol: float = 0.075) -> dict[str, float]:
    used = np.zeros(ref.size, dtype=bool)
    lat = []
    for e in events:
        j = int(np.argmin(np.abs(ref - e.t)))
        if abs(ref[j] - e.t) <= tol and not used[j]:
            used[j] = True
            lat.append(e.reported - ref[j])
    tp = len(lat)
    fp, fn = len(events) - tp, ref.size - tp
    return {"f1": 2 * tp / (2 * tp + fp + fn), "fp": fp, "fn": fn,
            "latency_median_ms": float(np.median(lat)) * 1e3,
            "latency_p95_ms": float(np.percentile(lat, 95)) * 1e3}


def accuracy() -> dict[str, float]:
    out: dict[str, float] = {}
    rec = read_wfdb212(DATA / "mitdb" / "100.hea")
    t0 = _clock()
    feats, events = _feed(CardiacExtractor(),
                          _chunks(StreamInfo("ecg", "ECG", 1, 360.0), rec.timestamps,
                                  rec.channel("MLII"), 36))
    out["mitdb100_whole_record_s"] = _clock() - t0
    with (DATA / "mitdb" / "100.rpeaks.csv").open() as fh:
        ref = np.array([float(r["time_s"]) for r in csv.DictReader(fh)])
    out.update({f"mitdb100_{k}": v for k, v in _match(events, ref).items()})
    f_t = np.array([f.t for f in feats])
    f_hr = np.array([f.values["heart_rate"] for f in feats])
    f_ok = np.array([f.status is Status.OK for f in feats])
    with (DATA / "mitdb" / "100.truth_10s.csv").open() as fh:
        windows = list(csv.DictReader(fh))
    good = 0
    for w in windows:
        a, b = float(w["window_start_s"]), float(w["window_end_s"])
        sel = (f_t >= a) & (f_t < b) & f_ok
        good += abs(f_hr[sel].mean() - float(w["mean_hr_bpm"])) <= 2.0
    out["mitdb100_hr_windows_within_2bpm_pct"] = 100.0 * good / len(windows)

    def agreement(ts: np.ndarray, ecg: np.ndarray, ppg: np.ndarray, fs: float) -> float:
        step = round(fs / 10)
        fe, _ = _feed(CardiacExtractor(), _chunks(StreamInfo("e", "ECG", 1, fs), ts, ecg, step))
        fp, _ = _feed(PpgExtractor(), _chunks(StreamInfo("p", "PPG", 1, fs), ts, ppg, step))
        d = [abs(a.values["heart_rate"] - b.values["heart_rate"]) for a, b in zip(fe, fp,
             strict=True) if a.status is Status.OK and b.status is Status.OK]
        return float(np.median(d))

    icu = read_wfdb212(DATA / "challenge2015" / "v102s.hea", unwrap=True)
    out["v102s_ecg_ppg_median_abs_diff_bpm"] = agreement(
        icu.timestamps, icu.channel("II"), icu.channel("PLETH"), 250.0)
    rest = np.loadtxt(DATA / "neurokit" / "bio_resting_5min_100hz.csv", delimiter=",",
                      skiprows=1)
    t_rest = np.arange(rest.shape[0]) / 100.0
    out["resting_ecg_ppg_median_abs_diff_bpm"] = agreement(t_rest, rest[:, 0], rest[:, 1], 100.0)
    fe, _ = _feed(CardiacExtractor(), _chunks(StreamInfo("e", "ECG", 1, 100.0), t_rest,
                                               rest[:, 0], 10))
    fb, _ = _feed(RespirationExtractor(), _chunks(StreamInfo("r", "RSP", 1, 100.0), t_rest,
                                                  rest[:, 2], 10))
    d = [abs(a.values["resp_rate"] - b.values["resp_rate"]) for a, b in zip(fe, fb, strict=True)
         if b.status is Status.OK and a.t > 40.0]
    out["resting_edr_vs_belt_median_abs_diff_brpm"] = float(np.median(d))

    sp = np.loadtxt(DATA / "biosppy" / "eeg_eo_then_ec_spliced.csv", delimiter=",", skiprows=1)
    fe, _ = _feed(EegExtractor(), _chunks(StreamInfo("eeg", "EEG", 1, 125.0), sp[:, 0],
                                          sp[:, 1:2], 13))
    t = np.array([f.t for f in fe])
    a = np.array([f.values["alpha_rel"] for f in fe])
    ok = np.array([f.status is Status.OK for f in fe])
    o, c = ok & (t < SWITCH), ok & (t > SWITCH + 2.0)
    out["alpha_ratio_means"] = float(a[c].mean() / a[o].mean())
    out["alpha_ratio_medians"] = float(np.median(a[c]) / np.median(a[o]))
    trailing = np.convolve(a, np.ones(10) / 10)[: a.size]
    level = np.sqrt(a[o].mean() * a[c].mean())
    after = t >= SWITCH
    out["alpha_report_delay_s"] = float(t[after][np.argmax(trailing[after] > level)] - SWITCH)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}")
    for k, v in speed(args.seconds, args.repeats).items():
        print(f"{k:45s} {v:10.4f}")
    if not args.skip_accuracy:
        for k, v in accuracy().items():
            print(f"{k:45s} {v:10.4f}")


if __name__ == "__main__":
    main()
