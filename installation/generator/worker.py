"""Live use: the generator runs in its own thread and hands over images through a mailbox.

The display thread posts the latest controls with :meth:`GeneratorWorker.post` and takes the
newest image with :meth:`GeneratorWorker.latest`; neither waits for inference. Images live in
three reused buffers (triple buffering): the worker always writes into a slot that is neither
the newest one waiting in the mailbox nor the one the display took last, so an image from
``latest()`` stays intact until the next ``latest()`` call. Replay does not use this: it runs
the stage in lock-step for determinism.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Generic, TypeVar

from installation.generator.stage import LatentGenerator
from installation.messages import Controls, GeneratedImage

T = TypeVar("T")


class Mailbox(Generic[T]):
    """Keep-only-the-latest handover between threads; nothing here ever blocks for long.

    ``put`` replaces whatever was there (older items are dropped, never queued); ``latest``
    returns the newest item without removing it, or ``None`` before the first ``put``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self._count = 0

    def put(self, item: T) -> None:
        with self._lock:
            self._item = item
            self._count += 1

    def latest(self) -> T | None:
        with self._lock:
            return self._item

    @property
    def count(self) -> int:
        """How many items were ever put (dropped ones included)."""
        with self._lock:
            return self._count


class GeneratorWorker:
    """Runs a :class:`LatentGenerator` at ``rate`` images per second in a daemon thread.

    Parameters
    ----------
    generator
        The stage; it must own at least three output buffers (``buffers=3``).
    rate
        Images per second to aim for; a slower model simply produces fewer.
    clock
        Seconds on the engine clock; each image is stamped with it, so the walk keeps
        drifting even while the controls stay the same.
    """

    def __init__(self, generator: LatentGenerator, rate: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if generator.buffers.count < 3:
            raise ValueError("GeneratorWorker needs a generator with buffers >= 3")
        self.generator = generator
        self.period = 1.0 / rate
        self.clock = clock
        self.controls: Mailbox[Controls] = Mailbox()
        self._lock = threading.Lock()
        self._newest: tuple[GeneratedImage, int] | None = None
        self._held: int | None = None  # slot of the image the display took last
        self._produced = 0
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="generator", daemon=True)

    def start(self) -> GeneratorWorker:
        self._thread.start()
        return self

    def post(self, controls: Controls) -> None:
        """Hand the worker the newest controls (older unread ones are dropped)."""
        self.controls.put(controls)

    def latest(self) -> GeneratedImage | None:
        """The newest image, or ``None`` before the first; never waits for inference.

        Raises
        ------
        RuntimeError
            The worker thread died; the original exception is chained.
        """
        if self._error is not None:
            raise RuntimeError("generator worker failed") from self._error
        with self._lock:
            if self._newest is None:
                return None
            image, slot = self._newest
            self._held = slot
            return image

    @property
    def produced(self) -> int:
        """Images generated so far."""
        with self._lock:
            return self._produced

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to finish its current image and wait for it.

        Raises
        ------
        TimeoutError
            The thread did not stop within ``timeout`` seconds.
        """
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TimeoutError(f"generator worker did not stop within {timeout} s")

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> GeneratorWorker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _free_slot(self) -> int:
        with self._lock:
            busy = {self._held, None if self._newest is None else self._newest[1]}
        return next(s for s in range(self.generator.buffers.count) if s not in busy)

    def _run(self) -> None:
        next_due = self.clock()
        try:
            while not self._stop.is_set():
                now = self.clock()
                controls = self.controls.latest() or Controls(t=now, values={})
                slot = self._free_slot()
                image = self.generator.generate(replace(controls, t=now), slot)
                with self._lock:
                    self._newest = (image, slot)
                    self._produced += 1
                # Schedule against the target time, not "sleep a period": no drift; when late,
                # skip ahead instead of bursting to catch up.
                next_due = max(next_due + self.period, self.clock())
                self._stop.wait(max(0.0, next_due - self.clock()))
        except BaseException as error:  # handed to the display thread via latest()/stop()
            self._error = error

