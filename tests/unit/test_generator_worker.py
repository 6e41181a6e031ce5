"""The live worker: the display never waits, only the latest image is kept, stop is clean."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from installation.generator.stage import CppnGenerator
from installation.generator.worker import GeneratorWorker, Mailbox
from installation.messages import Controls
from installation.show import GeneratorSpec


def slow_generator() -> CppnGenerator:
    # A real CPPN big enough that one image takes tens of milliseconds on this CPU.
    return CppnGenerator(GeneratorSpec(size=(256, 256), hidden=64, layers=6), device="cpu",
                         buffers=3)


def test_mailbox_keeps_only_the_latest_item() -> None:
    box: Mailbox[int] = Mailbox()
    assert box.latest() is None
    for i in range(5):
        box.put(i)
    assert box.latest() == 4 and box.latest() == 4  # reading does not consume
    assert box.count == 5


def test_latest_never_waits_for_inference() -> None:
    generator = slow_generator()
    start = time.perf_counter()
    generator(Controls(t=0.0, values={}))
    one_image = time.perf_counter() - start
    with GeneratorWorker(generator, rate=1000.0) as worker:
        waits = []
        deadline = time.perf_counter() + 1.0
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            worker.latest()
            waits.append(time.perf_counter() - t0)
            worker.post(Controls(t=0.0, values={"calm": 0.5}))
            time.sleep(0.001)
    assert worker.produced >= 2
    # A latest() that waited for inference would take about one image's time on most calls;
    # the percentile leaves room for the OS descheduling this thread on a busy 2-core box.
    assert float(np.percentile(waits, 95)) < one_image / 10, (max(waits), one_image)
    assert float(np.median(waits)) < 0.002


def test_worker_hands_over_only_the_newest_image() -> None:
    worker = GeneratorWorker(CppnGenerator(GeneratorSpec(size=(32, 32)), device="cpu",
                                           buffers=3), rate=200.0)
    with worker:
        time.sleep(0.5)
        first = worker.latest()
        time.sleep(0.3)
        second = worker.latest()
    assert first is not None and second is not None
    assert second.index > first.index + 1  # images in between were dropped, not queued
    assert second.index >= worker.produced - 2


def test_image_taken_by_the_display_is_not_overwritten_while_held() -> None:
    worker = GeneratorWorker(CppnGenerator(GeneratorSpec(size=(64, 64)), device="cpu",
                                           buffers=3), rate=500.0)
    with worker:
        for _ in range(20):
            image = None
            while image is None:
                image = worker.latest()
            snapshot = image.pixels.copy()
            time.sleep(0.03)  # the worker makes several images meanwhile
            assert np.array_equal(image.pixels, snapshot)


def test_worker_paces_itself_at_its_rate() -> None:
    worker = GeneratorWorker(CppnGenerator(GeneratorSpec(size=(16, 16)), device="cpu",
                                           buffers=3), rate=20.0)
    with worker:
        time.sleep(1.0)
    assert 10 <= worker.produced <= 25


def test_stop_is_clean_and_leaves_no_thread() -> None:
    before = threading.active_count()
    worker = GeneratorWorker(slow_generator(), rate=1000.0).start()
    time.sleep(0.2)
    t0 = time.perf_counter()
    worker.stop(timeout=5.0)
    assert not worker.alive
    assert time.perf_counter() - t0 < 2.0
    assert threading.active_count() == before
    produced = worker.produced
    time.sleep(0.2)
    assert worker.produced == produced


def test_worker_needs_three_buffers() -> None:
    with pytest.raises(ValueError, match="buffers >= 3"):
        GeneratorWorker(CppnGenerator(GeneratorSpec(size=(16, 16)), device="cpu"), rate=10.0)


def test_worker_failure_reaches_the_display_thread() -> None:
    generator = CppnGenerator(GeneratorSpec(size=(16, 16)), device="cpu", buffers=3)

    def broken_walk(controls: Controls):
        raise ArithmeticError("walk broke")

    generator.walk = broken_walk
    worker = GeneratorWorker(generator, rate=100.0).start()
    time.sleep(0.2)
    assert not worker.alive
    with pytest.raises(RuntimeError, match="generator worker failed") as error:
        worker.latest()
    assert isinstance(error.value.__cause__, ArithmeticError)
