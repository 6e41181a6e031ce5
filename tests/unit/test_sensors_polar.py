"""Polar H10 decoding, and the bridge driven by a fake BLE client replaying notification bytes.

No recording of a real H10 exists here, so the notification bytes are built from the public
specifications: the Bluetooth GATT Heart Rate Measurement characteristic (0x2A37) and Polar's
PMD ECG frame (type 0, uint64 sensor time in ns, frame type 0, signed 24-bit µV samples).
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass

import numpy as np
import pytest

from installation.inputs.lsl import LslInput
from installation.messages import Status
from installation.show import StreamSpec
from sensors.polar import (
    HR_MEASUREMENT_UUID,
    PMD_CONTROL_UUID,
    PMD_DATA_UUID,
    START_ECG,
    STOP_ECG,
    PolarBridge,
    make_outlets,
    parse_heart_rate,
    parse_pmd_ecg,
    stream_polar,
)


def hr_bytes(bpm: int, rr_ms: list[float], *, wide: bool = False, energy: int | None = None):
    flags = 0x06 | (0x01 if wide else 0) | (0x08 if energy is not None else 0)
    flags |= 0x10 if rr_ms else 0
    out = bytes([flags]) + (struct.pack("<H", bpm) if wide else bytes([bpm]))
    if energy is not None:
        out += struct.pack("<H", energy)
    return out + b"".join(struct.pack("<H", round(r * 1024 / 1000)) for r in rr_ms)


def ecg_bytes(sensor_ns: int, microvolts: np.ndarray) -> bytes:
    raw = (microvolts.astype(np.int64) & 0xFFFFFF).astype("<u4").view(np.uint8).reshape(-1, 4)
    return bytes([0x00]) + struct.pack("<Q", sensor_ns) + bytes([0x00]) + raw[:, :3].tobytes()


def test_heart_rate_with_contact_and_rr_intervals_decodes():
    value = parse_heart_rate(hr_bytes(72, [1000.0, 812.5]))
    assert value.bpm == 72 and value.contact is True
    assert value.rr_ms == pytest.approx((1000.0, 812.5), abs=1.0)


def test_sixteen_bit_heart_rate_with_energy_expended_decodes():
    value = parse_heart_rate(hr_bytes(300, [500.0], wide=True, energy=1234))
    assert (value.bpm, value.energy_kj) == (300, 1234)
    assert value.rr_ms == pytest.approx((500.0,), abs=1.0)


def test_heart_rate_without_contact_support_reports_none_and_no_rr():
    value = parse_heart_rate(bytes([0x00, 60]))
    assert (value.bpm, value.contact, value.rr_ms) == (60, None, ())


def test_truncated_heart_rate_value_is_an_error():
    with pytest.raises(ValueError, match="too short"):
        parse_heart_rate(bytes([0x01, 60]))


def test_ecg_frame_decodes_signed_24_bit_microvolts_and_sensor_time():
    samples = np.array([0, 1, -1, 8_388_607, -8_388_608, -1234, 1234])
    frame = parse_pmd_ecg(ecg_bytes(599_634_791_821_353_936, samples))
    assert frame is not None
    assert frame.sensor_ns == 599_634_791_821_353_936
    assert frame.microvolts.tolist() == samples.tolist()


def test_non_ecg_pmd_frames_are_ignored_and_ragged_ecg_frames_rejected():
    assert parse_pmd_ecg(bytes([0x02]) + bytes(9) + bytes(6)) is None  # accelerometer
    with pytest.raises(ValueError, match="multiple of 3"):
        parse_pmd_ecg(bytes(10) + bytes(4))


@dataclass(frozen=True)
class RrPins:
    source_id: str
    type: str = "RR"
    name: str = ""
    hostname: str = ""


class FakePolarClient:
    """Replays notification bytes the way bleak delivers them (callback(sender, bytearray))."""

    def __init__(self, hr: list[bytes], ecg: list[bytes]) -> None:
        self.hr, self.ecg = hr, ecg
        self.callbacks: dict[str, object] = {}
        self.writes: list[bytes] = []
        self.tasks: list[asyncio.Task] = []

    async def _replay(self, uuid: str, frames: list[bytes], period_s: float) -> None:
        # Real pace: an H10 sends a 73-sample ECG frame every 73 / 130 s.
        for frame in frames:
            await asyncio.sleep(period_s)
            self.callbacks[uuid](uuid, bytearray(frame))

    async def start_notify(self, char, callback):
        self.callbacks[char] = callback
        if char == HR_MEASUREMENT_UUID:
            self.tasks.append(asyncio.create_task(self._replay(char, self.hr, 0.5)))

    async def stop_notify(self, char):
        self.callbacks.pop(char)

    async def write_gatt_char(self, char, data, response=False):
        assert char == PMD_CONTROL_UUID and PMD_CONTROL_UUID in self.callbacks
        self.writes.append(bytes(data))
        if bytes(data) == START_ECG:
            self.tasks.append(asyncio.create_task(
                self._replay(PMD_DATA_UUID, self.ecg, 73 / 130)
            ))


def test_bridge_forwards_replayed_h10_notifications_to_lsl_with_every_sample():
    rr_ms = [850.0, 900.0, 875.0, 920.0, 880.0, 860.0]
    hr = [hr_bytes(70, rr_ms[i:i + 2]) for i in range(0, 6, 2)]
    rng = np.random.default_rng(0)
    uv = [rng.integers(-2000, 2000, 73) for _ in range(3)]
    ecg = [ecg_bytes(10**12 + round((k + 1) * 73 / 130 * 1e9), uv[k]) for k in range(3)]
    prefix = f"t-polar-{time.time_ns()}"
    hr_out, rr_out, ecg_out = make_outlets("fake-h10", prefix, ecg=True)
    ecg_in = LslInput("ecg", StreamSpec(type="ECG", source_id=f"{prefix}-ecg")).start()
    rr_in = LslInput("rr", RrPins(source_id=f"{prefix}-rr")).start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (
            ecg_in.poll().status == Status.OK and rr_in.poll().status == Status.OK
        ):
            time.sleep(0.05)
        client = FakePolarClient(hr, ecg)
        bridge = PolarBridge(hr_out, rr_out, ecg_out)
        asyncio.run(stream_polar(client, bridge, duration=1.9))
        time.sleep(0.3)
        ecg_chunks = [ecg_in.poll() for _ in range(3)]
        rr_chunks = [rr_in.poll() for _ in range(3)]
    finally:
        ecg_in.close()
        rr_in.close()
    assert client.writes == [START_ECG, STOP_ECG]
    got = np.concatenate([c.data[:, 0] for c in ecg_chunks if c.n])
    assert got.tolist() == np.concatenate(uv).astype(float).tolist()
    stamps = np.concatenate([c.timestamps for c in ecg_chunks if c.n])
    assert np.allclose(np.diff(stamps), 1 / 130, atol=1e-3)
    rr = np.concatenate([c.data[:, 0] for c in rr_chunks if c.n])
    assert rr == pytest.approx(rr_ms, abs=1.0)
    assert bridge.beats == 6 and bridge.ecg_samples == 3 * 73
