"""``kind = "diffusion"``: the artist's diffusion model repaints the image (img2img).

The model is ``[diffusion]``'s (the same table the txt2img source reads); the stage's own keys
are ``strength``, ``strength_control`` and ``strength_range`` (and ``mix``/``mix_control``, as
for every stage). See :class:`installation.generator.diffusion.stage.DiffusionStage` and
docs/diffusion.md.
"""

from __future__ import annotations

import torch

from installation.generator.device import inference_dtype
from installation.generator.diffusion.loading import load_model
from installation.generator.diffusion.prompts import show_prompts
from installation.generator.diffusion.stage import DiffusionStage
from installation.show import Show, StageSpec


def build(spec: StageSpec, show: Show, device: torch.device, dtype: torch.dtype
          ) -> DiffusionStage:
    """Load ``[diffusion]``'s model for a ``kind = "diffusion"`` stage.

    The model runs in the device's inference dtype (float16 on CUDA) whatever ``dtype`` the
    chain's images have (a TorchScript source's float32, say); the stage converts on the way
    in and out. Each diffusion link loads its own copy of the model (a diffusion source
    followed by a diffusion stage holds it twice).

    Raises
    ------
    ModelError
        One line naming the ``[diffusion]`` key: the extra is missing, the path is not a
        pipeline, a component is missing, or the weights do not load.
    """
    model = load_model(show.path, show.diffusion, device, inference_dtype(device))
    return DiffusionStage(model, show_prompts(show, model), show.generator.seed + 3, spec)
