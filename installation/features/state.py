"""Per-visitor normalisation and the composite ``arousal`` and ``calm`` signals.

Every visitor's body is different: a resting heart rate of 55 or of 90 bpm, skin conductance of
2 or of 20 µS. The piece should respond to *changes* in this visitor, so each feature is

1. calibrated: its mean and spread are learnt over the first ``baseline_s`` of valid data;
   meanwhile its z-score is 0 (the visitor is, by definition, at their baseline), so the
   piece meets a new visitor at the neutral 0.5 at once instead of waiting for calibration;
2. normalised: z-scored against that baseline, which then keeps adapting slowly
   (exponential mean and variance with time constant ``adapt_tau_s``) so hours-long drift
   (sweat build-up, settling heart) does not saturate the piece;
3. smoothed: exponentially, with time constant ``smooth_tau_s``.

Composites (each a logistic squash of a weighted mean of z-scores, 0..1, 0.5 = baseline):

``arousal``
    heart rate (+1), EDA tonic level (+1), EDA phasic level (+1), SCR rate (+1),
    breathing rate (+0.5),
    RMSSD (-1: vagal tone falls with arousal), EEG engagement beta/(alpha+theta) (+0.5).
``calm``
    RMSSD (+1), EEG relative alpha (+1), heart rate (-1), breathing rate (-1),
    EDA phasic level (-0.5), SCR rate (-0.5).

Only the features present (and OK) at a given moment contribute; weights are renormalised
over them. The inputs are ``stream.feature`` names found in the feature messages of any stream
(``ecg.heart_rate``, ``eda.eda_tonic``...): :class:`VisitorState` is configured with which
stream provides which quantity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from installation.messages import Features, Status

__all__ = ["COMPOSITE_WEIGHTS", "STATE_FEATURES", "STATE_STREAM", "StateSettings", "VisitorState"]

STATE_STREAM = "state"  # the feature path of the visitor's state: state.calm, state.arousal...

# quantity -> (arousal weight, calm weight)
COMPOSITE_WEIGHTS: dict[str, tuple[float, float]] = {
    "heart_rate": (1.0, -1.0),
    "eda_tonic": (1.0, 0.0),
    "eda_phasic": (1.0, -0.5),
    "scr_rate": (1.0, -0.5),
    "resp_rate": (0.5, -1.0),
    "hrv_rmssd": (-1.0, 1.0),
    "engagement": (0.5, 0.0),
    "alpha_rel": (0.0, 1.0),
}
# What the state offers to mappings as ``state.<name>``.
STATE_FEATURES = frozenset(
    {"calm", "arousal", "calibrated", *(f"z_{q}" for q in COMPOSITE_WEIGHTS)}
)
# Rates and variabilities report 0 until they are known: a 0 is "unknown", not a value.
_POSITIVE = frozenset({"heart_rate", "hrv_rmssd", "resp_rate"})


@dataclass(frozen=True, slots=True)
class StateSettings:
    """Settings of :class:`VisitorState` (seconds)."""

    baseline_s: float = 60.0
    adapt_tau_s: float = 300.0
    smooth_tau_s: float = 3.0
    z_clip: float = 4.0
    gain: float = 1.0  # logistic slope: composite = 1 / (1 + exp(-gain * weighted z))
    min_spread: float = 1e-6  # floor on the baseline standard deviation (relative to |mean|)
    # quantity -> "stream.feature" providing it; absent quantities are simply unused.
    sources: Mapping[str, str] = field(
        default_factory=lambda: {
            "heart_rate": "ecg.heart_rate",
            "hrv_rmssd": "ecg.hrv_rmssd",
            "resp_rate": "ecg.resp_rate",
            "eda_tonic": "eda.eda_tonic",
            "eda_phasic": "eda.eda_phasic",
            "scr_rate": "eda.scr_rate",
            "engagement": "eeg.engagement",
            "alpha_rel": "eeg.alpha_rel",
        }
    )
    # quantity -> further "stream.feature"s read, in order, while the source is not ok (a
    # second heart sensor when the first is noisy or disagrees: ``heart_sources.py``).
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(slots=True)
class _Norm:
    """Baseline, then slowly adapting, mean and variance of one quantity."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0  # Welford sum of squares during calibration
    var: float = 0.0
    t_first: float = math.nan
    calibrated: bool = False
    smooth_z: float = 0.0


class VisitorState:
    """Calibrates, normalises and combines features into ``arousal`` and ``calm``."""

    def __init__(self, settings: StateSettings | None = None) -> None:
        self.settings = settings or StateSettings()
        self._norms: dict[str, _Norm] = {q: _Norm() for q in self.settings.sources}
        self._t = math.nan

    def reset(self) -> None:
        """A new visitor: forget the baseline."""
        self._norms = {q: _Norm() for q in self.settings.sources}
        self._t = math.nan

    def __call__(self, features: Mapping[str, Features], t: float) -> Features:
        """Update with the latest features of every stream; return the state at ``t``.

        Returns
        -------
        Features
            Stream :data:`STATE_STREAM`: ``arousal`` and ``calm`` (0..1, 0.5 = this visitor's
            baseline), ``calibrated`` (fraction of the visit's baseline period done,
            never decreasing), and ``z_<q>`` (the smoothed z-score of each quantity, 0 until
            its own baseline is learnt). Status ``ok``
            once any source delivers (``reason`` is ``"calibrating"`` until the baseline is
            learnt), ``stale`` while none does.
        """
        cfg = self.settings
        dt = 0.0 if not math.isfinite(self._t) else max(0.0, t - self._t)
        self._t = t
        zs: dict[str, float] = {}
        for q, source in cfg.sources.items():
            value = self._read(features, (source, *cfg.fallbacks.get(q, ())))
            if value is None:
                continue
            if q in _POSITIVE and not value > 0.0:
                continue
            z = self._update(self._norms[q], value, t, dt)
            if z is not None:
                zs[q] = z
        values = {f"z_{q}": self._norms[q].smooth_z for q in cfg.sources}
        # The visit's calibration period, from the first value of any quantity: it only ever
        # grows, so a fade keyed to it cannot flicker. A quantity that starts later (breathing
        # needs ~20 s of beats) keeps z = 0 until its own baseline_s is learnt.
        starts = [n.t_first for n in self._norms.values() if math.isfinite(n.t_first)]
        values["calibrated"] = min(1.0, (t - min(starts)) / cfg.baseline_s) if starts else 0.0
        for idx, name in ((0, "arousal"), (1, "calm")):
            num = den = 0.0
            for q, z in zs.items():
                w = COMPOSITE_WEIGHTS.get(q, (0.0, 0.0))[idx]
                num += w * z
                den += abs(w)
            score = num / den if den else 0.0
            values[name] = 1.0 / (1.0 + math.exp(-cfg.gain * score))
        if not zs:
            status, reason = Status.STALE, "waiting for features"
        else:
            status, reason = Status.OK, "calibrating" if values["calibrated"] < 1.0 else ""
        return Features(STATE_STREAM, t, values, status, reason)

    @staticmethod
    def _read(features: Mapping[str, Features], sources: tuple[str, ...]) -> float | None:
        """The first ``ok`` value among ``sources`` (``stream.feature``), if any."""
        for source in sources:
            stream, _, name = source.partition(".")
            f = features.get(stream)
            if f is not None and f.status is Status.OK and name in f.values:
                return float(f.values[name])
        return None

    def _update(self, n: _Norm, v: float, t: float, dt: float) -> float | None:
        cfg = self.settings
        if not math.isfinite(v):
            return None
        if not math.isfinite(n.t_first):
            n.t_first = t
        if not n.calibrated:
            n.n += 1
            d = v - n.mean
            n.mean += d / n.n
            n.m2 += d * (v - n.mean)
            if t - n.t_first < cfg.baseline_s:
                return 0.0
            n.var = n.m2 / max(n.n - 1, 1)
            n.calibrated = True
        else:
            a = 1.0 - math.exp(-dt / cfg.adapt_tau_s) if dt > 0 else 0.0
            d = v - n.mean
            n.mean += a * d
            n.var = (1.0 - a) * (n.var + a * d * d)
        spread = max(math.sqrt(max(n.var, 0.0)), cfg.min_spread * max(abs(n.mean), 1.0))
        z = max(-cfg.z_clip, min(cfg.z_clip, (v - n.mean) / spread))
        k = 1.0 - math.exp(-dt / cfg.smooth_tau_s) if dt > 0 and cfg.smooth_tau_s > 0 else 1.0
        n.smooth_z += k * (z - n.smooth_z)
        return n.smooth_z
