"""What each stream type offers: the one list of stream types and the feature names each makes.

Kept free of numpy/scipy imports so that show validation (``installation check``) can name a
typo'd feature at once. Each extractor class points at its entry here (``produces``), and a
unit test runs every extractor and holds its output to this list, so the two cannot drift.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

__all__ = ["FEATURES", "MAPPED", "PULSE_AT", "STREAM_TYPES", "FeatureNames", "feature_names"]

STREAM_TYPES = ("ECG", "EEG", "PPG", "RR", "EDA", "RSP")


@dataclass(frozen=True, slots=True)
class FeatureNames:
    """The feature names one extractor type produces.

    ``patterns`` are per-channel names with a ``<label>`` placeholder, e.g.
    ``alpha_rel_<label>`` (the label is the channel's, as the stream describes it).
    """

    names: tuple[str, ...]
    patterns: tuple[str, ...] = ()

    def has(self, name: str) -> bool:
        """Whether ``name`` is one of the names, or fits one of the patterns."""
        return name in self.names or any(_pattern(p).fullmatch(name) for p in self.patterns)

    def closest(self, name: str) -> str | None:
        """The valid name nearest to ``name`` (a per-channel typo keeps its label)."""
        candidates = list(self.names)
        parts = name.split("_")
        for p in self.patterns:
            prefix = p.split("<", 1)[0]  # "alpha_rel_"
            # "alpha_rl_Fp1" is closest to "alpha_rel_Fp1": the pattern with the name's label.
            guess = prefix + "_".join(parts[prefix.count("_"):])
            candidates.append(guess if _pattern(p).fullmatch(guess) else p)
        found = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
        return found[0] if found else None

    def describe(self) -> str:
        return ", ".join((*self.names, *self.patterns))


def _pattern(p: str) -> re.Pattern[str]:
    return re.compile(re.escape(p).replace(re.escape("<label>"), r"[A-Za-z0-9_]+"))


# Every heart source reports the same values (``beats.BeatTracker``).
# The last four are the beat timing of ``beat_timing.BeatPredictor`` (issue 16).
HEART = ("heart_rate", "rr", "hrv_rmssd", "hrv_sdnn", "beat_pulse", "beat_phase", "beat_count",
         "signal_quality", "since_beat_s", "next_beat_in_s", "beat_phase_pred",
         "beat_confidence")
_BANDS = ("delta", "theta", "alpha", "beta", "gamma")

FEATURES: dict[str, FeatureNames] = {
    "ECG": FeatureNames((*HEART, "resp_rate")),
    "EEG": FeatureNames(
        (*(f"{b}_rel" for b in _BANDS), "alpha", "theta", "beta", "engagement",
         "alpha_asymmetry", "good_channels", "line_noise", "artefact"),
        patterns=tuple(f"{b}_rel_<label>" for b in _BANDS),
    ),
    "PPG": FeatureNames(HEART),
    "RR": FeatureNames(HEART),
    "EDA": FeatureNames(("eda_tonic", "eda_phasic", "scr_amplitude", "scr_rate", "scr_pulse")),
    "RSP": FeatureNames(("resp_rate", "breath_phase", "inhaling", "breath_depth")),
}
assert tuple(FEATURES) == STREAM_TYPES

# Features a mapping computes from a stream's own ones rather than its extractor
# (``pulse_at``: a pulse placed ``at_s`` after each beat, ``installation/pulse_at.py``).
PULSE_AT = "pulse_at"  # the feature name a mapping reads to get that pulse
MAPPED: dict[str, tuple[str, ...]] = {kind: (PULSE_AT,) for kind in ("ECG", "PPG", "RR")}


def feature_names(kind: str) -> FeatureNames:
    """The feature names of stream type ``kind`` (case-insensitive)."""
    return FEATURES[kind.upper()]
