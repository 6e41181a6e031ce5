"""Signal quality (issue 15): the noise stress test by SNR, the confident-wrong rate on every
shared recording, and what the quality indices cost per 100 ms chunk.

    .venv/bin/python benchmarks/bench_signal_quality.py [--seeds 3] [--pairs 5] [--baseline REV]
        [--skip-nst] [--skip-recordings] [--skip-speed]

* **Noise stress test** (``tests/noise_stress.py``): MIT-BIH 100, the whole 30 min, with the
  NST protocol (5 min clean, then 2-min noisy and clean segments) and synthetic baseline
  wander + muscle + electrode-motion noise at each SNR, ``--seeds`` noise seeds. F1 and
  latency over everything after the first 5 min (the NST convention) and over the noisy
  segments alone; coverage and confident-wrong over the noisy segments (``tests/
  heart_metrics.py``: a 10-s window reads wrong when its ok frames' mean rate is > 5 bpm off
  the annotations; ``cw_frames`` judges each frame against the annotated rate at that
  instant). Medians over seeds, and the worst seed's confident-wrong.
* **Shared recordings**: coverage and confident-wrong of every heart source. Truth is the
  cardiologists' annotations for MIT-BIH 100; for the others, which have none, neurokit2's
  offline (non-causal) peaks of the same recording's ECG, the reference the design names.
  For those, the same measures also against that truth corrected for missed and extra beats
  (``*_kubios``: neurokit2's Kubios artefact correction), beside the plain ones.
  And noise alone: the time a source is ok on it.
* **Cost**: the whole live feature path per 100 ms chunk (``_feature_speed.py``: 8-ch EEG at
  256 Hz + ECG and PPG at 250 Hz), this checkout against ``--baseline`` (the commit before
  issue 15's work) in alternating runs of the same process, and the part spent in the
  quality indices. Process CPU time; medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the WFDB reader, noise and metrics live with the tests

from installation.features.cardiac import CardiacExtractor  # noqa: E402
from installation.features.ppg import PpgExtractor  # noqa: E402
from installation.messages import Chunk, Event, Features, StreamInfo  # noqa: E402
from tests.heart_metrics import beat_match, hr_truth_windows, read_beats, trust  # noqa: E402
from tests.noise_stress import (  # noqa: E402
    LEARN_S,
    SNRS_DB,
    add_nst_noise,
    make_noise,
    noisy_segments,
)
from tests.wfdb212 import read_wfdb212  # noqa: E402

DATA = Path(os.environ.get("SHARED_DATA", REPO.parent / "shared" / "data"))
BASELINE = "40c4d36"  # the last commit before the extractor base and the quality indices


def _run(kind: str, x: np.ndarray, fs: float) -> tuple[list[Features], list[Event]]:
    ex = CardiacExtractor() if kind == "ECG" else PpgExtractor()
    info = StreamInfo(kind.lower(), kind, 1, fs)
    step = max(1, round(fs / 10))
    ts = np.arange(x.size) / fs
    feats, events = [], []
    for i in range(0, x.size, step):
        f = ex(Chunk(info, ts[i:i + step], x[i:i + step, None], float(ts[i:i + step][-1])))
        feats.append(f)
        events.extend(f.events)
    return feats, events


# ------------------------------------------------------------------ noise stress test
def nst(seeds: int) -> list[dict]:
    rec = read_wfdb212(DATA / "mitdb" / "100.hea")
    x = rec.channel("MLII")
    fs = rec.fs
    seconds = x.size / fs
    ref = read_beats(DATA / "mitdb" / "100.rpeaks.csv")
    windows = hr_truth_windows(ref, 0.0, seconds)
    noisy = noisy_segments(x.size, fs)
    t = np.arange(x.size) / fs
    edges = np.flatnonzero(np.diff(np.concatenate([[0], noisy.astype(int), [0]])))
    spans = edges.reshape(-1, 2) / fs
    after = np.array([[LEARN_S, seconds]])
    rows = []
    for snr in ("clean", *SNRS_DB):
        runs = []
        for seed in range(seeds if snr != "clean" else 1):
            sig = x if snr == "clean" else add_nst_noise(x, fs, ref, snr, seed=seed).ecg
            feats, events = _run("ECG", sig, fs)
            m = beat_match(events, ref, within=after)
            mn = beat_match(events, ref, within=spans)
            tr = trust(feats, windows, None if snr == "clean" else noisy, t, beats=ref)
            runs.append((m["f1"], mn["f1"], tr["coverage"], tr["confident_wrong"],
                         tr["cw_frames"], m["latency_median_ms"], m["latency_p95_ms"]))
        r = np.array(runs)
        rows.append({"snr_db": snr, "f1": float(np.median(r[:, 0])),
                     "f1_noisy": float(np.median(r[:, 1])), "coverage": float(np.median(r[:, 2])),
                     "confident_wrong_median": float(np.median(r[:, 3])),
                     "confident_wrong_worst": float(r[:, 3].max()),
                     "cw_frames_worst": float(r[:, 4].max()),
                     "latency_median_ms": float(np.median(r[:, 5])),
                     "latency_p95_ms": float(np.median(r[:, 6]))})
        print(json.dumps(rows[-1]), flush=True)
    return rows


# ------------------------------------------------------------------ shared recordings
def _nk_ecg_peaks(ecg: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean = nk.ecg_clean(np.nan_to_num(ecg, nan=float(np.nanmedian(ecg))), sampling_rate=fs)
        _, info = nk.ecg_peaks(clean, sampling_rate=fs)
    return np.asarray(info["ECG_R_Peaks"], float) / fs


def _nk_ppg_peaks(ppg: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clean = nk.ppg_clean(ppg, sampling_rate=fs)
        info = nk.ppg_findpeaks(clean, sampling_rate=fs)
    return np.asarray(info["PPG_Peaks"], float) / fs


def _kubios(beats: np.ndarray, fs: float) -> np.ndarray:
    """Offline peaks corrected for missed and extra beats (Lipponen & Tarvainen 2019, "A robust
    algorithm for heart rate variability time series artefact correction using novel beat
    classification", J. Med. Eng. Technol. 43(3); neurokit2's ``signal_fixpeaks``)."""
    import neurokit2 as nk

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, fixed = nk.signal_fixpeaks(np.round(beats * fs).astype(int), sampling_rate=fs,
                                      method="Kubios", iterative=True)
    return np.asarray(fixed, float) / fs


def recordings() -> list[dict]:
    rows = []

    def judge(name: str, kind: str, x: np.ndarray, fs: float, beats: np.ndarray,
              truth: str, shift: float = 0.0) -> None:
        feats, _ = _run(kind, x, fs)
        # A PPG peak comes ~0.2-0.3 s after its R-peak; the 10-s windows absorb that.
        windows = hr_truth_windows(beats + shift, 0.0, x.size / fs)
        tr = trust(feats, windows, beats=beats + shift)
        rows.append({"recording": name, "source": kind, "truth": truth,
                     "seconds": round(x.size / fs, 1), "coverage": round(tr["coverage"], 4),
                     "confident_wrong": round(tr["confident_wrong"], 4),
                     "cw_frames": round(tr.get("cw_frames", float("nan")), 4)})
        if truth != "annotations":
            # The offline truth can miss a beat too: the same measure against it corrected,
            # a second opinion beside the plain one, not a replacement.
            fixed = _kubios(beats, fs) + shift
            tk = trust(feats, hr_truth_windows(fixed, 0.0, x.size / fs), beats=fixed)
            rows[-1]["confident_wrong_kubios"] = round(tk["confident_wrong"], 4)
            rows[-1]["cw_frames_kubios"] = round(tk.get("cw_frames", float("nan")), 4)
        print(json.dumps(rows[-1]), flush=True)

    mit = read_wfdb212(DATA / "mitdb" / "100.hea")
    judge("MIT-BIH 100 (30 min)", "ECG", mit.channel("MLII"), mit.fs,
          read_beats(DATA / "mitdb" / "100.rpeaks.csv"), "annotations")
    v = read_wfdb212(DATA / "challenge2015" / "v102s.hea", unwrap=True)
    ref = _nk_ecg_peaks(v.channel("V"), v.fs)  # lead V: lead II's QRS wraps at the ADC range
    judge("challenge2015 v102s, II", "ECG", v.channel("II"), v.fs, ref, "neurokit2 on lead V")
    judge("challenge2015 v102s, PLETH", "PPG", v.channel("PLETH"), v.fs, ref,
          "neurokit2 on lead V", shift=0.25)
    rest = np.loadtxt(DATA / "neurokit" / "bio_resting_5min_100hz.csv", delimiter=",",
                      skiprows=1)
    ref = _nk_ecg_peaks(rest[:, 0], 100.0)
    judge("NeuroKit resting 5 min, ECG", "ECG", rest[:, 0], 100.0, ref, "neurokit2 on the ECG")
    judge("NeuroKit resting 5 min, PPG", "PPG", rest[:, 1], 100.0, ref, "neurokit2 on the ECG",
          shift=0.25)
    er = np.loadtxt(DATA / "neurokit" / "bio_eventrelated_100hz.csv", delimiter=",", skiprows=1)
    judge("NeuroKit event-related, ECG", "ECG", er[:, 0], 100.0, _nk_ecg_peaks(er[:, 0], 100.0),
          "neurokit2 on the ECG")
    e1k = np.loadtxt(DATA / "neurokit" / "ecg_1000hz.csv", delimiter=",", skiprows=1)
    judge("NeuroKit ECG 1000 Hz", "ECG", e1k, 1000.0, _nk_ecg_peaks(e1k, 1000.0),
          "neurokit2 on the ECG")
    bs = np.loadtxt(DATA / "biosppy" / "ecg.txt", comments="#")
    judge("BioSPPy ECG (15 s)", "ECG", bs, 1000.0, _nk_ecg_peaks(bs, 1000.0),
          "neurokit2 on the ECG")
    bp = np.loadtxt(DATA / "biosppy" / "ppg.txt", comments="#")
    judge("BioSPPy PPG (20 s)", "PPG", bp, 1000.0, _nk_ppg_peaks(bp, 1000.0),
          "neurokit2 on the PPG")
    # Noise alone: how much of it a source calls ok (it should be none).
    fs = 360.0
    n = int(600 * fs)
    rng = np.random.default_rng(11)
    for name, x in (("white noise 0.05 mV", 0.05 * rng.normal(size=n)),
                    ("drift + trace noise", np.cumsum(rng.normal(size=n)) * 0.003
                     + 0.002 * rng.normal(size=n)),
                    ("mains hum + drift", 0.2 * np.sin(2 * np.pi * 50 * np.arange(n) / fs)
                     + 0.02 * rng.normal(size=n) + np.cumsum(rng.normal(size=n)) * 0.001),
                    ("electrode motion + muscle + wander", 0.1 * sum(
                        make_noise(k, n, fs, 11) for k in ("em", "ma", "bw")))):
        for kind in ("ECG", "PPG"):
            feats, _ = _run(kind, x, fs)
            ok = float(np.mean([f.status.value == "ok" for f in feats]))
            rows.append({"recording": f"{name} (10 min, no heart)", "source": kind,
                         "truth": "none: any ok is wrong", "seconds": 600.0,
                         "coverage": round(ok, 4), "confident_wrong": round(ok, 4),
                         "cw_frames": round(ok, 4)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


# ------------------------------------------------------------------ cost
def speed(pairs: int, baseline: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", baseline, "installation"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        script = str(REPO / "benchmarks" / "_feature_speed.py")
        new, old = [], []
        for _ in range(pairs):  # alternate, so both see the same machine
            for code, out in ((None, new), (tmp, old)):
                cmd = [sys.executable, script, "--seconds", "60", "--repeats", "3"]
                if code:
                    cmd += ["--code", code]
                out.append(json.loads(subprocess.run(cmd, capture_output=True, text=True,
                                                     check=True).stdout))
    ratio = [a["ms_per_chunk"] / b["ms_per_chunk"] for a, b in zip(new, old, strict=True)]
    result = {"pairs": pairs, "baseline": baseline,
              "new_ms_per_chunk": statistics.median(a["ms_per_chunk"] for a in new),
              "old_ms_per_chunk": statistics.median(b["ms_per_chunk"] for b in old),
              "ratio_new_over_old": statistics.median(ratio),
              "quality_ms_per_chunk": statistics.median(a["quality_ms"] for a in new)}
    for kind in ("ecg", "ppg", "eeg"):
        result[f"new_{kind}_ms"] = statistics.median(a[f"{kind}_ms"] for a in new)
        result[f"old_{kind}_ms"] = statistics.median(b[f"{kind}_ms"] for b in old)
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--baseline", default=BASELINE)
    parser.add_argument("--skip-nst", action="store_true")
    parser.add_argument("--skip-recordings", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python "
          f"{platform.python_version()}, load average {load:.1f}")
    if not args.skip_nst:
        nst(args.seeds)
    if not args.skip_recordings:
        recordings()
    if not args.skip_speed:
        speed(args.pairs, args.baseline)


if __name__ == "__main__":
    main()
