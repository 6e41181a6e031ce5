"""Heartbeat to photon: a real annotated ECG over LSL, the gallery's pipeline in a real window
under Xvfb, each frame stamped at buffer swap on the LSL clock.

    .venv/bin/python benchmarks/bench_photon.py [--seconds 90] [--at-s 0.23]
        [--window gallery|rehearsal|both] [--latency measured|fixed] [--out r.json]

MIT-BIH 100 (the converted XDF in the shared data, 360 Hz, cardiologist annotations) is played
by ``sensors.play`` (it waits for our inlet, so every sample arrives). The default piece, with
its pulse mapping switched to ``ecg.pulse_at`` (``at_s``), runs in the gallery's loop
(``installation.runtime.run``, ``LslSource``, ``LslClock``, ``LiveGeneration``) in a 640x360
window on a private Xvfb; a sink presents each frame (``ShowWindow.present``: texture upload,
draw, ``flip``) and stamps ``pylsl.local_clock()`` right after the swap. The probe is the pulse
control the frame was drawn with (the shader's ``u_pulse``): a beat's response is the first
frame whose pulse jumps to 1. Per beat, on the LSL clock:

* transport: the pull that delivered the R-peak's sample, minus the sample's own stamp (LSL,
  the player's 20 ms chunks, the loop's 30 fps polling);
* detection: first frame that knew the beat (``since_beat_s``) minus that pull;
* mapping: the frame the pulse started minus the frame that knew the beat (the delay line
  waiting for ``R + at_s - latency_s``, by design);
* render: ``Pipeline.step`` of that frame (features, mapping, generator post, GL, read-back,
  flash limiter);
* present: after ``flip`` minus the end of ``step``.

The pipeline latency the ``at_s`` mapping subtracts is measured live, as the gallery and the
rehearsal do (``installation/pipeline_latency.py``, seeded with ``--latency-s``);
``--latency fixed`` keeps ``--latency-s`` for good. The figure the engine had reached at the
end is reported beside the measured render + present.

``--window rehearsal``: the same measurement in the rehearsal window, live (``installation
rehearse SHOW`` without a recording: :class:`~installation.modes.rehearse.Rehearsal`, its
``ReloadingPipeline``, HUD drawn on every frame, ``RehearsalWindow`` presenting), stamped
right after its present, the probe again the pulse control of the frame. ``both`` runs the
gallery, then the rehearsal, one after the other with the same recording.

What happens after the swap (X server, compositor, display scaler, panel or projector) is
outside what this measures: on Xvfb there is no display at all.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does, before torch loads

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("INSTALLATION_SHARED_DATA", "/work/shared/data"))
XDF = DATA / "xdf" / "mitdb100_ecg_0-300s_converted.xdf"
FS = 360.0


def _xvfb() -> tuple[subprocess.Popen, str]:
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x720x24",
                               "+extension", "GLX", "-nolisten", "tcp"], pass_fds=(write,),
                              stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        return server, ":" + pipe.readline().strip()


def _show(folder: Path, source: str, at_s: float, latency_s: float, latency: str) -> Path:
    text = (REPO / "show.toml").read_text()
    text = text.replace('type = "ECG"\n', f'type = "ECG"\nsource_id = "{source}-0"\n', 1)
    text = text.replace('type = "EEG"\n', f'type = "EEG"\nsource_id = "{source}-none"\n', 1)
    text = text.replace('feature = "ecg.beat_pulse"', f'feature = "ecg.pulse_at"\nat_s = {at_s}')
    # at_s is the pulse's whole delay: the piece's own delay_s on that mapping (0.12 s, the
    # felt heartbeat of beat_pulse) would come on top (it made the first live-latency run
    # 150 ms late).
    head, sep, rest = text.partition(f'feature = "ecg.pulse_at"\nat_s = {at_s}')
    block, nxt, tail = rest.partition("[[")
    block = "".join(line for line in block.splitlines(keepends=True)
                    if not line.startswith("delay_s"))
    text = head + sep + block + nxt + tail
    text = text.replace('shader = "shaders/', f'shader = "{REPO}/shaders/')
    text = text.replace("[output]\n", f"[output]\nlatency_s = {latency_s}\nlatency = "
                        f"\"{latency}\"\nvsync = false\n", 1)
    path = folder / "show.toml"
    path.write_text(text)
    return path


class _Probe:
    """What each presented frame showed and when: the pulls of the ECG, the step's start and
    end, the swap, the pulse control (the probe), and what the features knew of the beat."""

    def __init__(self) -> None:
        import pylsl

        self.clock = pylsl.local_clock
        self.frames: list[dict] = []
        self.pulls: list[tuple[float, float, int]] = []  # (pull time, last stamp, samples)
        self.stamps: list[np.ndarray] = []
        self.timing = {"start": 0.0, "end": 0.0}
        self.fires: list = []  # the pulse_at scheduler's own record (t, beat, how)

    def time(self, stepper) -> None:
        """Stamp the start and end of every ``stepper.step`` (an instance attribute)."""
        step = stepper.step

        def timed_step(*args, **kwargs):
            self.timing["start"] = self.clock()
            out = step(*args, **kwargs)
            self.timing["end"] = self.clock()
            return out

        stepper.step = timed_step

    def presented(self, s, chunks, swapped: float) -> None:
        ecg = chunks.get("ecg")
        if ecg is not None and ecg.n:
            self.stamps.append(ecg.timestamps.copy())
            self.pulls.append((ecg.t_end, float(ecg.timestamps[-1]), ecg.n))
        f = s.features.get("ecg")
        self.frames.append({
            "t": s.frame.t, "swap": swapped, "step0": self.timing["start"],
            "step1": self.timing["end"], "pulse": s.controls.get("pulse"),
            "since": f.values.get("since_beat_s", -1.0) if f else -1.0,
            "count": f.values.get("beat_count", 0.0) if f else 0.0,
        })


def _player(source: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "sensors.play", str(XDF), "--source-id", source,
         "--wait-consumers", "20"], cwd=REPO, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)


def _gallery(show, seconds: float, probe: _Probe, latency) -> None:
    """The gallery's loop, a sink that presents and stamps (as the kiosk window presents)."""
    from installation.clock import LslClock
    from installation.generation import LiveGeneration
    from installation.inputs.live import LslSource
    from installation.pipeline import Pipeline
    from installation.render.window import ShowWindow, WindowSettings
    from installation.runtime import Deadline, SinkPart, Sinks, run

    window = ShowWindow(WindowSettings(size=show.output.size, fullscreen=False, vsync=False),
                        title="bench_photon")
    lsl_source = LslSource(show.streams)
    pipeline = Pipeline(show, window.ctx, show.output.size, show.output.fps,
                        generation=LiveGeneration, latency=latency)
    probe.time(pipeline)

    class Stamp(SinkPart):
        def show(self, s, chunks) -> None:
            window.present(s.frame)
            probe.presented(s, chunks, probe.clock())

    try:
        run(pipeline, lsl_source, LslClock(show.output.fps), Sinks(Stamp(), Deadline(seconds)),
            latency=latency)
        probe.fires = list(pipeline.mapper.pulses()["pulse"].fires)
    finally:
        pipeline.release()
        lsl_source.close()
        window.close()


def _rehearsal(show, seconds: float, probe: _Probe):
    """The live rehearsal, whole (its own window, reloading pipeline, HUD, latency)."""
    from installation.modes.rehearse import Rehearsal, RehearsalOptions

    rehearsal = Rehearsal(show, None, RehearsalOptions(max_seconds=seconds))
    probe.time(rehearsal.loop.pipeline)
    view = rehearsal.view
    show_frame = view.show

    def stamped(s, chunks) -> None:
        show_frame(s, chunks)  # overlays the HUD, then presents
        probe.presented(s, chunks, probe.clock())

    view.show = stamped
    try:
        rehearsal.loop.run()
        probe.fires = list(rehearsal.pipeline.current.mapper.pulses()["pulse"].fires)
    finally:
        rehearsal.close()
    return rehearsal.latency


def run(seconds: float, at_s: float, latency_s: float, window: str, latency: str) -> dict:
    from installation.pipeline_latency import PipelineLatency
    from installation.show import load_show

    server, display = _xvfb()
    os.environ["DISPLAY"] = display
    source = f"photon-{uuid.uuid4().hex[:10]}"
    probe = _Probe()
    try:
        with TemporaryDirectory() as tmp:
            show = load_show(_show(Path(tmp), source, at_s, latency_s, latency))
            player = _player(source)
            try:
                if window == "gallery":
                    live = PipelineLatency.live(latency_s, latency)
                    _gallery(show, seconds, probe, live)
                else:
                    live = _rehearsal(show, seconds, probe)
            finally:
                player.kill()
                player.wait(timeout=20)
    finally:
        server.kill()
        server.wait(timeout=20)
    stamps = np.concatenate(probe.stamps) if probe.stamps else np.empty(0)
    res = _analyse(probe.frames, probe.pulls, stamps, at_s, latency_s, show.output.fps)
    fires = [f for f in probe.fires if f.beat > 10.0 + probe.frames[0]["t"]] if probe.frames else []
    lag = np.array([f.t - f.beat for f in fires]) * 1e3
    res |= {"pulses_by_how": {h: sum(f.how == h for f in fires) for h in
                              sorted({f.how for f in fires})},
            "pulse_start_minus_beat_ms_p50_p95": [round(float(np.percentile(lag, q)), 1)
                                                  for q in (50, 95)] if fires else [],
            "window": window, "latency": latency,
            "pipeline_latency_at_end_ms": round(live.value * 1e3, 1),
            "pipeline_latency_samples": live.samples}
    return res


def _analyse(frames: list[dict], pulls: list, stamps: np.ndarray, at_s: float,
             latency_s: float, fps: float) -> dict:
    ann = np.genfromtxt(DATA / "mitdb" / "100.rpeaks.csv", delimiter=",", names=True,
                        dtype=None, encoding=None)
    samples = np.asarray(ann["sample"], dtype=int)
    samples = samples[(samples < stamps.size) & (ann["time_s"][: samples.size] > 10.0)]
    r_stamp = stamps[samples]  # the R-peak's own sample, as stamped by the player
    # Pull times: the sample k arrived with the pull whose cumulative count first exceeds k.
    counts = np.cumsum([n for _, _, n in pulls])
    pull_t = np.array([p[0] for p in pulls])
    t = np.array([f["t"] for f in frames])
    swap = np.array([f["swap"] for f in frames])
    pulse = np.array([f["pulse"] for f in frames])
    known = np.array([f["t"] - f["since"] if f["count"] > 0 else np.nan for f in frames])
    rise = np.flatnonzero((pulse[1:] > 0.95) & (pulse[:-1] < 0.7)) + 1
    rows = []
    for k, r in zip(samples, r_stamp, strict=True):
        target = r + at_s
        j = rise[np.argmin(np.abs(swap[rise] - target))] if rise.size else None
        if j is None or abs(swap[j] - target) > 0.35:
            continue
        arrived = pull_t[np.searchsorted(counts, k, side="right")]
        first = np.flatnonzero(np.abs(known - r) < 0.15)
        first = first[0] if first.size else j
        rows.append({
            "total": swap[j] - r, "error": swap[j] - target, "transport": arrived - r,
            "located_minus_annotated": known[first] - r,
            "detection": t[first] - arrived, "mapping": t[j] - t[first],
            "render": frames[j]["step1"] - frames[j]["step0"],
            "present": swap[j] - frames[j]["step1"],
        })

    def pct(key: str) -> list[float]:
        v = np.array([row[key] for row in rows]) * 1e3
        return [round(float(np.percentile(v, q)), 1) for q in (50, 95, 99)]

    keys = ("total", "error", "transport", "detection", "mapping", "render", "present",
            "located_minus_annotated")
    frame_dt = np.diff(swap) * 1e3
    return {
        "machine": f"{platform.node()}, {os.cpu_count()} cores",
        "display": "Xvfb (software GL, no physical display)", "at_s": at_s,
        "latency_s": latency_s, "beats_annotated": int(samples.size), "beats_matched": len(rows),
        "frames": len(frames), "frame_interval_ms_p50_p99": [
            round(float(np.percentile(frame_dt, 50)), 1),
            round(float(np.percentile(frame_dt, 99)), 1)],
        "ms_p50_p95_p99": {k: pct(k) for k in keys} if rows else {},
        "abs_error_ms_p50_p95": [
            round(float(np.percentile(np.abs([r["error"] for r in rows]) * 1e3, q)), 1)
            for q in (50, 95)] if rows else [],
        "fps": fps,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=90.0)
    ap.add_argument("--at-s", type=float, default=0.23)
    ap.add_argument("--latency-s", type=float, default=0.045)
    ap.add_argument("--window", choices=("gallery", "rehearsal", "both"), default="both")
    ap.add_argument("--latency", choices=("measured", "fixed"), default="measured")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    load = os.getloadavg()
    if args.window == "both":
        # One process (and one Xvfb) each: a second GLFW window in the same process lost its
        # X connection when the first closed (XIO fatal error, the process exits at once).
        res = {}
        for w in ("gallery", "rehearsal"):
            with TemporaryDirectory() as tmp:
                out = Path(tmp) / "r.json"
                subprocess.run([sys.executable, __file__, "--seconds", str(args.seconds),
                                "--at-s", str(args.at_s), "--latency-s", str(args.latency_s),
                                "--latency", args.latency, "--window", w, "--out", str(out)],
                               check=True)
                res[w] = json.loads(out.read_text())[w]
    else:
        res = {args.window: run(args.seconds, args.at_s, args.latency_s, args.window,
                                args.latency)}
    res["load_average_1_5_15_at_start"] = [round(v, 1) for v in load]
    res["load_average_1_5_15_at_end"] = [round(v, 1) for v in os.getloadavg()]
    text = json.dumps(res, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
