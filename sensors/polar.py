"""Polar H10 chest strap over Bluetooth LE -> LSL: heart rate, RR intervals and ECG at 130 Hz.

``python -m sensors.polar [--address AA:BB:...] [--no-ecg]``

Needs the optional dependency ``bleak``. Three outlets:

* ``HR`` (irregular, bpm) and ``RR`` (irregular, ms) from the standard Heart Rate Measurement
  characteristic 0x2A37 (Bluetooth GATT specification: flags byte; bit 0 = 16-bit heart rate;
  bit 3 = energy expended present; bit 4 = RR intervals present, uint16 in 1/1024 s);
* ``ECG`` (130 Hz, µV) from Polar's PMD (Polar Measurement Data) service: a start command is
  written to the PMD control point and the data characteristic then sends frames of
  ``[type=0 (ECG)] [uint64 sensor time, ns, of the last sample] [frame type=0] [int24 µV]*n``
  (Polar BLE SDK documentation, "Polar Measurement Data specification").

Time stamps: each RR interval is stamped at its beat (the last beat of a notification at its
arrival, earlier ones by subtracting the later intervals). ECG frames carry the sensor's own
clock; it is mapped onto the LSL clock with the smallest ``arrival - sensor time`` seen so far
(radio delay only ever adds to it, so the minimum is the best estimate of the clock offset).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pylsl

from sensors.outlet import make_outlet

__all__ = [
    "HR_MEASUREMENT_UUID",
    "PMD_CONTROL_UUID",
    "PMD_DATA_UUID",
    "START_ECG",
    "EcgFrame",
    "HeartRate",
    "PolarBridge",
    "main",
    "make_outlets",
    "parse_heart_rate",
    "parse_pmd_ecg",
    "stream_polar",
]

HR_MEASUREMENT_UUID = "00002a37-0000-1000-8000-00805f9b34fb"
PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
ECG_RATE = 130.0
# Start measurement (0x02), ECG (0x00); setting 0x00 sample rate: 1 value, 130 (0x0082);
# setting 0x01 resolution: 1 value, 14 bits (0x000E).
START_ECG = bytes([0x02, 0x00, 0x00, 0x01, 0x82, 0x00, 0x01, 0x01, 0x0E, 0x00])
STOP_ECG = bytes([0x03, 0x00])


@dataclass(frozen=True)
class HeartRate:
    """One Heart Rate Measurement notification."""

    bpm: int
    rr_ms: tuple[float, ...]
    contact: bool | None  # None: the strap does not report skin contact
    energy_kj: int | None = None


@dataclass(frozen=True)
class EcgFrame:
    """One PMD ECG frame: samples in µV, the last one taken at ``sensor_ns``."""

    sensor_ns: int
    microvolts: np.ndarray


def parse_heart_rate(data: bytes) -> HeartRate:
    """Decode a Heart Rate Measurement (0x2A37) value.

    Raises
    ------
    ValueError
        The value is shorter than its flags say.
    """
    if len(data) < 2:
        raise ValueError(f"heart rate value too short ({len(data)} bytes)")
    flags = data[0]
    pos = 1
    if flags & 0x01:
        if len(data) < 3:
            raise ValueError("heart rate value too short for a 16-bit rate")
        (bpm,) = struct.unpack_from("<H", data, pos)
        pos += 2
    else:
        bpm = data[pos]
        pos += 1
    contact = bool(flags & 0x02) if flags & 0x04 else None
    energy = None
    if flags & 0x08:
        if len(data) < pos + 2:
            raise ValueError("heart rate value too short for energy expended")
        (energy,) = struct.unpack_from("<H", data, pos)
        pos += 2
    rr: tuple[float, ...] = ()
    if flags & 0x10:
        count = (len(data) - pos) // 2
        raw = struct.unpack_from(f"<{count}H", data, pos)
        rr = tuple(v * 1000.0 / 1024.0 for v in raw)
    return HeartRate(int(bpm), rr, contact, energy)


def parse_pmd_ecg(data: bytes) -> EcgFrame | None:
    """Decode a PMD data notification; None for anything but an ECG frame of type 0.

    Raises
    ------
    ValueError
        An ECG frame whose sample bytes are not a multiple of 3.
    """
    if len(data) < 10 or data[0] != 0x00 or data[9] != 0x00:
        return None
    payload = np.frombuffer(data, dtype=np.uint8, offset=10)
    if payload.shape[0] % 3:
        raise ValueError(f"ECG frame with {payload.shape[0]} sample bytes (not a multiple of 3)")
    triples = payload.reshape(-1, 3).astype(np.int32)
    values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
    values = np.where(values >= 1 << 23, values - (1 << 24), values)  # sign-extend int24
    (sensor_ns,) = struct.unpack_from("<Q", data, 1)
    return EcgFrame(int(sensor_ns), values.astype(np.float64))


class Sink(Protocol):
    """Where decoded data goes (LSL outlets, or a list in a test)."""

    def push_sample(self, x: Sequence[float], timestamp: float) -> None: ...
    def push_chunk(self, x: Any, timestamp: Any) -> None: ...


class PolarBridge:
    """Turns Polar notifications into time-stamped samples on three sinks.

    Parameters
    ----------
    hr, rr, ecg
        Sinks for heart rate (bpm), RR intervals (ms) and ECG (µV); ``ecg`` may be None.
    clock
        The LSL clock (swappable for tests).
    """

    def __init__(self, hr: Sink, rr: Sink, ecg: Sink | None,
                 clock: Callable[[], float] = pylsl.local_clock) -> None:
        self.hr, self.rr, self.ecg = hr, rr, ecg
        self.clock = clock
        self._offset: float | None = None
        self.ecg_samples = 0
        self.beats = 0

    def on_heart_rate(self, _sender: Any, data: bytearray) -> None:
        now = self.clock()
        value = parse_heart_rate(bytes(data))
        self.hr.push_sample([float(value.bpm)], now)
        # The last interval ends at (about) this notification; walk back for the others.
        t = now
        stamps = []
        for interval in reversed(value.rr_ms):
            stamps.append(t)
            t -= interval / 1000.0
        for interval, stamp in zip(value.rr_ms, reversed(stamps), strict=True):
            self.rr.push_sample([interval], stamp)
            self.beats += 1

    def on_pmd_data(self, _sender: Any, data: bytearray) -> None:
        now = self.clock()
        frame = parse_pmd_ecg(bytes(data))
        if frame is None or self.ecg is None or frame.microvolts.shape[0] == 0:
            return
        sensor_last = frame.sensor_ns / 1e9
        offset = now - sensor_last
        self._offset = offset if self._offset is None else min(self._offset, offset)
        n = frame.microvolts.shape[0]
        stamps = sensor_last + self._offset - (n - 1 - np.arange(n)) / ECG_RATE
        self.ecg.push_chunk(frame.microvolts[:, None].astype(np.float32), stamps.tolist())
        self.ecg_samples += n


class BleClient(Protocol):
    """The part of ``bleak.BleakClient`` the bridge uses."""

    async def start_notify(self, char: str, callback: Callable[[Any, bytearray], None]) -> None:
        ...

    async def stop_notify(self, char: str) -> None: ...

    async def write_gatt_char(self, char: str, data: bytes, response: bool = ...) -> None: ...


async def stream_polar(
    client: BleClient, bridge: PolarBridge, duration: float | None = None, ecg: bool = True
) -> None:
    """Subscribe to heart rate (and ECG), then forward notifications until ``duration``."""
    await client.start_notify(HR_MEASUREMENT_UUID, bridge.on_heart_rate)
    if ecg:
        # The control point answers through indications; subscribing is required before writing.
        await client.start_notify(PMD_CONTROL_UUID, lambda _s, _d: None)
        await client.start_notify(PMD_DATA_UUID, bridge.on_pmd_data)
        await client.write_gatt_char(PMD_CONTROL_UUID, START_ECG, response=True)
    try:
        if duration is None:
            await asyncio.Event().wait()  # until cancelled (Ctrl-C)
        else:
            await asyncio.sleep(duration)
    finally:
        if ecg:
            await client.write_gatt_char(PMD_CONTROL_UUID, STOP_ECG, response=True)
            await client.stop_notify(PMD_DATA_UUID)
        await client.stop_notify(HR_MEASUREMENT_UUID)


def make_outlets(name: str, prefix: str, ecg: bool) -> tuple[Any, Any, Any]:
    """HR, RR and (optionally) ECG outlets named ``{name}-hr`` etc."""
    hr = make_outlet(f"{name}-hr", "HR", ("HR",), 0.0, f"{prefix}-hr", unit="bpm")
    rr = make_outlet(f"{name}-rr", "RR", ("RR",), 0.0, f"{prefix}-rr", unit="milliseconds")
    ecg_outlet = (
        make_outlet(f"{name}-ecg", "ECG", ("ECG",), ECG_RATE, f"{prefix}-ecg", unit="microvolts")
        if ecg else None
    )
    return hr, rr, ecg_outlet


async def _run(args: argparse.Namespace) -> int:
    try:
        from bleak import BleakClient, BleakScanner
    except ImportError:
        print("sensors.polar: error: bleak is not installed (pip install bleak)", file=sys.stderr)
        return 2
    address = args.address
    if not address:
        device = await BleakScanner.find_device_by_filter(
            lambda d, _adv: bool(d.name) and d.name.startswith("Polar H10"), timeout=args.scan
        )
        if device is None:
            print(f"sensors.polar: error: no Polar H10 found within {args.scan:g} s",
                  file=sys.stderr)
            return 2
        address = device.address
    prefix = args.source_id or f"polar-{address.replace(':', '')}"
    hr, rr, ecg = make_outlets(args.name, prefix, not args.no_ecg)
    print(json.dumps({"address": address, "source_prefix": prefix}), flush=True)
    async with BleakClient(address) as client:
        await stream_polar(client, PolarBridge(hr, rr, ecg), args.duration, not args.no_ecg)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sensors.polar", description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="", help="BLE address (default: first H10 seen)")
    parser.add_argument("--scan", type=float, default=15.0, help="seconds to scan (15)")
    parser.add_argument("--no-ecg", action="store_true", help="heart rate and RR only")
    parser.add_argument("--name", default="polar-h10", help="stream name prefix")
    parser.add_argument("--source-id", default="",
                        help="source_id prefix (default: from the strap's address)")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
