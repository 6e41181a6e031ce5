"""``installation sense SHOW``: the sensing node of a show spread over several machines.

Live LSL streams in (the show's ``[streams]``), the sensing half of the engine
(:class:`~installation.sensing.Sensing`) and the generator's walk, and out, once per frame,
a ``Controls`` and a ``Features`` LSL stream (:mod:`installation.distributed`). Render nodes
(``installation render``) follow them. Nothing is drawn here.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass

import numpy as np

from installation.clock import LslClock
from installation.distributed import (
    STATUS_CODES,
    ControlsLayout,
    controls_source_id,
    feature_labels,
    show_controls,
)
from installation.inputs.live import LslSource
from installation.presence import VISITOR
from installation.sensing import Sensing
from installation.show import STATE_STREAM, Show

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SenseOptions:
    max_seconds: float | None = None  # tests and benchmarks; None: until stopped


def _outlet(name: str, type_: str, labels: tuple[str, ...], source_id: str):
    import pylsl

    info = pylsl.StreamInfo(name, type_, len(labels), 0.0, pylsl.cf_double64, source_id)
    channels = info.desc().append_child("channels")
    for label in labels:
        channels.append_child("channel").append_child_value("label", label)
    return pylsl.StreamOutlet(info)


def run_sense(show: Show, options: SenseOptions) -> int:
    """Sense, map, walk and publish until SIGINT/SIGTERM or ``max_seconds``; returns 0."""
    import torch

    from installation.generator.factory import make_generator
    from installation.modes.kiosk import StopSignal

    source_id = controls_source_id(show)
    generator = make_generator(show, device="cpu", buffers=2)
    walk = generator.walk
    layout = ControlsLayout(show_controls(show), int(generator.latent.numel()))
    sensing = Sensing(show)
    clock = LslClock(show.output.fps)
    period = 1.0 / show.generator.rate
    stop = StopSignal()
    with contextlib.ExitStack() as stack:
        source = stack.enter_context(LslSource(show.streams))
        controls_out = _outlet(f"{show.meta.title} controls", "Controls", layout.labels,
                               source_id)
        features_out = None
        labels: tuple[str, ...] = ()
        _log.info("sensing %s; publishing controls as source_id %s", show.path, source_id)
        print(f"sense: source_id {source_id}", flush=True)
        start = clock.now()
        seq, image, image_t, count = 0, -1, 0.0, 0
        z = z_prev = np.zeros(layout.latent_dim)
        with contextlib.suppress(KeyboardInterrupt):
            while stop.running():
                t = clock.now()
                if options.max_seconds is not None and t - start >= options.max_seconds:
                    break
                features = sensing.extract(source.read(t), t)
                controls = sensing.mapper(features, t)
                if t + 1e-9 >= count * period:  # the generator's schedule, as in lock-step
                    with torch.inference_mode():
                        z_new = walk(controls).detach().cpu().numpy().astype(np.float64)
                    z_prev, z = (z if image >= 0 else z_new), z_new
                    image, image_t = image + 1, t
                    count = math.floor(t / period + 1e-9) + 1
                idle = 0.0 if sensing.presence.mode == VISITOR else 1.0
                controls_out.push_sample(layout.pack(t, seq, idle, image, image_t, z, z_prev,
                                                     controls),
                                         t)
                streams = {k: f for k, f in features.items() if k != STATE_STREAM}
                if feature_labels(streams) != labels:  # a stream came or went: a new layout
                    labels = feature_labels(streams)
                    features_out = _outlet(f"{show.meta.title} features", "Features", labels,
                                           f"{source_id}-features") if labels else None
                if features_out is not None:
                    row = []
                    for key in sorted(streams):
                        row.append(STATUS_CODES[streams[key].status])
                        row.extend(streams[key].values[n] for n in sorted(streams[key].values))
                    features_out.push_sample(row, t)
                seq += 1
                clock.tick()
    return 0
