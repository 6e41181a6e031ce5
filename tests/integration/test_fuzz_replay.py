"""Damaged recordings never crash or hang ``installation replay`` (issue 14's XDF fuzzer).

Seeded mutations of the bundled real recording (byte flips, truncations, duplicated and
deleted chunks, huge lengths, wrong tags, NaN/inf/huge values and time stamps, bad clock
offsets, damaged headers) and the reproduced NaN-time-stamp crash, each replayed by the real
command in a worker process. Each must end in a video (exit 0) or one error line (exit 2).
The larger run is ``benchmarks/bench_fuzz.py`` (figures in BENCHMARKS.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.fuzz_inputs import (
    CASE_LIMIT_S,
    check_replay_result,
    nan_stamp_mutants,
    write_csv_mutants,
    write_mutants,
    write_show_mutants,
)

REPO = Path(__file__).resolve().parents[2]
MUTANTS = 40  # bounded: about a second each; the benchmark runs hundreds
SHOW_MUTANTS = CSV_MUTANTS = 20


def replay_all(paths: list[Path], command: str = "replay") -> list[dict]:
    proc = subprocess.run(
        [sys.executable, str(REPO / "tests" / "fuzz_inputs.py"), command, *map(str, paths)],
        cwd=REPO, capture_output=True, text=True, timeout=len(paths) * CASE_LIMIT_S + 120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines()]


def test_mutated_recordings_give_a_video_or_one_error_line(tmp_path: Path) -> None:
    paths = write_mutants(tmp_path, seed=14, count=MUTANTS)
    results = replay_all(paths)
    assert len(results) == len(paths)
    problems = {Path(r["path"]).name: check_replay_result(r) for r in results
                if check_replay_result(r)}
    assert problems == {}
    # The mutations really damage the file: some of them are refused, most still replay.
    codes = [r["rc"] for r in results]
    assert codes.count(2) >= 1 and codes.count(0) >= MUTANTS // 2


def test_non_finite_time_stamps_are_dropped_with_a_warning(tmp_path: Path) -> None:
    paths = nan_stamp_mutants(tmp_path)
    results = {Path(r["path"]).stem: r for r in replay_all(paths)}
    assert {name: check_replay_result(r) for name, r in results.items()} == dict.fromkeys(
        results, "")
    first_nan = subprocess.run(
        [sys.executable, "-m", "installation", "replay", str(tmp_path / "stamps-first-nan.xdf"),
         "-o", str(tmp_path / "out.mp4"), "--size", "32x18", "--fps", "4", "--duration", "1",
         "-q", "--no-report"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert first_nan.returncode == 0, first_nan.stderr
    assert "Traceback" not in first_nan.stderr
    # Only the damaged samples are lost (one per Samples chunk), not the whole stream.
    assert "'MITBIH-100-ECG': dropped 120 of 21600 samples" in first_nan.stderr


def test_mutated_shows_replay_or_give_one_error_line(tmp_path: Path) -> None:
    paths = write_show_mutants(tmp_path, seed=17, count=SHOW_MUTANTS)
    results = replay_all(paths, "replay-show")
    assert len(results) == len(paths)
    problems = {Path(r["path"]).name: check_replay_result(r) for r in results
                if check_replay_result(r)}
    assert problems == {}
    codes = [r["rc"] for r in results]
    assert codes.count(2) >= 1 and codes.count(0) >= 1


def test_mutated_csv_recordings_replay_or_give_one_error_line(tmp_path: Path) -> None:
    paths = write_csv_mutants(tmp_path, seed=17, count=CSV_MUTANTS)
    results = replay_all(paths)
    assert len(results) == len(paths)
    problems = {Path(r["path"]).name: check_replay_result(r) for r in results
                if check_replay_result(r)}
    assert problems == {}
    codes = [r["rc"] for r in results]
    assert codes.count(2) >= 1 and codes.count(0) >= 1
