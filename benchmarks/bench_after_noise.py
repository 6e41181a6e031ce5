"""A real visitor after noise (issue 15): how soon the ECG is trusted and the visit starts,
per noise seed; and how long noise alone is ever trusted.

    .venv/bin/python benchmarks/bench_after_noise.py [--seeds 15-24] [--log SEED]
        [--noise-alone MINUTES] [--out FILE.jsonl]

* **After noise** (the default part): the signal of ``tests/integration/
  test_presence_over_lsl.py``, offline: 20 s of what a floating ECG input picks up (white
  noise 0.05 mV, 50 Hz hum 0.1 mV, a random walk; ``numpy`` seeded by the seed), then MIT-BIH
  100 from 100 s (annotated beats), in 100 ms chunks through :class:`CardiacExtractor`, with
  :class:`Presence` at the LSL test's ``arrive_s = 0.5``. Per seed: seconds into the real ECG
  to the first ``ok`` frame (trust) and to the visit, which annotated beat earned trust, and
  whether the source flapped (left ``ok``) in the 60 s after. Median and worst over seeds.
* ``--log SEED``: the per-beat log of one seed from 2 s before the real ECG: every detector
  candidate (accepted, or rejected as noise), its R-peak time, the matching annotated beat,
  the detection-signal peak against the levels (signal, noise, threshold, good beats'
  reference), and the quality judge's verdict; then the annotated beats it missed.
* ``--noise-alone MINUTES``: the six synthetic noises of ``docs/signal-quality.md`` (white,
  drift, electrode motion (two seeds), muscle, a mix, mains hum with drift), MINUTES each, no
  heart: frames ``ok`` and the number of times trust was earned (it must be 0 and 0).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the noise generators live with the tests

from installation.features.cardiac import CardiacExtractor  # noqa: E402
from installation.messages import Chunk, Status, StreamInfo  # noqa: E402
from installation.presence import Presence, worn  # noqa: E402
from tests.noise_stress import make_noise  # noqa: E402

DATA = Path(os.environ.get("SHARED_DATA", REPO.parent / "shared" / "data"))
FS = 360.0
NOISE_S = 20.0
REAL_S = 66.0
START = 100.0  # of MIT-BIH 100: the LSL test's stretch
ARRIVE_S = 0.5  # the LSL test's [visitor] arrive_s
INFO = StreamInfo("ecg", "ECG", 1, FS)


def after_noise_signal(seed: int, real_s: float = REAL_S) -> tuple[np.ndarray, np.ndarray]:
    """The LSL presence test's signal for one noise seed: ``(ecg, annotated beats)``, the
    beats in seconds of the returned signal (the real ECG starts at ``NOISE_S``)."""
    rng = np.random.default_rng(seed)
    n = int(NOISE_S * FS)
    t = np.arange(n) / FS
    noise = (0.05 * rng.normal(size=n) + 0.1 * np.sin(2 * np.pi * 50 * t)
             + 0.002 * np.cumsum(rng.normal(size=n)))
    mit = np.loadtxt(DATA / "mitdb" / "100_MLII_V5_0-300s.csv", delimiter=",", skiprows=1)
    real = mit[(mit[:, 0] >= START) & (mit[:, 0] < START + real_s), 1]
    beats = np.loadtxt(DATA / "mitdb" / "100.rpeaks.csv", delimiter=",", skiprows=1,
                       usecols=1)
    beats = beats[(beats >= START) & (beats < START + real_s)] - START + NOISE_S
    return np.concatenate([noise + real[0], real]), beats


class _Logged(CardiacExtractor):
    """The extractor with a per-candidate log of its levels and the judge's verdict."""

    def __init__(self) -> None:
        super().__init__()
        self.log: list[dict] = []

    def _confirm(self, c, before, after):  # a probe around the detector's own
        s, lv = self._s, self._s.levels
        thr = float(self._threshold(c, c + 1)[0])
        pre = {"spk": lv.spk, "npk": lv.npk, "thr": thr, "ref": lv.reference,
               "t_cross": float(s.hist_ts[c - s.n0]),
               "peak_f": float(s.hist_f[c - s.n0: c + after + 1 - s.n0].max()),
               "trusted_before": self._tracker.quality.trusted}
        bad = self._tracker.quality.bad
        beat = super()._confirm(c, before, after)
        q = self._tracker.quality
        pre |= {"t": beat.t if beat else pre["t_cross"], "kept": beat is not None,
                "good": beat is not None and q.bad == bad, "trusted": q.trusted,
                "reason": q.hold_reason, "refractory_until": float(
                    s.hist_ts[min(s.search_from, s.n0 + s.hist_ts.size) - 1 - s.n0])}
        self.log.append(pre)
        return beat


def run_one(seed: int, log: bool = False) -> dict:
    x, beats = after_noise_signal(seed)
    ex = _Logged() if log else CardiacExtractor()
    presence = Presence((), ARRIVE_S, 2.0)
    step = round(FS / 10)
    ts = np.arange(x.size) / FS
    trust_t = visit_t = None
    flaps = 0
    noise_ok = 0
    for i in range(0, x.size, step):
        f = ex(Chunk(INFO, ts[i:i + step], x[i:i + step, None], float(ts[i:i + step][-1])))
        ok = f.status is Status.OK
        if f.t < NOISE_S:
            noise_ok += ok
        elif trust_t is None and ok:
            trust_t = f.t
        elif trust_t is not None and not ok and f.t < trust_t + 60.0:
            flaps += 1
        if presence.update({"ecg": worn(Status.OK, f.status)}, f.t,
                           {"ecg": f.ok_since}) and visit_t is None:
            visit_t = f.t
    # Which annotated beat of the real ECG earned trust (1 = the first): the last one before
    # it, less the detector's wait (locate_after_s, 80 ms).
    nth = (int(np.searchsorted(beats, trust_t - 0.05, "right")) - int(np.searchsorted(
        beats, NOISE_S)) if trust_t is not None else None)
    row = {"seed": seed,
           "trust_s": None if trust_t is None else round(trust_t - NOISE_S, 2),
           "visit_s": None if visit_t is None else round(visit_t - NOISE_S, 2),
           "trusted_at_beat": nth, "noise_ok_frames": noise_ok, "flaps_60s": flaps,
           "visit_before_heart": visit_t is not None and visit_t < NOISE_S,
           "third_beat_s": round(float(beats[2]) - NOISE_S, 2)}
    if log:
        row["log"] = ex.log
        row["beats"] = beats
    return row


def print_log(row: dict) -> None:
    beats = row["beats"]
    print(f"seed {row['seed']}: trust {row['trust_s']} s, visit {row['visit_s']} s "
          f"(annotated beats at {', '.join(f'{b - NOISE_S:.2f}' for b in beats[:6])} s)")
    print("   t(s) beat  peak_f     spk     npk     thr     ref  kept good trusted reason "
          "refractory_to")
    found = set()
    for e in row["log"]:
        if e["t"] < NOISE_S - 2.0 or e["t"] > NOISE_S + 8.0:
            continue
        k = int(np.argmin(np.abs(beats - e["t"])))
        match = k + 1 if abs(beats[k] - e["t"]) < 0.075 else "-"
        if match != "-" and e["kept"]:
            found.add(k)
        print(f"{e['t'] - NOISE_S:7.2f} {match!s:>4} {e['peak_f']:7.3f} {e['spk']:7.3f} "
              f"{e['npk']:7.3f} {e['thr']:7.3f} {e['ref']:7.3f} {e['kept']!s:>5} "
              f"{e['good']!s:>4} {e['trusted']!s:>7} {e['reason'] or '-':>7} "
              f"{e['refractory_until'] - NOISE_S:7.2f}")
    missed = [f"{k + 1} ({beats[k] - NOISE_S:.2f} s)" for k in range(len(beats))
              if beats[k] < NOISE_S + 8.0 and k not in found]
    print(f"missed annotated beats in the first 8 s: {', '.join(missed) or 'none'}")


def noise_alone(minutes: float) -> list[dict]:
    """Noise with no heart: the frames ok and the times trust was earned, per noise."""
    n = int(minutes * 60 * FS)
    rng = np.random.default_rng(5)
    noises = {
        "white 0.05 mV": lambda: rng.normal(scale=0.05, size=n),
        "drift": lambda: np.cumsum(rng.normal(size=n)) * 0.003 + 0.002 * rng.normal(size=n),
        "electrode motion (seed 7)": lambda: 0.1 * make_noise("em", n, FS, 7),
        "electrode motion (seed 8)": lambda: 0.1 * make_noise("em", n, FS, 8),
        "muscle": lambda: 0.1 * make_noise("ma", n, FS, 7),
        "mix": lambda: 0.1 * sum(make_noise(k, n, FS, 9) for k in ("em", "ma", "bw")),
        "mains hum + drift": lambda: 0.2 * np.sin(2 * np.pi * 50 * np.arange(n) / FS)
        + 0.02 * rng.normal(size=n) + np.cumsum(rng.normal(size=n)) * 0.001,
    }
    rows = []
    step = round(FS / 10)
    for name, make in noises.items():
        x = make()
        ex = CardiacExtractor()
        ok = entries = 0
        prev = False
        for i in range(0, n, step):
            j = min(i + step, n)
            f = ex(Chunk(INFO, np.arange(i, j) / FS, x[i:j, None], (j - 1) / FS))
            o = f.status is Status.OK
            ok += o
            entries += o and not prev
            prev = o
        rows.append({"noise": name, "minutes": minutes, "ok_frames": ok,
                     "frames": -(-n // step), "trust_earned": entries})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _seeds(text: str) -> list[int]:
    a, _, b = text.partition("-")
    return list(range(int(a), int(b) + 1)) if b else [int(v) for v in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="15-24", help="a range A-B or a list A,B,C")
    parser.add_argument("--log", type=int, help="print the per-beat log of this seed")
    parser.add_argument("--noise-alone", type=float, metavar="MINUTES",
                        help="also run the six noises alone for MINUTES each")
    parser.add_argument("--out", type=Path, help="append the rows to this JSONL file")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python "
          f"{platform.python_version()}, load average {load:.1f}")
    if args.log is not None:
        print_log(run_one(args.log, log=True))
        return
    rows = []
    for seed in _seeds(args.seeds):
        rows.append(run_one(seed))
        print(json.dumps(rows[-1]), flush=True)
    trust = [r["trust_s"] for r in rows]
    visit = [r["visit_s"] for r in rows]
    summary = {"seeds": len(rows), "never_trusted": sum(v is None for v in trust),
               "trust_median_s": statistics.median(v if v is not None else np.inf
                                                   for v in trust),
               "trust_worst_s": max(v if v is not None else np.inf for v in trust),
               "visit_median_s": statistics.median(v if v is not None else np.inf
                                                   for v in visit),
               "visit_worst_s": max(v if v is not None else np.inf for v in visit),
               "flaps": sum(r["flaps_60s"] for r in rows),
               "noise_ok_frames": sum(r["noise_ok_frames"] for r in rows)}
    print(json.dumps(summary), flush=True)
    rows.append(summary)
    if args.noise_alone:
        rows.extend(noise_alone(args.noise_alone))
    if args.out:
        with args.out.open("a") as fh:
            for r in rows:
                fh.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
