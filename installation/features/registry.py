"""One place that knows which extractor serves which stream type (used by the pipeline)."""

from __future__ import annotations

from typing import Protocol

from installation.features.cardiac import CardiacExtractor, CardiacSettings
from installation.features.eda import EdaExtractor, EdaSettings
from installation.features.eeg import EegExtractor, EegSettings
from installation.features.ppg import PpgExtractor, PpgSettings
from installation.features.respiration import RespirationExtractor, RespirationSettings
from installation.features.rr import RrExtractor, RrSettings
from installation.messages import Chunk, Features

__all__ = ["EXTRACTOR_TYPES", "FeatureExtractor", "make_feature_extractor"]

EXTRACTOR_TYPES = ("ECG", "EEG", "PPG", "RR", "EDA", "RSP")


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
    if kind == "ECG":
        return CardiacExtractor(CardiacSettings(channel=channel), stream=stream)
    if kind == "EEG":
        return EegExtractor(EegSettings(), stream=stream)
    if kind == "PPG":
        return PpgExtractor(PpgSettings(channel=channel), stream=stream)
    if kind == "RR":
        return RrExtractor(RrSettings(channel=channel), stream=stream)
    if kind == "EDA":
        return EdaExtractor(EdaSettings(channel=channel), stream=stream)
    if kind == "RSP":
        return RespirationExtractor(RespirationSettings(channel=channel), stream=stream)
    raise ValueError(f"no extractor for stream type {kind!r}")
