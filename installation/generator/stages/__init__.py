"""Image stages of the generator chain, built from ``[[generator.stages]]`` by ``kind``.

Adding a kind is one module with a ``build(spec, show, device, dtype) -> ImageStage`` function
and one line in :data:`KINDS` (plus the kind in ``StageSpec.kind``). Modules are imported only
when a show uses their kind, so a show without stages never pays for them.
"""

from __future__ import annotations

import importlib

import torch

from installation.generator.chain import ImageStage
from installation.show import Show, StageSpec

# kind -> "module:function" building it.
KINDS: dict[str, str] = {
    "dream": "installation.generator.stages.dream:build",
    "model": "installation.generator.stages.model:build",
}


def make_stage(spec: StageSpec, show: Show, device: torch.device, dtype: torch.dtype
               ) -> ImageStage:
    """The stage ``spec`` declares, on ``device``, taking and returning ``dtype`` images.

    Raises
    ------
    ModelError
        A file the stage needs is missing, broken or breaks its contract.
    """
    module, function = KINDS[spec.kind].split(":")
    return getattr(importlib.import_module(module), function)(spec, show, device, dtype)
