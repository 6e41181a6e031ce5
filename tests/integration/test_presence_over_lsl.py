"""A strap on a chair is no visitor (issue 15): a noise-only ECG over LSL never starts a visit;
the real ECG after it starts one within 2 s (at its third beat) and does not flap for 60 s.

Real parts throughout: ``sensors.play`` publishes a recording over LSL (its own source_id,
pinned, so another engineer's stream on this loopback cannot interfere); the engine's
``LslInput`` reads it, and the very ``Pipeline.extract`` the gallery runs decides presence.
All timing is judged on the stream's own time stamps, not on how fast this machine is.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from _lsl_helpers import fresh_id, start_producer, stop

from installation.inputs.lsl import LslInput
from installation.messages import Status, StreamInfo
from installation.pipeline import Pipeline
from installation.presence import VISITOR
from installation.record.xdf_writer import XdfWriter
from installation.render.gl_context import create_offscreen_context
from installation.show import StreamSpec, load_show

REPO = Path(__file__).resolve().parents[2]
FS = 360.0
NOISE_S = 20.0
REAL_S = 66.0

SHOW = """
[streams.ecg]
type = "ECG"
source_id = "{source}"

[[mappings]]
control = "pulse"
feature = "ecg.beat_pulse"

[[passes]]
shader = "{repo}/shaders/pulse.frag"
inputs = {{ u_garden = "frame", u_tint = "frame", u_haze = "frame" }}
uniforms = {{ u_pulse = "pulse" }}

[generator]
size = [32, 18]

[visitor]
arrive_s = 0.5
leave_s = 2.0
"""


def _recording(path: Path, shared_data: Path) -> np.ndarray:
    """20 s of what a floating ECG input picks up (white noise, mains hum, drift), then 66 s
    of real ECG (MIT-BIH 100). Returns the real ECG's annotated beats (recording time)."""
    rng = np.random.default_rng(15)
    n = int(NOISE_S * FS)
    t = np.arange(n) / FS
    noise = (0.05 * rng.normal(size=n) + 0.1 * np.sin(2 * np.pi * 50 * t)
             + 0.002 * np.cumsum(rng.normal(size=n)))
    mit = np.loadtxt(shared_data / "mitdb" / "100_MLII_V5_0-300s.csv", delimiter=",",
                     skiprows=1)
    start = 100.0  # an arbitrary stretch of the record
    real = mit[(mit[:, 0] >= start) & (mit[:, 0] < start + REAL_S), 1]
    x = np.concatenate([noise + real[0], real])
    with XdfWriter(path) as w:
        sid = w.add_stream(StreamInfo("chest", "ECG", 1, FS, channel_labels=("MLII",),
                                      channel_units=("millivolts",)))
        w.write_samples(sid, np.arange(x.size) / FS, x)
    beats = np.loadtxt(shared_data / "mitdb" / "100.rpeaks.csv", delimiter=",", skiprows=1,
                       usecols=1)
    return beats[(beats >= start) & (beats < start + REAL_S)] - start + NOISE_S


def test_noise_is_no_visitor_and_the_real_ecg_after_it_starts_one_visit_that_stays(
    tmp_path: Path, shared_data: Path,
) -> None:
    beats = _recording(tmp_path / "strap.xdf", shared_data)
    prefix = fresh_id("presence-noise")
    (tmp_path / "show.toml").write_text(SHOW.format(source=f"{prefix}-0", repo=REPO))
    show = load_show(tmp_path / "show.toml")
    ctx = create_offscreen_context()
    pipeline = Pipeline(show, ctx, (32, 18), 30.0, device="cpu")
    spec: StreamSpec = show.streams["ecg"]
    source = LslInput("ecg", spec).start()
    player, _ = start_producer("sensors.play", str(tmp_path / "strap.xdf"), "--source-id",
                               prefix, "--wait-consumers", "30", "--chunk-ms", "20")
    t0 = None
    modes: list[tuple[float, str]] = []  # (stream time, mode) at each change
    statuses: list[tuple[float, Status, str]] = []
    mode = pipeline.presence.mode
    try:
        deadline = time.monotonic() + 300.0  # a hang guard only
        last = -np.inf
        while time.monotonic() < deadline:
            chunk = source.poll()
            if chunk.n:
                t0 = float(chunk.timestamps[0]) if t0 is None else t0
                last = float(chunk.timestamps[-1]) - t0
            features = pipeline.extract({"ecg": chunk}, chunk.t_end)
            if t0 is not None:
                statuses.append((last, features["ecg"].status, features["ecg"].reason))
                if pipeline.presence.mode != mode:
                    mode = pipeline.presence.mode
                    modes.append((last, mode))
            if last >= NOISE_S + REAL_S - 0.5:
                break
            time.sleep(0.02)
    finally:
        stop(player)
        source.close()
        pipeline.release()
        ctx.release()
    assert t0 is not None and last >= NOISE_S + REAL_S - 0.5, "the stream did not play out"
    during_noise = [s for t, s, _ in statuses if 2.0 < t < NOISE_S]
    assert during_noise and Status.OK not in during_noise  # never trusted...
    assert not [m for t, m in modes if t < NOISE_S]  # ...and never a visitor
    assert modes, "the real ECG never started a visit"
    arrival, first_mode = modes[0]
    assert first_mode == VISITOR
    # Trust needs three matching beats in a row (two let electrode-motion noise earn trust
    # about once a minute: docs/signal-quality.md); arrive_s (0.5 s) counts from the run's
    # first beat (Features.ok_since), so the visit starts at trust. The physical bound is the
    # third beat (1.68 s in here, at ~73 bpm) plus 0.08 s of detection (locate_after_s).
    # The gallery's target: within 2 s of the real ECG's arrival (issue 15).
    third = beats[2]
    print(f"\nvisit started {arrival - NOISE_S:.2f} s into the real ECG "
          f"(3rd beat at {third - NOISE_S:.2f} s)")
    assert third < arrival <= NOISE_S + 2.0
    # Then it stays: not one change of mode, and the heart trusted throughout, for 60 s.
    assert len(modes) == 1, modes
    assert last - arrival >= 60.0
    after = [(t, s, r) for t, s, r in statuses if arrival + 0.1 < t]
    # (A loaded machine may hold the player back for a moment: the input then says "no
    # samples for N s", which is the stream's health, not the heart's.)
    assert all(s is Status.OK or r.startswith("no samples") for t, s, r in after), [
        (round(t, 1), s, r) for t, s, r in after if s is not Status.OK][:5]
    assert pipeline.presence.visits == 1


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__, "-s"])
