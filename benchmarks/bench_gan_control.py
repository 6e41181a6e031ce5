"""A control for the GAN recipe: does a textbook DCGAN learn the procedural shapes on this CPU?

    .venv/bin/python benchmarks/bench_gan_control.py NAME '{"recipe": "dcgan", "ngf": 32}'
        [--minutes 12] [--score-every 120] [--out /tmp/gan_control] [--threads 1]

``recipe`` is ``dcgan`` (below) or ``product`` (``installation train --model gan``'s own
``_Run``, with any ``GanConfig``/``GanTrainConfig`` field of the JSON). Both train on the 240
procedural shapes of ``bench_quality.py`` (``quality.make_shapes``, seed 0) for ``--minutes``
of training wall-clock; every ``--score-every`` seconds of it, 96 fixed latents are rendered
and scored by ``quality.py`` (validity, sharpness, diversity, memorisation), one JSON line
each with steps, seconds per step, load and losses; 32 of them are saved as
``OUT/NAME_SECONDS.png``. Scoring time is not counted as training time. Run two at once, one
thread each, to compare at equal wall-clock on a shared machine.

The DCGAN is Radford, Metz and Chintala, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks" (ICLR 2016), as in the PyTorch example: G of
transposed 4x4 convs with BatchNorm and ReLU, tanh out; D of strided 4x4 convs with
BatchNorm (not on the first) and LeakyReLU 0.2; N(0, 0.02) init; Adam 2e-4, betas (0.5,
0.999); the non-saturating loss (binary cross-entropy, G maximises log D(G(z))); reals and
fakes in separate D batches; horizontal flips of the reals; no augmentation, no EMA. Options
(JSON): ``ngf``, ``ndf``, ``batch``, ``lr``, ``policy`` (DiffAugment of reals and fakes, as
the product does; default none), ``d_sn`` (spectral norm in D instead of its BatchNorm),
``d_lr`` (the discriminator's own rate), ``smooth`` (the real label, one-sided smoothing:
0.9), ``ema`` (render an exponential moving average of G with this decay, BatchNorm
statistics recomputed for it; default 0: G itself), ``eval_bn`` (how samples are scored:
``"recal"``, BatchNorm statistics recomputed from 4 x 32 latents then eval mode, as the
product does; ``"train"``, batch statistics of the 96 scored latents). ``product`` takes the
product's current defaults (format 3's DCGAN recipe) and any field named in the JSON,
``arch`` included, and also ``g_norm`` (an experiment: ``"group"`` or ``"none"`` in place of
the generator's BatchNorm). Records made before format 3 ran ``product`` with format 2's
FastGAN defaults.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch: see installation/cli.py

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812
from torch.nn.utils.parametrizations import spectral_norm

from installation.generator.dataset import load_folder
from installation.generator.diffaug import diff_augment
from installation.generator.gan import GanConfig
from installation.generator.gan_train import GanTrainConfig, _Run, recalibrated, sample_grid
from installation.generator.quality import make_shapes, quality

GAN_KEYS = ("channels", "d_channels", "latent_dim", "size", "d_norm", "decoders", "arch")


def dcgan_generator(nz: int, ngf: int) -> nn.Module:
    """64 px DCGAN generator: 4 -> 8 -> 16 -> 32 -> 64."""
    layers: list[nn.Module] = [nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
                               nn.BatchNorm2d(ngf * 8), nn.ReLU(True)]
    c = ngf * 8
    for _ in range(3):
        layers += [nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(c // 2),
                   nn.ReLU(True)]
        c //= 2
    layers += [nn.ConvTranspose2d(c, 3, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def dcgan_discriminator(ndf: int, sn: bool) -> nn.Module:
    """64 px DCGAN discriminator: 64 -> 32 -> 16 -> 8 -> 4 -> one logit."""
    def conv(c_in: int, c_out: int, k: int, s: int, p: int) -> nn.Module:
        layer = nn.Conv2d(c_in, c_out, k, s, p, bias=sn)
        return spectral_norm(layer) if sn else layer

    layers: list[nn.Module] = [conv(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    c = ndf
    for _ in range(3):
        layers += [conv(c, c * 2, 4, 2, 1)]
        if not sn:
            layers += [nn.BatchNorm2d(c * 2)]
        layers += [nn.LeakyReLU(0.2, True)]
        c *= 2
    layers += [conv(c, 1, 4, 1, 0)]
    return nn.Sequential(*layers)


def dcgan_init(module: nn.Module) -> None:
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class Dcgan:
    """The textbook training loop, seeded."""

    def __init__(self, spec: dict, data: torch.Tensor) -> None:
        torch.manual_seed(0)
        self.nz = 100
        self.batch = int(spec.get("batch", 64))
        self.g = dcgan_generator(self.nz, int(spec.get("ngf", 32)))
        self.d = dcgan_discriminator(int(spec.get("ndf", 32)), bool(spec.get("d_sn", False)))
        self.g.apply(dcgan_init)
        self.d.apply(dcgan_init)
        lr, betas = float(spec.get("lr", 2e-4)), (0.5, 0.999)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=lr, betas=betas)
        # A slower discriminator and one-sided label smoothing (Salimans et al., "Improved
        # Techniques for Training GANs", NeurIPS 2016) keep D from winning outright.
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=float(spec.get("d_lr", lr)),
                                      betas=betas)
        self.real_label = float(spec.get("smooth", 1.0))
        # An exponential moving average of G's weights (Karras et al. 2018), rendered instead
        # of G itself when ``ema`` > 0, as the product does.
        self.ema_decay = float(spec.get("ema", 0.0))
        self.ema = copy.deepcopy(self.g).requires_grad_(False) if self.ema_decay else None
        self.data = data
        self.policy = str(spec.get("policy", ""))  # DiffAugment of both, as the product does
        self.gen = torch.Generator().manual_seed(0)
        self.step = 0

    def train_step(self) -> tuple[float, float]:
        b, gen = self.batch, self.gen
        real = self.data[torch.randint(0, self.data.shape[0], (b,), generator=gen)]
        flip = torch.rand(b, generator=gen) < 0.5
        real = torch.where(flip[:, None, None, None], real.flip(-1), real)
        fake = diff_augment(self.g(torch.randn(b, self.nz, 1, 1, generator=gen)), self.policy, gen)
        real = diff_augment(real, self.policy, gen)
        ones, zeros = torch.ones(b), torch.zeros(b)
        loss_d = (F.binary_cross_entropy_with_logits(self.d(real).view(-1),
                                                     ones * self.real_label)
                  + F.binary_cross_entropy_with_logits(self.d(fake.detach()).view(-1), zeros))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        loss_g = F.binary_cross_entropy_with_logits(self.d(fake).view(-1), ones)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.step += 1
        if self.ema is not None:
            decay = min(self.ema_decay, (1.0 + self.step) / (10.0 + self.step))
            with torch.no_grad():
                for p_ema, p in zip(self.ema.parameters(), self.g.parameters(), strict=True):
                    p_ema.lerp_(p, 1.0 - decay)
        return float(loss_d.detach()), float(loss_g.detach())

    @torch.no_grad()
    def render(self, z: torch.Tensor, mode: str) -> torch.Tensor:
        z = z[:, : self.nz].reshape(z.shape[0], -1, 1, 1)
        source = self.ema if self.ema is not None else self.g
        if mode == "train":
            model = copy.deepcopy(source).train()
            return model(z)
        model = copy.deepcopy(source)
        bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
        model.train()
        g = torch.Generator().manual_seed(1234)
        for _ in range(4):
            model(torch.randn(32, self.nz, 1, 1, generator=g))
        return model.eval()(z)


class Product:
    """``installation train --model gan``'s own run, with the JSON's settings."""

    def __init__(self, spec: dict, data: torch.Tensor) -> None:
        spec = dict(spec)
        g_norm = spec.pop("g_norm", "batch")
        gan = GanConfig(**{k: spec.pop(k) for k in list(spec) if k in GAN_KEYS})
        if "betas" in spec:
            spec["betas"] = tuple(spec["betas"])
        self.config = GanTrainConfig(gan=gan, progress=False, **spec)
        self.run = _Run(self.config, gan, torch.device("cpu"))
        if g_norm != "batch":
            # An experiment: the generator without train-mode BatchNorm (batch statistics),
            # each BatchNorm replaced by GroupNorm (per image) or nothing; EMA and optimiser
            # rebuilt around the new modules.
            run = self.run
            for module in run.generator.modules():
                for name, child in module.named_children():
                    if isinstance(child, nn.BatchNorm2d):
                        c = child.num_features
                        setattr(module, name, nn.GroupNorm(min(8, c // 2), c)
                                if g_norm == "group" else nn.Identity())
            run.ema = copy.deepcopy(run.generator).eval()
            for p in run.ema.parameters():
                p.requires_grad_(False)
            run.opt_g = torch.optim.Adam(run.generator.parameters(),
                                         lr=self.config.learning_rate, betas=self.config.betas)
        self.data = data
        self.nz = gan.latent_dim

    @property
    def step(self) -> int:
        return self.run.step

    def train_step(self) -> tuple[float, float]:
        d, g, _ = self.run.train_step(self.data, self.config)
        return d, g

    @torch.no_grad()
    def render(self, z: torch.Tensor, mode: str) -> torch.Tensor:
        return recalibrated(self.run.ema, self.nz, self.run.device)(z[:, : self.nz])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("spec", help='JSON: {"recipe": "dcgan" | "product", ...options}')
    parser.add_argument("--minutes", type=float, default=12.0)
    parser.add_argument("--score-every", type=float, default=120.0, help="training seconds")
    parser.add_argument("--out", type=Path, default=Path("/tmp/gan_control"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    spec = json.loads(args.spec)
    recipe = spec.pop("recipe", "dcgan")
    mode = spec.pop("eval_bn", "recal")
    with tempfile.TemporaryDirectory() as tmp:
        make_shapes(Path(tmp), count=240, size=64, seed=0)
        images, _ = load_folder(Path(tmp), 64)
    data = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    model = Dcgan(spec, data) if recipe == "dcgan" else Product(spec, data)
    z = torch.randn(96, 128, generator=torch.Generator().manual_seed(7))
    args.out.mkdir(parents=True, exist_ok=True)
    trained, next_score, budget = 0.0, args.score_every, args.minutes * 60.0
    while True:
        start = time.perf_counter()
        d, g = model.train_step()
        trained += time.perf_counter() - start
        if trained >= next_score or trained >= budget:
            next_score += args.score_every
            x = model.render(z, mode)
            pixels = x.add(1).mul(127.5).clamp(0, 255).round().byte().permute(0, 2, 3, 1)
            q = quality(pixels.numpy(), images, shapes=True)
            print(json.dumps({
                "name": args.name, "seconds": round(trained), "step": model.step,
                "s_per_step": round(trained / model.step, 3),
                "load": round(os.getloadavg()[0], 2), "loss_d": round(d, 3),
                "loss_g": round(g, 3), "validity": round(q.validity or 0.0, 3),
                "sharpness_ratio": round(q.sharpness_ratio, 3),
                "diversity_ratio": round(q.diversity_ratio, 3),
                "memorisation_ratio": round(q.memorisation_ratio, 3)}), flush=True)
            sample_grid(x[:32], args.out / f"{args.name}_{round(trained):05d}.png")
            if trained >= budget:
                break


if __name__ == "__main__":
    main()
