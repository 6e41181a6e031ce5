"""One place that knows which extractor serves which stream type (used by the pipeline)."""

from __future__ import annotations

from typing import Protocol

from installation.features.base import Extractor
from installation.features.cardiac import CardiacExtractor, CardiacSettings
from installation.features.catalog import STREAM_TYPES
from installation.features.eda import EdaExtractor, EdaSettings
from installation.features.eeg import EegExtractor
from installation.features.ppg import PpgExtractor, PpgSettings
from installation.features.respiration import RespirationExtractor, RespirationSettings
from installation.features.rr import RrExtractor, RrSettings
from installation.messages import Chunk, Features

__all__ = ["EXTRACTORS", "EXTRACTOR_TYPES", "FeatureExtractor", "make_feature_extractor"]

EXTRACTOR_TYPES = STREAM_TYPES  # the one list (catalog.py), re-exported for the pipeline

# Stream type -> (extractor class, its settings made with the show's channel).
EXTRACTORS: dict[str, type[Extractor]] = {
    "ECG": CardiacExtractor, "EEG": EegExtractor, "PPG": PpgExtractor, "RR": RrExtractor,
    "EDA": EdaExtractor, "RSP": RespirationExtractor,
}
_SETTINGS = {"ECG": CardiacSettings, "PPG": PpgSettings, "RR": RrSettings, "EDA": EdaSettings,
             "RSP": RespirationSettings}
assert tuple(EXTRACTORS) == STREAM_TYPES and all(c.kind == k for k, c in EXTRACTORS.items())


class FeatureExtractor(Protocol):
    """A stateful, causal stage: one chunk in, the stream's features at its end out."""

    def __call__(self, chunk: Chunk) -> Features: ...


def make_feature_extractor(kind: str, stream: str, channel: int = 0) -> FeatureExtractor:
    """A fresh extractor for a stream of LSL type ``kind`` (case-insensitive).

    Parameters
    ----------
    kind
        One of :data:`EXTRACTOR_TYPES`.
    stream
        The show's key for the stream, written into its features.
    channel
        The channel used by single-channel extractors (every type but EEG).
    """
    kind = kind.upper()
    if kind not in EXTRACTORS:
        raise ValueError(f"no extractor for stream type {kind!r}")
    cls = EXTRACTORS[kind]
    if kind == "EEG":
        return cls(stream=stream)
    return cls(_SETTINGS[kind](channel=channel), stream=stream)
