"""The fuzzers at full size: damaged recordings (XDF and CSV) and mutated shows into
``installation replay``, garbage OSC into the rehearsal's OSC input. Counts inputs, tracebacks,
hangs and exit codes (issue 17's target: 0 tracebacks and 0 hangs over >= 300 XDF, >= 100 show
and >= 100k OSC inputs).

    .venv/bin/python benchmarks/bench_fuzz.py [--xdf 300] [--show 100] [--csv 100]
                                              [--osc 100000] [--seed 1]

Shows: seeded mutations of the default piece at a tiny size (``mutate_show``: extreme numbers,
hostile strings, wrong types, repeated tables, unknown keys, huge generators, flipped or cut
text), each replaying the bundled demo. CSV: seeded mutations of real ECG (``mutate_csv``).

XDF: seeded mutations of the bundled real recording (``tests/fuzz_inputs.py``: byte flips,
truncations, duplicated/deleted chunks, huge lengths, wrong tags, NaN/inf/huge values and time
stamps, bad clock offsets, damaged headers) plus the four NaN/inf time-stamp cases, each
replayed by the real command in worker processes (about 25 mutants per process, each under a
time limit). OSC: seeded garbage datagrams through ``OscBridge.receive`` (the path a datagram
takes from the socket), the controls checked every 100 inputs; then the same garbage as real UDP
at 10,000 datagrams per second into a listening bridge, which must still answer afterwards.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.fuzz_inputs import (  # noqa: E402
    CASE_LIMIT_S,
    check_replay_result,
    nan_stamp_mutants,
    osc_garbage,
    write_csv_mutants,
    write_mutants,
    write_show_mutants,
)

BATCH = 25


def fuzz_xdf(count: int, seed: int) -> dict:
    return _fuzz_replay(
        lambda folder: write_mutants(folder, seed, count) + nan_stamp_mutants(folder), "xdf")


def fuzz_shows(count: int, seed: int) -> dict:
    return _fuzz_replay(lambda folder: write_show_mutants(folder, seed, count), "show",
                        command="replay-show")


def fuzz_csv(count: int, seed: int) -> dict:
    return _fuzz_replay(lambda folder: write_csv_mutants(folder, seed, count), "csv")


def _fuzz_replay(make, label: str, command: str = "replay") -> dict:
    began = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = make(Path(tmp))
        for i in range(0, len(paths), BATCH):
            batch = paths[i:i + BATCH]
            try:
                proc = subprocess.run(
                    [sys.executable, str(REPO / "tests" / "fuzz_inputs.py"), command,
                     *map(str, batch)], cwd=REPO, capture_output=True, text=True,
                    timeout=len(batch) * CASE_LIMIT_S + 120)
                lines = proc.stdout.splitlines()
            except subprocess.TimeoutExpired:
                lines = []
            got = {json.loads(line)["path"]: json.loads(line) for line in lines}
            for path in batch:  # a worker that died or hung loses its remaining cases
                results.append(got.get(str(path), {"path": str(path), "rc": None,
                                                   "traceback": "worker died", "hang": True,
                                                   "errors": [], "stderr_lines": 0}))
            print(f"{label} {len(results)}/{len(paths)}", file=sys.stderr, flush=True)
    problems = {Path(r["path"]).name: check_replay_result(r) for r in results
                if check_replay_result(r)}
    kinds = collections.Counter(
        stem.split("-", 3)[-1] if stem.startswith(("mutant-", "show-", "csv-")) else stem
        for stem in (Path(r["path"]).stem for r in results))
    return {
        "inputs": len(results),
        "tracebacks": sum(bool(r["traceback"]) for r in results),
        "hangs": sum(bool(r["hang"]) for r in results),
        "exit_codes": dict(collections.Counter(str(r["rc"]) for r in results)),
        "other_problems": problems,
        "kinds": dict(kinds),
        "wall_s": round(time.perf_counter() - began, 1),
    }


def fuzz_osc(count: int, seed: int) -> dict:
    from installation.messages import Controls
    from installation.osc import OscBridge, OscSettings, control_ranges
    from installation.show import load_show

    ranges = control_ranges(load_show(REPO / "show.toml"))
    body = Controls(t=0.0, values={name: lo for name, (lo, _) in ranges.items()})
    garbage = osc_garbage(np.random.default_rng(seed), tuple(ranges), count)

    bridge = OscBridge(OscSettings(listen_port=None), ranges)
    tracebacks = bad_controls = 0
    slowest = 0.0
    began = time.perf_counter()
    for i, datagram in enumerate(garbage):
        start = time.perf_counter()
        try:
            bridge.receive(datagram)
        except Exception:
            tracebacks += 1
        slowest = max(slowest, time.perf_counter() - start)
        if i % 100 == 99:
            values = bridge.apply(body).values
            bad_controls += sum(not (math.isfinite(v) and ranges[k][0] <= v <= ranges[k][1])
                                for k, v in values.items() if k in ranges)
    direct_s = time.perf_counter() - began

    # The same garbage as real UDP, 10,000 datagrams per second, into a listening bridge.
    udp = OscBridge(OscSettings(listen_port=0), ranges).start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    began = time.perf_counter()
    for i in range(0, len(garbage), 100):
        for datagram in garbage[i:i + 100]:
            sock.sendto(datagram, ("127.0.0.1", udp.port))
        time.sleep(max(0.0, began + (i + 100) / 10_000 - time.perf_counter()))
    flood_s = time.perf_counter() - began
    from pythonosc.udp_client import SimpleUDPClient

    client = SimpleUDPClient("127.0.0.1", udp.port)
    answered = False
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline and not answered:
        client.send_message("/control/clear", [])
        client.send_message("/control/calm", 0.25)
        time.sleep(0.05)
        answered = abs(udp.apply(body).get("calm") - 0.25) < 1e-6
    server_alive = udp._thread is not None and udp._thread.is_alive()
    udp.close()
    return {
        "inputs": len(garbage),
        "tracebacks": tracebacks,
        "hangs": 0 if slowest < 1.0 else 1,
        "slowest_input_ms": round(1e3 * slowest, 2),
        "ignored": bridge.ignored,
        "controls_out_of_range_or_non_finite": bad_controls,
        "direct_inputs_per_s": round(len(garbage) / direct_s),
        "udp_datagrams": len(garbage),
        "udp_rate_per_s": round(len(garbage) / flood_s),
        # bad datagrams the server counted; the others were good or dropped by the socket
        # buffer, as UDP does under a flood
        "udp_bad_counted": udp.ignored,
        "udp_server_alive": server_alive,
        "udp_answers_after_flood": answered,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xdf", type=int, default=300)
    parser.add_argument("--show", type=int, default=100)
    parser.add_argument("--csv", type=int, default=100)
    parser.add_argument("--osc", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report: dict = {"machine": f"{platform.machine()} {platform.python_version()}"}
    # A count of 0 leaves that fuzzer out (e.g. --xdf 0 --osc 0 for the show and CSV ones).
    for name, fuzz, count in (("osc", fuzz_osc, args.osc), ("xdf", fuzz_xdf, args.xdf),
                              ("show", fuzz_shows, args.show), ("csv", fuzz_csv, args.csv)):
        if count > 0:
            report[name] = fuzz(count, args.seed)
    print(json.dumps(report, indent=2))
    kinds = tuple(k for k in ("osc", "xdf", "show", "csv") if k in report)
    ok = all(report[k]["tracebacks"] == 0 and report[k]["hangs"] == 0 for k in kinds)
    return 0 if ok and not any(report[k].get("other_problems") for k in kinds) else 1


if __name__ == "__main__":
    raise SystemExit(main())
