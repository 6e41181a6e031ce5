"""Figure of the pulse on the beat: docs/stills/pulse_at.png.

    .venv/bin/python tools/plot_beat_timing.py [--out docs/stills/pulse_at.png]

Ten seconds of MIT-BIH 100 (tests/data, around its atrial premature beat at 5.68 s),
replayed at 30 fps: the ECG with the annotated R-peaks, the ``pulse_at`` control per frame at
at_s = 0 (forecast; red ticks: fall-backs to the detected beat) and at_s = 0.23 (delay line),
with each beat's target R + at_s, and the forecast's confidence.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from installation.features.beat_eval import replay_features
from installation.messages import Status
from installation.pulse_at import BeatPulse

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
FS = 360.0


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "stills" / "pulse_at.png")
    args = ap.parse_args()
    x = np.loadtxt(DATA / "mitdb100_MLII_0-60s.csv", comments="#", skiprows=3)
    with (DATA / "mitdb100_rpeaks_0-60s.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    beats = np.array([float(r["time_s"]) for r in rows])
    symbols = [r["symbol"] for r in rows]
    feats = replay_features(x, FS, fps=30.0, t_max=14.5)
    lo, hi = 3.5, 14.0
    fig, ax = plt.subplots(3, 1, figsize=(11, 6.2), sharex=True, dpi=110,
                           gridspec_kw={"height_ratios": [1.2, 1.6, 0.8]})
    ts = np.arange(x.size) / FS
    m = (ts >= lo) & (ts <= hi)
    ax[0].plot(ts[m], x[m], lw=0.8, color="0.2")
    for b, s in zip(beats, symbols, strict=True):
        if lo <= b <= hi:
            ax[0].axvline(b, color="tab:red" if s != "N" else "tab:green", lw=0.8, alpha=0.6)
            ax[0].text(b, x[m].max(), s, ha="center", va="bottom", fontsize=8)
    ax[0].set_ylabel("ECG MLII (mV)")
    ax[0].set_title("MIT-BIH 100, replay at 30 fps: green/red lines = annotated R-peaks (N / A)")
    for at, colour, off in ((0.0, "tab:blue", 0.0), (0.23, "tab:orange", 1.15)):
        pulse = BeatPulse(at)
        t, v = [], []
        for f in feats:
            t.append(f.t)
            v.append(pulse(f.values, f.t) if f.status is Status.OK else 0.0)
        t, v = np.array(t), np.array(v)
        k = (t >= lo) & (t <= hi)
        ax[1].step(t[k], v[k] + off, where="post", color=colour, lw=1.2,
                   label=f"pulse_at, at_s = {at:g}")
        for b in beats[(beats + at >= lo) & (beats + at <= hi)]:
            ax[1].plot([b + at] * 2, [off, off + 1.05], color=colour, ls=":", lw=0.9)
        for fire in pulse.fires:
            if fire.how == "fallback" and lo <= fire.t <= hi:
                ax[1].plot(fire.t, off + 1.0, "v", color="tab:red", ms=6)
    ax[1].set_ylabel("control")
    ax[1].legend(loc="upper right", fontsize=8, ncol=2)
    ax[1].set_title("dotted: target R + at_s; red triangle: fall-back to the detected beat",
                    fontsize=9)
    ft = np.array([f.t for f in feats])
    conf = np.array([f.values["beat_confidence"] for f in feats])
    k = (ft >= lo) & (ft <= hi)
    ax[2].plot(ft[k], conf[k], color="tab:purple")
    ax[2].axhline(0.5, color="0.5", ls="--", lw=0.8)
    ax[2].set_ylabel("forecast\nconfidence")
    ax[2].set_xlabel("time (s)")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(args.out)


if __name__ == "__main__":
    main()
