"""LSL ingest cost and latency on loopback, against pylsl's default pull, in the same run.

    .venv/bin/python benchmarks/bench_ingest.py [--seconds 10] [--repeats 3] [--poll-ms 16]

Ingest cost: a simulator subprocess sends 8-channel EEG at 256 Hz and 1-channel ECG at 250 Hz.
Each stream is read by three inlets at once, polled in the same loop every ``--poll-ms``
(default: 16 ms, one display frame, and 250 ms), in rotating order:

* ``default``: ``pull_chunk()`` with pylsl's defaults, which builds a Python list per sample;
* ``dest_obj``: what :class:`installation.inputs.lsl.LslInput` does, a pull into a preallocated
  buffer (``dest_obj=..., as_numpy=True``) plus the float64 copy that becomes the Chunk;
* ``direct``: the floor of the Python side, liblsl's pull called with pointers set up once.

Cost = seconds spent inside the pull calls / samples pulled (all inlets see the very same
samples). Medians over ``--repeats`` runs.

Latency: a producer subprocess pushes one sample every 5 ms stamped with ``local_clock()`` at
the push; the reader blocks in ``pull_sample`` and takes ``local_clock() - stamp`` on arrival
(same machine, one clock). Reported as p50 / p99.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pylsl
from pylsl.util import handle_error

REPO = Path(__file__).resolve().parents[1]

_LATENCY_PRODUCER = """
import sys, time, pylsl
info = pylsl.StreamInfo("bench-latency", "Latency", 1, 200.0, pylsl.cf_double64, sys.argv[1])
outlet = pylsl.StreamOutlet(info)
print("ready", flush=True)
outlet.wait_for_consumers(10)
time.sleep(0.5)
start = pylsl.local_clock()
for k in range(int(sys.argv[2])):
    due = start + k * 0.005
    while pylsl.local_clock() < due:
        time.sleep(0.0005)
    now = pylsl.local_clock()
    outlet.push_sample([float(k)], now)
time.sleep(0.5)
"""


def _inlet(source_id: str) -> pylsl.StreamInlet:
    found = pylsl.resolve_byprop("source_id", source_id, timeout=10)
    if not found:
        raise SystemExit(f"stream {source_id} not found")
    inlet = pylsl.StreamInlet(found[0], max_buflen=30, processing_flags=pylsl.proc_ALL)
    inlet.open_stream(timeout=5)
    inlet.time_correction(timeout=5)
    return inlet


class _Default:
    """pylsl's default pull: lists of lists."""

    def __init__(self, inlet: pylsl.StreamInlet) -> None:
        self.inlet = inlet

    def __call__(self) -> int:
        _rows, ts = self.inlet.pull_chunk(max_samples=1024)
        return len(ts)


class _DestObj:
    """What LslInput does: pull_chunk into a preallocated buffer, then the Chunk's float64 copy."""

    def __init__(self, inlet: pylsl.StreamInlet) -> None:
        self.inlet = inlet
        self.buffer = np.empty((1024, inlet.channel_count), dtype=np.float32)

    def __call__(self) -> int:
        view, ts = self.inlet.pull_chunk(max_samples=1024, dest_obj=self.buffer, as_numpy=True)
        view.astype(np.float64)
        return len(ts)


class _Direct:
    """Floor of the Python side: liblsl's chunk pull called directly with pointers computed
    once (pylsl internals ``do_pull_chunk`` / ``obj``; for comparison only)."""

    def __init__(self, inlet: pylsl.StreamInlet) -> None:
        self.inlet = inlet
        self.channels = inlet.channel_count
        self.buffer = np.empty((1024, self.channels), dtype=np.float32)
        self.stamps = np.empty(1024)
        self.args = (
            ctypes.c_void_p(self.buffer.ctypes.data), ctypes.c_void_p(self.stamps.ctypes.data),
            ctypes.c_size_t(self.buffer.size), ctypes.c_size_t(1024), ctypes.c_double(0.0),
        )
        self.err = ctypes.c_int()

    def __call__(self) -> int:
        n = self.inlet.do_pull_chunk(self.inlet.obj, *self.args, ctypes.byref(self.err))
        handle_error(self.err)
        n //= self.channels
        self.buffer[:n].astype(np.float64)
        self.stamps[:n].copy()
        return n


PULLERS = {"default": _Default, "dest_obj": _DestObj, "direct": _Direct}


def bench_ingest(seconds: float, poll_s: float) -> dict[str, float]:
    """Microseconds per sample of each pull variant, all reading the same two streams."""
    sim = subprocess.Popen(
        [sys.executable, "-m", "sensors.simulate", "--streams", "ecg,eeg",
         "--duration", str(seconds + 30)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert sim.stdout is not None
        ids = json.loads(sim.stdout.readline())["source_ids"]
        pullers = [(name, cls(_inlet(ids[kind])))
                   for kind in ("eeg", "ecg") for name, cls in PULLERS.items()]
        for _name, pull in pullers:
            pull()  # drain what queued up while connecting, untimed
        cost = dict.fromkeys(PULLERS, 0.0)
        count = dict.fromkeys(PULLERS, 0)
        end = time.monotonic() + seconds
        turn = 0
        while time.monotonic() < end:
            time.sleep(poll_s)
            # Rotate the order: whoever pulls first after the sleep pays the wake-up costs.
            turn += 1
            for name, pull in pullers[turn % len(pullers):] + pullers[:turn % len(pullers)]:
                t = time.perf_counter()
                n = pull()
                cost[name] += time.perf_counter() - t
                count[name] += n
        return {name: 1e6 * cost[name] / max(count[name], 1) for name in PULLERS}
    finally:
        sim.kill()
        sim.wait()


def bench_floor() -> dict[str, float]:
    """liblsl's own cost, warm and without sleeps between calls: an empty pull, and one pull of
    a whole second of 8-ch EEG, direct vs pylsl's default (lists)."""
    sim = subprocess.Popen(
        [sys.executable, "-m", "sensors.simulate", "--streams", "eeg", "--duration", "30"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert sim.stdout is not None
        inlet = _inlet(json.loads(sim.stdout.readline())["source_ids"]["eeg"])
        direct, default = _Direct(inlet), _Default(inlet)
        direct()
        t = time.perf_counter()
        for _ in range(2000):
            direct()
        empty_us = (time.perf_counter() - t) / 2000 * 1e6
        per_sample = {}
        for name, pull in (("direct", direct), ("default", default)) * 3:
            time.sleep(1.0)
            t = time.perf_counter()
            n = pull()
            per_sample.setdefault(name, []).append((time.perf_counter() - t) / max(n, 1) * 1e6)
        return {"empty_call_us": empty_us,
                **{name: statistics.median(v) for name, v in per_sample.items()}}
    finally:
        sim.kill()
        sim.wait()


def bench_latency(samples: int) -> tuple[float, float]:
    source_id = f"bench-latency-{time.time_ns()}"
    proc = subprocess.Popen([sys.executable, "-c", _LATENCY_PRODUCER, source_id, str(samples)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        found = pylsl.resolve_byprop("source_id", source_id, timeout=10)
        inlet = pylsl.StreamInlet(found[0], processing_flags=0)
        inlet.open_stream(timeout=5)
        lat = []
        while len(lat) < samples:
            sample, stamp = inlet.pull_sample(timeout=5.0)
            if sample is None:
                break
            lat.append(pylsl.local_clock() - stamp)
        arr = np.asarray(lat) * 1000.0
        return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))
    finally:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--poll-ms", type=float, action="append",
                        help="poll interval(s) in ms (default: 16 and 250)")
    parser.add_argument("--latency-samples", type=int, default=2000)
    args = parser.parse_args()
    print(f"# {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"pylsl {version('pylsl')}, liblsl {pylsl.library_version()}")
    for poll_ms in args.poll_ms or [16.0, 250.0]:
        runs = [bench_ingest(args.seconds, poll_ms / 1000.0) for _ in range(args.repeats)]
        med = {name: statistics.median(r[name] for r in runs) for name in PULLERS}
        print(f"ingest EEG 8ch@256 + ECG 1ch@250, poll {poll_ms:g} ms "
              f"(median of {args.repeats} x {args.seconds:g} s), us/sample: "
              + ", ".join(f"{name} {v:.3f}" for name, v in med.items())
              + f"; default/dest_obj {med['default'] / med['dest_obj']:.1f}x, "
              f"default/direct {med['default'] / med['direct']:.1f}x")
    floor = bench_floor()
    print(f"liblsl floor, warm: empty direct pull {floor['empty_call_us']:.2f} us; one pull of "
          f"1 s of 8-ch EEG: direct {floor['direct']:.3f} us/sample, default "
          f"{floor['default']:.3f} us/sample ({floor['default'] / floor['direct']:.1f}x)")
    lats = [bench_latency(args.latency_samples) for _ in range(args.repeats)]
    p50 = statistics.median(v[0] for v in lats)
    p99 = statistics.median(v[1] for v in lats)
    print(f"push-to-available latency on loopback: p50 {p50:.3f} ms, p99 {p99:.3f} ms "
          f"(median of {args.repeats} x {args.latency_samples} samples)")


if __name__ == "__main__":
    main()
