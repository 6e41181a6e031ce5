"""A noise stress test in the style of the MIT-BIH Noise Stress Test Database (Moody, Muldrow
& Mark 1984), with synthesised noise: shared by the tests and
``benchmarks/bench_signal_quality.py``.

The NST adds recorded noise (``bw`` baseline wander, ``ma`` muscle artefact, ``em`` electrode
motion) to clean MIT-BIH records at calibrated SNRs, in two-minute noisy segments alternating
with two-minute clean ones after a five-minute clean start. The noise records are not
redistributable here, so each kind is synthesised with numpy from a seed:

* **baseline wander** (``bw``): breathing-like sinusoids (0.15-0.4 Hz) plus a slow random walk
  (low-passed below 0.5 Hz), as from chest movement and electrode drift;
* **muscle artefact** (``ma``): Gaussian noise band-passed to 15-150 Hz (capped below Nyquist),
  the EMG band, under a slowly varying envelope (bursts of contraction);
* **electrode motion** (``em``): band-limited 0.5-12 Hz noise in bursts of 0.3-3 s plus
  skin-stretch transients (decaying steps), the kind that "can mimic ectopic beats and cannot
  be removed by simple filters" (NST documentation): its band overlaps the QRS energy.

The three are mixed at equal power. The SNR follows ``nst``'s definition as its manual states
it: the signal power is ``S = (A / 2)**2 / 2`` with ``A`` the mean peak-to-peak amplitude of the
annotated QRS complexes (the power of a sinusoid of that amplitude, i.e. ``A**2 / 8``), after
dropping the largest and smallest 5 % of the measurements; the noise power ``N`` is the mean,
over 1-s windows with their mean removed, of the noise's mean square, trimmed the same way.
Noise is scaled so that ``10 log10(S / N)`` equals the requested SNR.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

__all__ = ["NOISE_KINDS", "SNRS_DB", "NoisyRecord", "add_nst_noise", "make_noise"]

NOISE_KINDS = ("bw", "ma", "em")
SNRS_DB = (24, 18, 12, 6, 0, -6)
LEARN_S = 300.0  # the NST's clean start
SEGMENT_S = 120.0  # then noisy and clean two-minute segments, alternating


def _trimmed_mean(v: np.ndarray, trim: float = 0.05) -> float:
    v = np.sort(np.asarray(v, float))
    k = int(trim * v.size)
    return float(v[k: v.size - k].mean()) if v.size > 2 * k else float(v.mean())


def signal_power(ecg: np.ndarray, fs: float, beats_s: np.ndarray) -> float:
    """``S`` of nst: (trimmed mean QRS peak-to-peak amplitude)**2 / 8."""
    half = max(1, round(0.05 * fs))
    ptp = [np.ptp(ecg[max(0, i - half): i + half + 1])
           for i in np.round(beats_s * fs).astype(int) if 0 <= i < ecg.size]
    return _trimmed_mean(np.array(ptp)) ** 2 / 8.0


def noise_power(noise: np.ndarray, fs: float) -> float:
    """``N`` of nst: trimmed mean of the mean-removed mean square in 1-s windows."""
    n = int(fs)
    w = noise[: noise.size // n * n].reshape(-1, n)
    return _trimmed_mean(((w - w.mean(axis=1, keepdims=True)) ** 2).mean(axis=1))


def _envelope(rng: np.random.Generator, n: int, fs: float, tau_s: float) -> np.ndarray:
    """A positive, slowly varying amplitude envelope (log-normal, low-passed)."""
    sos = signal.butter(2, min(1.0 / tau_s, 0.4 * fs), fs=fs, output="sos")
    g = signal.sosfiltfilt(sos, rng.normal(size=n))
    g /= g.std() or 1.0
    return np.exp(0.7 * g)


def make_noise(kind: str, n: int, fs: float, seed: int) -> np.ndarray:
    """``n`` samples of synthetic noise of one NST kind, unit power, seeded."""
    rng = np.random.default_rng([seed, NOISE_KINDS.index(kind)])
    t = np.arange(n) / fs
    if kind == "bw":
        x = sum(rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * rng.uniform(0.15, 0.4) * t
                                               + rng.uniform(0, 2 * np.pi)) for _ in range(3))
        walk = np.cumsum(rng.normal(size=n))
        walk = signal.sosfiltfilt(signal.butter(2, 0.5, fs=fs, output="sos"), walk)
        x = x + walk / (walk.std() or 1.0)
    elif kind == "ma":
        band = [15.0, min(150.0, 0.45 * fs)]
        x = signal.sosfilt(signal.butter(4, band, "bandpass", fs=fs, output="sos"),
                           rng.normal(size=n))
        x *= _envelope(rng, n, fs, 0.5)
    elif kind == "em":
        x = signal.sosfilt(signal.butter(2, [0.5, 12.0], "bandpass", fs=fs, output="sos"),
                           rng.normal(size=n))
        gate = np.zeros(n)
        i = 0
        while i < n:  # bursts of motion, 0.3-3 s, separated by 0.2-2 s of calm
            length = int(rng.uniform(0.3, 3.0) * fs)
            gate[i: i + length] = rng.uniform(0.5, 1.5)
            i += length + int(rng.uniform(0.2, 2.0) * fs)
        gate = signal.sosfiltfilt(signal.butter(1, 2.0, fs=fs, output="sos"), gate)
        steps = np.zeros(n)
        hits = rng.random(n) < 0.4 / fs  # ~0.4 skin-stretch transients per second
        steps[hits] = rng.normal(scale=3.0, size=int(hits.sum()))
        decay = signal.lfilter([1.0], [1.0, -np.exp(-1.0 / (0.15 * fs))], steps)
        x = x * gate + signal.sosfilt(signal.butter(1, 25.0, fs=fs, output="sos"), decay)
    else:
        raise ValueError(f"unknown noise kind {kind!r} (known: {', '.join(NOISE_KINDS)})")
    x = x - x.mean()
    return x / np.sqrt(noise_power(x, fs))


@dataclass(frozen=True)
class NoisyRecord:
    """A clean ECG with calibrated noise added in the NST protocol's noisy segments."""

    ecg: np.ndarray
    noisy: np.ndarray  # bool per sample: inside a noisy segment
    snr_db: float
    scale: float  # the gain applied to the unit-power noise


def noisy_segments(n: int, fs: float, learn_s: float = LEARN_S,
                   segment_s: float = SEGMENT_S) -> np.ndarray:
    """NST protocol: clean for ``learn_s``, then noisy and clean segments alternating."""
    t = np.arange(n) / fs
    after = t - learn_s
    return (after >= 0) & ((after // segment_s) % 2 == 0)


def add_nst_noise(ecg: np.ndarray, fs: float, beats_s: np.ndarray, snr_db: float,
                  seed: int = 0, kinds: tuple[str, ...] = NOISE_KINDS,
                  learn_s: float = LEARN_S, segment_s: float = SEGMENT_S) -> NoisyRecord:
    """``ecg`` with the noise ``kinds`` (mixed at equal power) added at ``snr_db``.

    Parameters
    ----------
    ecg, fs
        The clean ECG and its sampling rate.
    beats_s
        Annotated beat times (s), for the signal power.
    snr_db
        The SNR during the noisy segments, as nst defines it.
    seed
        Seeds every noise source: the same call gives the same record.
    """
    n = ecg.size
    mix = sum(make_noise(k, n, fs, seed) for k in kinds)
    mix = mix / np.sqrt(noise_power(mix, fs))
    scale = float(np.sqrt(signal_power(ecg, fs, beats_s) / 10 ** (snr_db / 10.0)))
    noisy = noisy_segments(n, fs, learn_s, segment_s)
    # Ramp the gain over 50 ms at each segment edge: a step would itself be an artefact.
    ramp = signal.convolve(noisy.astype(float), np.ones(max(1, int(0.05 * fs))) /
                           max(1, int(0.05 * fs)), mode="same")
    return NoisyRecord(ecg + scale * ramp * mix, noisy, float(snr_db), scale)
