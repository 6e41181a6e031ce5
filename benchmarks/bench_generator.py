"""Generator speed: frames per second, control-to-frame latency and peak memory.

    .venv/bin/python benchmarks/bench_generator.py [--size 256x256] [--device cpu]
        [--vae model.pt] [--frames 60] [--repeats 5] [--json out.json]

Cases: the default CPPN (show.toml's ``[generator]`` at ``--size``) and a VAE decoder at its
native size (``--vae`` checkpoint from ``installation train``; without one, an untrained VAE
of the default 64x64 config, which costs exactly the same to run).

- fps: lock-step calls ``Controls -> GeneratedImage`` (uint8, host memory), median of
  ``--repeats`` runs of ``--frames`` images after a warm-up; ``fps_best`` is the fastest run
  (closest to an uncontended machine when other processes share the cores).
- latency, lock-step: one call, from controls in to pixels in host memory (median, p95).
- latency, worker: controls posted to a free-running :class:`GeneratorWorker` until the first
  image generated from them is visible through ``latest()`` (median, p95).
- peak memory: ``torch.cuda.max_memory_allocated`` on CUDA; on CPU the process peak RSS
  (``ru_maxrss``; torch's CPU tensors are invisible to tracemalloc) and tracemalloc's Python
  peak during the timed loop (the steady state's own Python allocations).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

import torch

from installation.generator.device import inference_dtype, pick_device
from installation.generator.latent_walk import LatentWalk
from installation.generator.models import BatchImage
from installation.generator.stage import CppnGenerator, LatentGenerator
from installation.generator.vae import Vae, VaeConfig, load_checkpoint
from installation.generator.worker import GeneratorWorker
from installation.messages import Controls
from installation.show import load_show

REPO = Path(__file__).resolve().parents[1]


def controls(i: int) -> Controls:
    return Controls(t=i / 15.0, values={"calm": (i % 50) / 50, "energy": 0.4,
                                        "pulse": (i % 7) / 7})


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench(make, frames: int, repeats: int) -> dict:
    gen: LatentGenerator = make(2)
    device = gen.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for i in range(10):
        gen(controls(i))  # warm-up: allocator caches, kernels
    fps, calls = [], []
    tracemalloc.start()
    for r in range(repeats):
        t0 = time.perf_counter()
        for i in range(frames):
            c0 = time.perf_counter()
            gen(controls(r * frames + i))
            calls.append(time.perf_counter() - c0)
        fps.append(frames / (time.perf_counter() - t0))
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result = {
        "size": list(gen.size), "device": str(device), "dtype": str(gen.dtype),
        "fps_median": statistics.median(fps), "fps_best": max(fps),
        "fps_runs": [round(f, 1) for f in fps],
        "lockstep_latency_ms_median": 1e3 * statistics.median(calls),
        "lockstep_latency_ms_p95": 1e3 * percentile(calls, 0.95),
        "python_peak_kib_in_loop": py_peak / 1024,
    }
    if device.type == "cuda":
        result["cuda_max_memory_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
    result.update(worker_latency(make(3)))
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def worker_latency(gen: LatentGenerator, samples: int = 30) -> dict:
    clock = time.perf_counter
    waits = []
    with GeneratorWorker(gen, rate=1000.0, clock=clock) as worker:
        for i in range(samples):
            posted = clock()
            worker.post(replace(controls(i), t=posted))
            while True:
                image = worker.latest()
                if image is not None and image.t >= posted:
                    waits.append(clock() - posted)
                    break
                time.sleep(0.0002)
            time.sleep(0.01)
    return {"worker_latency_ms_median": 1e3 * statistics.median(waits),
            "worker_latency_ms_p95": 1e3 * percentile(waits, 0.95)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="256x256", help="CPPN size WxH (256x256)")
    parser.add_argument("--device", help="torch device (default: automatic)")
    parser.add_argument("--vae", type=Path, help="checkpoint from `installation train`")
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-vae", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    spec = replace(load_show(REPO / "show.toml").generator, size=(width, height))
    device = pick_device(args.device)
    machine = (torch.cuda.get_device_name(0) if device.type == "cuda"
               else f"{platform.processor() or platform.machine()}, "
                    f"{torch.get_num_threads()} torch threads")
    report: dict = {"machine": machine, "torch": torch.__version__}
    report["cppn_default"] = bench(
        lambda buffers: CppnGenerator(spec, device=args.device, buffers=buffers),
        args.frames, args.repeats)
    if not args.skip_vae:
        if args.vae:
            checkpoint = load_checkpoint(args.vae)
            model, config, label = checkpoint.model, checkpoint.config, str(args.vae)
        else:
            config = VaeConfig()
            torch.manual_seed(0)
            model, label = Vae(config).eval(), "untrained VAE, default config (same cost)"
        dtype = inference_dtype(device)
        decoder = model.decoder.to(device, dtype)
        size = (config.size, config.size)
        vae_spec = replace(spec, latent_dim=config.latent_dim, size=size)

        def make_vae(buffers: int) -> LatentGenerator:
            return LatentGenerator(BatchImage(decoder, config.latent_dim, size),
                                   LatentWalk(vae_spec), size, device, dtype, buffers)

        report["vae"] = {"model": label, **bench(make_vae, args.frames, args.repeats)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
