"""One show, many machines: skew between render nodes, their CPU, the control stream's
bandwidth, and where the generator should run (measured).

    .venv/bin/python benchmarks/bench_distributed.py [--nodes 3] [--seconds 40]

On LSL loopback: ``sensors.simulate`` (ECG), one ``installation sense`` and ``--nodes``
``installation render --offscreen`` processes (tiles of one canvas), the default piece at
192x108, 15 fps, generator 96x54 at 10 images/s (the sizes of the loopback test, so the
2-core VM can hold five processes). Figures, from the render nodes' frame logs (stamps on the
LSL clock, taken after each frame is read back):

* skew: for each sample shown by every node, latest minus earliest presentation;
* sample -> presented: presentation minus the sample's time stamp (includes the 0.1 s
  ``--delay`` every node waits so that all pick the same sample);
* per-process CPU (utime + stime from /proc over the run, as a share of one core);
* control-stream bandwidth: channels x 8 bytes x samples/s (+ LSL's per-sample stamp);
* the generator placement figures: one image's model time on this CPU, against the bytes
  an image would cost on the network versus the latent the stream carries.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI does, before torch loads

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _show(folder: Path, source: str) -> Path:
    from _lsl_helpers import pin_default_show

    text = pin_default_show((REPO / "show.toml").read_text(), source)
    text = text.replace('shader = "shaders/', f'shader = "{REPO}/shaders/')
    text = text.replace("size = [640, 360]", "size = [192, 108]")
    text = text.replace("size = [256, 144]", "size = [96, 54]").replace("rate = 15", "rate = 10")
    text = text.replace("fps = 30", "fps = 15")
    text = text.replace('title = "Pulse Garden"', f'title = "Bench {source}"')
    path = folder / "show.toml"
    path.write_text(text)
    return path


def placement() -> dict[str, float]:
    """Model time of one generator image (default piece, 256x144, CPU) vs its bytes."""
    import torch

    from installation.generator.factory import make_generator
    from installation.messages import Controls
    from installation.show import load_show

    show = load_show(REPO / "show.toml")
    gen = make_generator(show, device="cpu")
    controls = Controls(t=0.0, values={"calm": 0.5, "energy": 0.5, "pulse": 0.0})
    times = []
    with torch.inference_mode():
        for i in range(25):
            t0 = time.perf_counter()
            gen(Controls(t=i / 15, values=controls.values))
            times.append(time.perf_counter() - t0)
    w, h = show.generator.size
    dim = int(gen.latent.numel())
    return {"generator_image_ms_cpu_256x144": round(1e3 * float(np.median(times[5:])), 2),
            "image_bytes": w * h * 3, "latent_bytes": 2 * dim * 8,
            "image_stream_bytes_per_s_at_rate": w * h * 3 * show.generator.rate}


def run(nodes: int, seconds: float) -> dict:
    from installation.distributed import ControlsLayout, show_controls
    from installation.show import load_show

    with TemporaryDirectory() as tmp:
        folder = Path(tmp)
        source = f"bench-{uuid.uuid4().hex[:10]}"
        show_path = _show(folder, source)
        py = sys.executable
        procs = {"simulate": subprocess.Popen(
            [py, "-m", "sensors.simulate", "--streams", "ecg", "--hr", "72", "--source-id",
             source, "--duration", str(seconds + 60)], cwd=REPO, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)}
        procs["sense"] = subprocess.Popen([py, "-m", "installation", "sense", str(show_path)],
                                          cwd=REPO, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
        logs = []
        for i in range(nodes):
            log = folder / f"frames{i}.csv"
            logs.append(log)
            procs[f"render{i}"] = subprocess.Popen(
                [py, "-m", "installation", "render", str(show_path), "--tile",
                 f"{i},0/{nodes},1", "--overlap", "4", "--offscreen", "--frames-log", str(log)],
                cwd=REPO, stdout=subprocess.DEVNULL,
                stderr=(folder / f"render{i}.err").open("w"))
        deadline = time.monotonic() + 180  # start-up: torch and GL imports, loaded machine
        while not all(log.exists() and ",ok," in log.read_text() for log in logs):
            if time.monotonic() > deadline:
                errors = [(folder / f"render{i}.err").read_text()[-800:] for i in range(nodes)]
                raise RuntimeError(f"render nodes did not start: {errors}")
            time.sleep(0.5)
        cpu0 = {k: _cpu_s(p.pid) for k, p in procs.items()}
        t0 = time.monotonic()
        time.sleep(seconds)
        cpu = {k: round((_cpu_s(p.pid) - cpu0[k]) / (time.monotonic() - t0), 3)
               for k, p in procs.items()}
        for p in procs.values():
            p.kill()
            p.wait(timeout=20)
        rows = [list(csv.DictReader(log.open())) for log in logs]
        if not all(any(r["status"] == "ok" for r in node) for node in rows):
            errors = [(folder / f"render{i}.err").read_text()[-2000:] for i in range(nodes)]
            raise RuntimeError(f"a render node never followed the sensing node: {errors}")
        show = load_show(show_path)
    seen = [{} for _ in rows]
    for s, node in zip(seen, rows, strict=True):
        for r in node:
            if r["status"] == "ok":
                s.setdefault(float(r["show_t"]), float(r["presented"]))
    common = sorted(set.intersection(*(set(s) for s in seen)))
    skew = np.array([max(s[q] for s in seen) - min(s[q] for s in seen) for q in common]) * 1e3
    delay = np.array([s[q] - q for s in seen for q in common]) * 1e3
    samples = np.array(common)
    rate = (len(samples) - 1) / (samples[-1] - samples[0]) if len(samples) > 1 else 0.0
    gen_dim = 8
    layout = ControlsLayout(show_controls(show), gen_dim)
    unseen = [round(sum(r["status"] == "unseen" for r in n) / max(len(n), 1), 3) for n in rows]
    return {
        "machine": f"{platform.node()}, {os.cpu_count()} cores, shared and loaded",
        "nodes": nodes, "seconds": seconds, "samples_shown_by_all": len(common),
        "skew_ms_p50_p95_max": [round(float(np.percentile(skew, 50)), 1),
                                round(float(np.percentile(skew, 95)), 1),
                                round(float(skew.max()), 1)],
        "frame_ms_at_15fps": round(1e3 / 15, 1),
        "sample_to_presented_ms_p50_p95": [round(float(np.percentile(delay, 50)), 1),
                                           round(float(np.percentile(delay, 95)), 1)],
        "cpu_share_of_one_core": cpu,
        "unseen_share_per_node": unseen,
        "controls_channels": layout.channels,
        "controls_bytes_per_s": round((layout.channels + 1) * 8 * rate, 0),
        "samples_per_s": round(rate, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    res = run(args.nodes, args.seconds) | placement()
    text = json.dumps(res, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
