"""Generator chain speed: every source family and stage, and training steps per second.

    .venv/bin/python benchmarks/bench_chain.py [--size 256x144] [--device cpu]
        [--gan model.pt] [--frames 30] [--repeats 3] [--train-steps 8] [--json out.json]

Each case is a real chain built by ``make_generator`` from a show written to a temporary
folder, at the generator size (default: the default show's 256x144), timed by
``bench_generator.bench`` (images/s: median of ``--repeats`` runs; lock-step and worker
control-to-image latency):

- sources: ``gan`` (``--gan`` checkpoint, else an untrained 64 px GAN of the default config,
  which costs exactly the same to run), ``onnx`` (that GAN's generator exported with
  ``torch.onnx.export``, run by ONNX Runtime);
- stages after the GAN: ``dream`` (its discriminator; default dream settings), ``dream``
  with feedback, ``model`` (a 3-layer conv image-to-image net as ONNX and as TorchScript).

Also the dream alone: gradient steps per second at the generator size (each image takes
``octaves x steps`` of them, the smaller octaves cheaper), and training steps per second of
``installation train`` (GAN: 64 px, its default recipe's batch; VAE: 64 px, batch 32;
median of ``--train-steps`` after two warm-up steps). The load average is printed with the figures.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see installation/cli.py

import argparse
import json
import platform
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch
from bench_generator import bench
from torch import nn

from installation.generator.factory import make_generator
from installation.generator.gan import GanConfig, load_gan
from installation.generator.gan_train import GanTrainConfig, _Run
from installation.generator.quality import make_shapes
from installation.generator.train import TrainConfig
from installation.generator.vae import Vae, VaeConfig, vae_loss
from installation.messages import Controls
from installation.show import load_show

DREAM = '[[generator.stages]]\nkind = "dream"\n'


class Style(nn.Module):
    """A small image-to-image conv net: the cost of a light style-transfer stage."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(16, 3, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x))


def write_show(folder: Path, generator: str, stages: str = "", size=(256, 144)) -> Path:
    (folder / "p.frag").write_text("void main() {}\n")
    path = folder / f"show_{abs(hash(generator + stages))}.toml"
    path.write_text(f"[generator]\nsize = [{size[0]}, {size[1]}]\n{generator}\n{stages}\n"
                    '[[passes]]\nshader = "p.frag"\n')
    return path


def untrained_gan(folder: Path) -> Path:
    images = folder / "images"
    make_shapes(images, count=8, size=64)
    path = folder / "gan.pt"
    config = GanTrainConfig(gan=GanConfig(), progress=False)
    run = _Run(config, config.gan, torch.device("cpu"))
    run.save(path, "untrained", config)
    return path


def dream_steps_per_s(show_path: Path, device: str | None, repeats: int = 5) -> dict:
    generator = make_generator(load_show(show_path), device=device)
    stage = generator.stages[0].stage
    width, height = generator.size
    x = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(0))
    stage(x, Controls(t=0.0, values={}))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        stage.dream(x.float(), 1.0)
        times.append(time.perf_counter() - t0)
    per_image = statistics.median(times)
    steps = len(stage.octave_sizes(height, width)) * stage.spec.steps
    return {"gradient_steps_per_image": steps, "dream_ms_per_image": 1e3 * per_image,
            "gradient_steps_per_s": steps / per_image}


def train_steps_per_s(steps: int) -> dict:
    data = torch.rand(240, 3, 64, 64) * 2 - 1
    out = {}
    config = GanTrainConfig(progress=False)
    run = _Run(config, config.gan, torch.device("cpu"))
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        run.train_step(data, config)
        if i >= 2:
            times.append(time.perf_counter() - t0)
    gan_key = f"gan_64px_batch{config.batch_size}_s_per_step"
    out[gan_key] = statistics.median(times)
    vae_config = TrainConfig()
    torch.manual_seed(0)
    model = Vae(VaeConfig()).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=vae_config.learning_rate)
    batch = (data[:32] + 1) / 2
    times = []
    for i in range(steps + 2):
        t0 = time.perf_counter()
        recon, mu, logvar = model(batch)
        loss, _, _ = vae_loss(recon, batch, mu, logvar, 1.0, vae_config.sharpness)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    out["vae_64px_batch32_s_per_step"] = statistics.median(times)
    return {k: round(v, 4) for k, v in out.items()} | {
        "gan_steps_per_s": round(1 / out[gan_key], 3),
        "vae_steps_per_s": round(1 / out["vae_64px_batch32_s_per_step"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="256x144", help="generator size WxH (256x144)")
    parser.add_argument("--device", help="torch device (default: automatic)")
    parser.add_argument("--gan", type=Path, help="GAN checkpoint (default: an untrained one)")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train-steps", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    report: dict = {"machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
                    "torch": torch.__version__, "size": list(size),
                    "load_before": [round(v, 2) for v in os.getloadavg()]}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        gan = args.gan or untrained_gan(folder)
        gen_toml = f'model = "gan"\npath = "{gan}"\n'
        torch.jit.script(Style()).save(str(folder / "style.pt"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Style().eval(), (torch.zeros(1, 3, size[1], size[0]),),
                              str(folder / "style.onnx"), dynamo=False)
            torch.onnx.export(load_gan(gan).generator, (torch.zeros(1, 64),),
                              str(folder / "gan.onnx"), dynamo=False)
        cases = {
            "gan": (gen_toml, ""),
            "onnx (the GAN exported)": ('model = "onnx"\npath = "gan.onnx"\nlatent_dim = 64\n'
                                        'output_range = "-1..1"\n', ""),
            "gan + dream": (gen_toml, DREAM),
            "gan + dream (feedback)": (gen_toml, DREAM + "feedback = true\n"),
            "gan + model (ONNX conv net)": (gen_toml, '[[generator.stages]]\nkind = "model"\n'
                                            'path = "style.onnx"\n'),
            "gan + model (TorchScript conv net)": (gen_toml, '[[generator.stages]]\nkind = '
                                                   '"model"\npath = "style.pt"\n'),
        }
        for name, (generator, stages) in cases.items():
            show_path = write_show(folder, generator, stages, size)
            show = load_show(show_path)
            report[name] = bench(lambda buffers, show=show: make_generator(
                show, device=args.device, buffers=buffers), args.frames, args.repeats)
            print(name, json.dumps({k: round(v, 2) if isinstance(v, float) else v
                                    for k, v in report[name].items()}), flush=True)
        report["dream alone"] = dream_steps_per_s(write_show(folder, gen_toml, DREAM, size),
                                                  args.device)
        print("dream alone", report["dream alone"], flush=True)
    report["training"] = train_steps_per_s(args.train_steps)
    report["load_after"] = [round(v, 2) for v in os.getloadavg()]
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
