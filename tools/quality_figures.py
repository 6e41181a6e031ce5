"""Stills for docs/signal-quality.md: what the ECG feature says, before and after issue 15.

    .venv/bin/python tools/quality_figures.py [--baseline 40c4d36]

Two scenes, each through the ECG extractor of this checkout and of ``--baseline`` (the commit
before the quality work, extracted with ``git archive`` and run in a subprocess), and through
the default show's ``energy`` mapping (heart rate 55-110 bpm -> 0..1, idle 0.3):

* ``docs/stills/quality_noise_then_heart.png``: 20 s of what a floating ECG input picks up
  (white noise, mains hum, drift), then a real ECG (MIT-BIH 100 from 100 s);
* ``docs/stills/quality_flutter.png``: a real ECG with 15 s of flutter-like activity spliced in.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
OUT = REPO / "docs" / "stills"
FS = 360.0
STATUS_COLOURS = {"ok": "#4caf50", "stale": "#ffb300", "invalid": "#e53935", "lost": "#757575"}


def scene(name: str) -> tuple[np.ndarray, float]:
    """The scene's ECG (mV at 360 Hz) and the time its interesting part starts."""
    mit = np.loadtxt(DATA / "mitdb" / "100_MLII_V5_0-300s.csv", delimiter=",", skiprows=1)
    real = mit[(mit[:, 0] >= 100.0) & (mit[:, 0] < 140.0), 1]
    if name == "noise_then_heart":
        rng = np.random.default_rng(15)
        n = int(20 * FS)
        t = np.arange(n) / FS
        noise = (0.05 * rng.normal(size=n) + 0.1 * np.sin(2 * np.pi * 50 * t)
                 + 0.002 * np.cumsum(rng.normal(size=n)))
        return np.concatenate([noise + real[0], real[: int(25 * FS)]]), 20.0
    x = real.copy()
    t = np.arange(x.size) / FS
    sel = (t >= 12.0) & (t < 27.0)
    tt = t[sel] - 12.0
    f = 4.2 + 0.15 * np.sin(2 * np.pi * 0.2 * tt)
    x[sel] = 0.9 * np.sin(2 * np.pi * np.cumsum(f) / FS) + np.median(x)
    return x, 12.0


def features(name: str) -> list[tuple[float, str, float]]:
    """``(t, status, heart_rate)`` per 100 ms chunk, with whichever engine is importable."""
    from installation.features.cardiac import CardiacExtractor
    from installation.messages import Chunk, StreamInfo

    x, _ = scene(name)
    ex = CardiacExtractor()
    info = StreamInfo("ecg", "ECG", 1, FS)
    ts = np.arange(x.size) / FS
    out = []
    for i in range(0, x.size, 36):
        f = ex(Chunk(info, ts[i:i + 36], x[i:i + 36, None], float(ts[i:i + 36][-1])))
        out.append((f.t, f.status.value, float(f.values["heart_rate"])))
    return out


def energy(rows: list[tuple[float, str, float]]) -> np.ndarray:
    """The default show's ``energy`` control over ``rows`` (its mapping, as the Mapper runs it)."""
    from installation.mapping import Mapper
    from installation.messages import Features, Status
    from installation.show import load_show

    spec = next(m for m in load_show(REPO / "show.toml").mappings if m.control == "energy")
    mapper = Mapper([spec])
    out = []
    for t, status, hr in rows:
        f = Features("ecg", t, {"heart_rate": hr}, Status(status), "" if status == "ok" else "x")
        out.append(mapper({"ecg": f}, t).values["energy"])
    return np.array(out)


def _draw(name: str, new: list, old: list, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, start = scene(name)
    t = np.arange(x.size) / FS
    fig, axes = plt.subplots(4, 1, figsize=(9, 6.2), sharex=True,
                             gridspec_kw={"height_ratios": [2, 1.2, 0.5, 1.2]})
    axes[0].plot(t, x, lw=0.5, color="#333333")
    axes[0].set_ylabel("ECG (mV)")
    axes[0].set_title(title, fontsize=10)
    for rows, label, style in ((old, "before", "--"), (new, "after", "-")):
        tt = np.array([r[0] for r in rows])
        hr = np.array([r[2] for r in rows])
        ok = np.array([r[1] == "ok" for r in rows])
        axes[1].plot(tt, np.where(ok, hr, np.nan), style, lw=1.2, label=f"{label}: ok")
        axes[3].plot(tt, energy(rows), style, lw=1.2, label=label)
    axes[1].set_ylabel("heart rate\nwhen ok (bpm)")
    axes[1].legend(fontsize=7, loc="upper left")
    for k, rows in enumerate((old, new)):
        for (t0, status, _), (t1, _, _) in itertools.pairwise(rows):
            axes[2].axvspan(t0, t1, ymin=k / 2, ymax=(k + 1) / 2, lw=0,
                            color=STATUS_COLOURS[status])
    axes[2].set_yticks([0.25, 0.75], ["before", "after"], fontsize=7)
    axes[2].set_ylabel("status", fontsize=8)
    axes[3].set_ylabel("energy\ncontrol")
    axes[3].set_xlabel("time (s)")
    axes[3].legend(fontsize=7, loc="upper left")
    for ax in axes:
        ax.axvline(start, color="#1565c0", lw=0.8, ls=":")
    fig.text(0.99, 0.005, "green ok, amber stale, red invalid", ha="right", fontsize=7)
    fig.tight_layout()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"quality_{name}.png"
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="40c4d36")
    parser.add_argument("--features-only", metavar="SCENE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.features_only:  # the subprocess that runs the old engine
        print(json.dumps(features(args.features_only)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", args.baseline,
                                  "installation"], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        titles = {
            "noise_then_heart": "A floating input (noise, hum, drift), then a real ECG at 20 s",
            "flutter": "A real ECG with flutter-like activity from 12 to 27 s",
        }
        for name, title in titles.items():
            # The old engine first on the path: it shadows this checkout's installed one.
            env = {**os.environ, "PYTHONPATH": tmp}
            old = json.loads(subprocess.run(
                [sys.executable, str(Path(__file__)), "--features-only", name],
                capture_output=True, text=True, check=True, env=env).stdout)
            print(_draw(name, features(name), old, title))


if __name__ == "__main__":
    main()
