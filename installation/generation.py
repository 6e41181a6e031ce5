"""When the generator runs, kept out of the pipeline: two policies, chosen per mode.

* :class:`LockStepGeneration` (replay, rehearsal): a new image exactly when the generator's
  schedule (``generator.rate``) says, on the caller's thread, so which frames get a new image
  depends only on engine time: deterministic at any output fps.
* :class:`LiveGeneration` (gallery): the generator runs in a :class:`GeneratorWorker` thread;
  each frame posts the controls and takes the newest image, never waiting for inference. A
  worker thread that dies (a driver fault, out of GPU memory) is restarted, at once the first
  time, then with a growing back-off, while the shaders keep animating the last image.

The pipeline builds the generator (``make_generator(show, device, buffers=policy.buffers)``)
and hands it to the policy; a policy is the pipeline's only caller of the generator.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import ClassVar, Protocol

from installation.generator.worker import GeneratorWorker
from installation.messages import Controls, GeneratedImage

__all__ = ["Generation", "GenerationPolicy", "LiveGeneration", "LockStepGeneration"]

_log = logging.getLogger(__name__)
RESTART_BACKOFF_MAX_S = 60.0
HEALTHY_S = 60.0  # a worker that ran this long resets the back-off


class _Generator(Protocol):
    """The surface of ``make_generator(...)`` a policy uses."""

    def __call__(self, controls: Controls) -> GeneratedImage: ...


class Generation(Protocol):
    """A policy bound to one generator."""

    @property
    def shown_at(self) -> float | None:
        """Engine time at which the image on screen came up (``None`` before any)."""
        ...

    @property
    def restarts(self) -> int:
        """How often the generator had to be restarted."""
        ...

    def __call__(self, controls: Controls, t: float) -> GeneratedImage | None:
        """The new image to show from ``t`` on, or ``None`` to keep the current one."""
        ...

    def release(self) -> None: ...


class GenerationPolicy(Protocol):
    """What the pipeline is given: how many output buffers the policy needs, and how to
    bind it to the generator built with them (the policy classes themselves)."""

    buffers: ClassVar[int]

    def __call__(self, generator: _Generator, rate: float) -> Generation: ...


class LockStepGeneration:
    """A new image when ``t`` reaches the next multiple of ``1 / rate``, in lock-step.

    The schedule is computed from the image count, not accumulated; time going backwards
    (a rehearsal seek) restarts it.
    """

    buffers: ClassVar[int] = 2

    def __init__(self, generator: _Generator, rate: float) -> None:
        self.generator = generator
        self.period = 1.0 / rate
        self.shown_at: float | None = None
        self.restarts = 0
        self._count = 0

    def __call__(self, controls: Controls, t: float) -> GeneratedImage | None:
        restart = self.shown_at is None or t < self.shown_at
        if not restart and t + 1e-9 < self._count * self.period:
            return None
        image = self.generator(controls)
        self.shown_at = t
        self._count = math.floor(t / self.period + 1e-9) + 1
        return image

    def release(self) -> None:
        """Nothing runs in the background."""


class LiveGeneration:
    """The generator in a worker thread, restarted with back-off when it dies.

    Parameters
    ----------
    generator
        Built with at least three buffers (triple buffering; see :class:`GeneratorWorker`).
    rate
        Images per second to aim for.
    monotonic
        Wall time for the back-off, swappable for tests.
    """

    buffers: ClassVar[int] = 3

    def __init__(self, generator: _Generator, rate: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.generator = generator
        self.rate = rate
        self.shown_at: float | None = None
        self.restarts = 0  # over the whole run, for the status file
        self._monotonic = monotonic
        self._backoff = 0  # restarts in a row without a healthy minute between them
        self._restart_at = 0.0
        self._shown_index = -1
        self.worker = GeneratorWorker(generator, rate).start()

    def __call__(self, controls: Controls, t: float) -> GeneratedImage | None:
        image = self._latest(controls)
        new = None
        if image is not None and image.index != self._shown_index:
            new = image
            self._shown_index, self.shown_at = image.index, t
        if self.shown_at is None:  # nothing generated yet: keep the screen black
            self.shown_at = t
        return new

    def _latest(self, controls: Controls) -> GeneratedImage | None:
        try:
            self.worker.post(controls)
            image = self.worker.latest()
            if self._backoff and self.worker.produced >= HEALTHY_S * self.rate:
                self._backoff = 0
            return image
        except RuntimeError as error:
            now = self._monotonic()
            if now < self._restart_at:
                return None
            self.restarts += 1
            self._backoff += 1
            self._restart_at = now + min(RESTART_BACKOFF_MAX_S, 2.0 ** (self._backoff - 1))
            _log.error("generator failed (%s); restarting it (restart %d)",
                       error.__cause__ or error, self.restarts)
            self.worker = GeneratorWorker(self.generator, self.rate).start()
            return None

    def release(self) -> None:
        self.worker.stop()
