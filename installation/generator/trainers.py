"""``installation train --model NAME``: one registry of trainers, imported only when used.

A trainer is a function ``train_request(request: TrainRequest) -> str`` (the summary line the
command prints) in its own module; adding one is that module plus one line in
:data:`TRAINERS`. Options a trainer does not use are refused by it with one line.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

# --model name -> "module:function"
TRAINERS: dict[str, str] = {
    "vae": "installation.generator.train:train_request",
    "gan": "installation.generator.gan_train:train_request",
    "nca": "installation.generator.train_nca:train_request",
}


@dataclass(frozen=True)
class TrainRequest:
    """What the command line asked for; ``None`` means "the trainer's default"."""

    images: Path
    output: Path
    size: int | None = None
    minutes: float = 15.0
    steps: int | None = None
    epochs: int | None = None
    latent_dim: int | None = None
    batch_size: int | None = None
    every: int | None = None
    seed: int = 0
    device: str = "cpu"
    resume: bool = False
    progress: bool = True


def run_trainer(model: str, request: TrainRequest) -> str:
    """Train ``model`` as ``request`` says; returns the line to print.

    Raises
    ------
    UserError
        Bad options, an unreadable image folder or a checkpoint that cannot be resumed.
    """
    module, function = TRAINERS[model].split(":")
    return getattr(importlib.import_module(module), function)(request)
