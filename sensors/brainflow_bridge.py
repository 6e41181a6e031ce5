"""Any BrainFlow board -> LSL: EEG, plus PPG and accelerometer where the board has them.

``python -m sensors.brainflow_bridge --board SYNTHETIC_BOARD``
``python -m sensors.brainflow_bridge --board GANGLION_BOARD --serial-port /dev/ttyACM0``

Needs the optional dependency ``brainflow`` (``pip install installation[sensors]``). Samples keep
the board's own time stamps: BrainFlow stamps them on the Unix clock, which is mapped onto the
LSL clock with an offset measured at each chunk (both clocks are read back to back).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pylsl

from sensors.outlet import make_outlet, ticks, unique_source_id

__all__ = ["board_streams", "build_parser", "main"]

# (kind, LSL type, BrainFlow descr key, unit)
KINDS = (
    ("eeg", "EEG", "eeg_channels", "microvolts"),
    ("ppg", "PPG", "ppg_channels", "normalized"),
    ("accel", "Accelerometer", "accel_channels", "g"),
)


@dataclass(frozen=True)
class BoardStream:
    """One LSL stream taken from some rows of one BrainFlow preset."""

    kind: str
    type: str
    preset: int
    rows: tuple[int, ...]
    labels: tuple[str, ...]
    srate: float
    timestamp_row: int
    unit: str


def board_streams(board_id: int) -> list[BoardStream]:
    """The streams a board offers: each kind from the first preset that has its channels."""
    from brainflow.board_shim import BoardShim

    streams = []
    presets = BoardShim.get_board_presets(board_id)
    for kind, lsl_type, key, unit in KINDS:
        for preset in presets:
            descr = BoardShim.get_board_descr(board_id, preset)
            rows = tuple(descr.get(key, ()))
            if not rows:
                continue
            names = descr.get("eeg_names", "").split(",") if kind == "eeg" else []
            if len(names) != len(rows):
                names = [f"{kind}{i + 1}" for i in range(len(rows))]
            if kind == "accel":
                names = ["X", "Y", "Z"][: len(rows)] if len(rows) <= 3 else names
            streams.append(BoardStream(
                kind, lsl_type, int(preset), rows, tuple(names),
                float(descr["sampling_rate"]), int(descr["timestamp_channel"]), unit,
            ))
            break
    return streams


def _board_id(text: str) -> int:
    from brainflow.board_shim import BoardIds

    try:
        return int(text)
    except ValueError:
        pass
    try:
        return BoardIds[text.upper()].value
    except KeyError:
        raise argparse.ArgumentTypeError(f"unknown BrainFlow board {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sensors.brainflow_bridge",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="SYNTHETIC_BOARD",
                        help="BrainFlow board id or name (default SYNTHETIC_BOARD)")
    for option in ("serial-port", "mac-address", "ip-address", "serial-number", "other-info"):
        parser.add_argument(f"--{option}", default="", help="BrainFlow connection parameter")
    parser.add_argument("--ip-port", type=int, default=0, help="BrainFlow connection parameter")
    parser.add_argument("--name", default="", help="stream name prefix (default: board name)")
    parser.add_argument("--source-id", default="", help="source_id prefix (default: unique)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--chunk-ms", type=float, default=20.0, help="push period (ms)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from brainflow.board_shim import BoardShim, BrainFlowError, BrainFlowInputParams
    except ImportError:
        parser.error("brainflow is not installed (pip install brainflow)")
    board_id = _board_id(args.board)
    params = BrainFlowInputParams()
    for option in ("serial_port", "mac_address", "ip_address", "serial_number", "other_info"):
        setattr(params, option, getattr(args, option))
    params.ip_port = args.ip_port
    BoardShim.disable_board_logger()
    board = BoardShim(board_id, params)
    try:
        board.prepare_session()
        board.start_stream()
    except BrainFlowError as e:
        print(f"sensors.brainflow_bridge: error: cannot start board {args.board}: {e}",
              file=sys.stderr)
        return 2
    name = args.name or BoardShim.get_device_name(board_id)
    prefix = args.source_id or unique_source_id(f"brainflow-{board_id}")
    streams = board_streams(board_id)
    outlets = [
        make_outlet(f"{name}-{s.kind}", s.type, s.labels, s.srate, f"{prefix}-{s.kind}",
                    unit=s.unit, extra={"board_id": str(board_id)})
        for s in streams
    ]
    print(json.dumps({"source_ids": {s.kind: f"{prefix}-{s.kind}" for s in streams}}),
          flush=True)
    start = pylsl.local_clock()
    try:
        for now in ticks(args.chunk_ms / 1000.0):
            for preset in sorted({s.preset for s in streams}):
                data = board.get_board_data(preset=preset)
                if data.shape[1] == 0:
                    continue
                # Unix -> LSL clock, both read back to back.
                offset = pylsl.local_clock() - time.time()
                for stream, outlet in zip(streams, outlets, strict=True):
                    if stream.preset != preset:
                        continue
                    stamps = data[stream.timestamp_row] + offset
                    values = np.ascontiguousarray(data[list(stream.rows)].T, dtype=np.float32)
                    outlet.push_chunk(values, stamps.tolist())
            if args.duration is not None and now - start >= args.duration:
                break
    except KeyboardInterrupt:
        pass
    finally:
        board.stop_stream()
        board.release_session()
    return 0


if __name__ == "__main__":
    sys.exit(main())
