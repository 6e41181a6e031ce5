"""Helpers of the LSL loopback tests: producers in subprocesses, inputs polled to a condition."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from installation.inputs.lsl import LslInput
from installation.messages import Chunk

REPO_ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Pins:
    """Stream pins for types the show has no extractor for yet (RR, markers)."""

    type: str
    name: str = ""
    source_id: str = ""
    hostname: str = ""


def fresh_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def start_producer(module: str, *args: str) -> tuple[subprocess.Popen[str], dict]:
    """Run ``python -m module args`` and return it with the JSON line it prints first."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args], cwd=REPO_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError(f"{module} exited before announcing its streams")
    return proc, json.loads(line)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)


def poll_until(
    inputs: dict[str, LslInput], done: Callable[[dict[str, list[Chunk]]], bool], timeout: float
) -> dict[str, list[Chunk]]:
    """Poll every input every 10 ms until ``done(chunks)`` or ``timeout``; return all chunks."""
    chunks: dict[str, list[Chunk]] = {k: [] for k in inputs}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for key, source in inputs.items():
            chunks[key].append(source.poll())
        if done(chunks):
            break
        time.sleep(0.01)
    return chunks


def joined(chunks: list[Chunk]) -> tuple[np.ndarray, np.ndarray]:
    full = [c for c in chunks if c.n]
    if not full:
        return np.empty(0), np.empty((0, 0))
    return np.concatenate([c.timestamps for c in full]), np.concatenate([c.data for c in full])


def pin_default_show(text: str, source: str) -> str:
    """The default show's text with its ECG and EEG streams pinned to ``sensors.simulate
    --source-id SOURCE``, so no other stream on the machine can take over the test."""
    text = text.replace('type = "ECG"\n', f'type = "ECG"\nsource_id = "{source}-ecg"\n', 1)
    return text.replace('type = "EEG"\n', f'type = "EEG"\nsource_id = "{source}-eeg"\n', 1)
