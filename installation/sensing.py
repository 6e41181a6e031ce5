"""The sensing half of the engine: streams' chunks in, features and controls out.

Extract -> presence -> visitor state -> mapping, with no GL and no generator: the
:class:`~installation.pipeline.Pipeline` is this plus generate -> render, and a sensing node
(``installation sense``) is this alone, publishing what it computes over LSL
(:mod:`installation.distributed`). Visitor presence and state are decided here, by the same
code in every mode. When a visitor leaves, the extractors start afresh, so no history of
theirs (HRV windows, filters) reaches the next visitor's baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from installation.errors import StreamDataError
from installation.features.heart_sources import HeartCrossCheck, heart_fallbacks, heart_keys
from installation.features.registry import FeatureExtractor, make_feature_extractor
from installation.features.state import StateSettings, VisitorState
from installation.mapping import Mapper
from installation.messages import Chunk, Features, Status
from installation.pipeline_latency import PipelineLatency
from installation.presence import VISITOR, Presence, worn
from installation.show import STATE_STREAM, Show, StreamSpec, VisitorSpec

__all__ = ["FEATURE_HISTORY_S", "Sensing", "SensingState", "make_extractor", "make_visitor_state"]

FEATURE_HISTORY_S = 5.0  # what the slowest extractor windows need to be full again


@dataclass(frozen=True)
class SensingState:
    """What a pipeline has learnt about the streams and the visitor, handed to the next
    pipeline on a show reload (:meth:`Pipeline.adopt_sensing`)."""

    streams: Mapping[str, StreamSpec]
    visitor: VisitorSpec
    extractors: Mapping[str, FeatureExtractor]
    features: Mapping[str, Features]
    chunk_status: Mapping[str, Status]
    presence: Presence
    visitor_state: VisitorState


def make_extractor(key: str, spec: StreamSpec) -> FeatureExtractor:
    """The feature extractor for a show stream, chosen by its type."""
    return make_feature_extractor(spec.type, key, spec.channel)


def make_visitor_state(show: Show) -> VisitorState:
    """The show's ``[visitor]`` calibration and composites, fed by its streams."""
    v = show.visitor
    types = {key: spec.type for key, spec in show.streams.items()}
    return VisitorState(StateSettings(
        baseline_s=v.baseline_s, adapt_tau_s=v.adapt_tau_s, smooth_tau_s=v.smooth_tau_s,
        gain=v.gain, sources=show.state_sources(),
        fallbacks=heart_fallbacks(types, show.state_sources()),
    ))


class Sensing:
    """Extract -> presence -> visitor state, and the show's mapper, for one show.

    Parameters
    ----------
    show
        The loaded show.
    latency_s
        From a frame's engine time to its presentation, for ``at_s`` mappings.
    latency
        That figure measured live (:mod:`installation.pipeline_latency`): replaces
        ``latency_s``.
    """

    def __init__(self, show: Show, latency_s: float = 0.0,
                 latency: PipelineLatency | None = None) -> None:
        self.show = show
        self.extractors = {key: make_extractor(key, spec) for key, spec in show.streams.items()}
        self.mapper = Mapper(show.mappings, idle=show.idle, latency_s=latency_s,
                             latency=latency)
        required = tuple(key for key, spec in show.streams.items() if spec.required)
        self.presence = Presence(required, show.visitor.arrive_s, show.visitor.leave_s)
        self.visitor_state = make_visitor_state(show)
        # Two heart sensors that disagree: the worse one is marked (features/heart_sources.py).
        self.cross_check = HeartCrossCheck(heart_keys({k: s.type for k, s in show.streams.items()}))
        self._chunk_status: dict[str, Status] = {}
        self._stale_since: dict[str, float] = {}
        self._features: dict[str, Features] = {}

    def extract(self, chunks: Mapping[str, Chunk], t: float) -> dict[str, Features]:
        """Feed each stream's chunk to its extractor, then update presence and the state.

        Returns
        -------
        dict
            The latest features of every stream that has delivered, plus ``"state"``: the
            visitor's state while one is present, ``lost`` ("nobody here") otherwise.
        """
        for key, chunk in chunks.items():
            try:
                self._features[key] = self.extractors[key](chunk)
            except (KeyError, TypeError, ValueError, IndexError) as error:
                # A bare KeyError names no stream: say which chunk of which stream it was.
                info = chunk.info
                raise StreamDataError(
                    f"streams.{key} (stream {info.name!r}, type {info.type!r}, source_id "
                    f"{info.source_id or '-'!r}): {chunk.n} samples ending at t = "
                    f"{chunk.t_end:.3f} s could not be processed ({type(error).__name__}: "
                    f"{error})"
                ) from error
            self._chunk_status[key] = chunk.status
        features = dict(self._features)
        on = {}
        for key, f in features.items():
            if f.status is Status.STALE:
                self._stale_since.setdefault(key, t)
            else:
                self._stale_since.pop(key, None)
            stale_for = t - self._stale_since.get(key, t)
            on[key] = worn(self._chunk_status.get(key), f.status, stale_for)
        # On this call's clock: the stream's good data began (f.t - f.ok_since) before f.t.
        since = {key: t - (f.t - f.ok_since) for key, f in features.items()}
        if self.presence.update(on, t, since):
            if self.presence.mode == VISITOR:
                self.visitor_state.reset()  # a new visitor: learn their baseline afresh
            else:  # they left: nothing of theirs may shape the next visitor's features
                self.extractors = {key: make_extractor(key, spec)
                                   for key, spec in self.show.streams.items()}
                self._features.clear()
                self._stale_since.clear()
        features = self.cross_check(features)
        if self.presence.mode == VISITOR:
            features[STATE_STREAM] = self.visitor_state(features, t)
        else:
            features[STATE_STREAM] = Features(STATE_STREAM, t, {}, Status.LOST, "nobody here")
        return features

    @property
    def history_s(self) -> float:
        """Seconds of input the features and the visitor's baseline need behind a frame to
        be where a straight run would have them (what a rehearsal seek re-learns)."""
        v = self.show.visitor
        return FEATURE_HISTORY_S + v.baseline_s + v.arrive_s

    def sensing(self) -> SensingState:
        """What this pipeline has learnt of the streams and the visitor (for a reload)."""
        return SensingState(
            streams=dict(self.show.streams), visitor=self.show.visitor,
            extractors=dict(self.extractors), features=dict(self._features),
            chunk_status=dict(self._chunk_status), presence=self.presence,
            visitor_state=self.visitor_state,
        )

    def adopt_sensing(self, other: Sensing | SensingState) -> None:
        """Carry the sensing state over from ``other`` (a show reload in rehearsal): the
        extractors of unchanged streams and, if the streams and ``[visitor]`` are unchanged,
        the visitor's presence and calibrated baseline, so saving show.toml does not make the
        visitor arrive and calibrate again."""
        state = other.sensing() if isinstance(other, Sensing) else other
        same = {key for key in self.extractors
                if self.show.streams.get(key) == state.streams.get(key)}
        for key in same:
            self.extractors[key] = state.extractors[key]
            if key in state.features:
                self._features[key] = state.features[key]
                self._chunk_status[key] = state.chunk_status[key]
        if (same == set(self.extractors) == set(state.extractors)
                and self.show.visitor == state.visitor):
            self.presence, self.visitor_state = state.presence, state.visitor_state

    def reset_sensing(self) -> None:
        """Start sensing afresh (a rehearsal seek): new extractors, nobody present yet."""
        self.extractors = {key: make_extractor(key, spec)
                           for key, spec in self.show.streams.items()}
        self._features.clear()
        self._chunk_status.clear()
        self._stale_since.clear()
        self.presence = Presence(self.presence.required, self.presence.arrive_s,
                                 self.presence.leave_s)
        self.visitor_state.reset()
        self.cross_check.reset()

