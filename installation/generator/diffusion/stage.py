"""img2img as an image stage: the image of the source before it, repainted by the body.

Follows the chain's stage protocol (interfaces): ``name``, ``__call__(image, controls)``
with ``image`` ``(1, 3, H, W)`` in 0..1 on the chain's device, and ``reset()``. The strength
(how much of the noise range is repainted) comes from a control; the prompt blend from the
body's place among the moods. Its noise is seeded the same for every image: the repainting
follows the source's image and the body instead of flickering with fresh noise each time
(as StreamDiffusion does for the same reason).
"""

from __future__ import annotations

import torch
from torch import nn

from installation.generator.diffusion.loading import LoadedModel
from installation.generator.diffusion.prompts import PromptBlend, pipeline_kwargs
from installation.generator.diffusion.schedule import trailing_timesteps
from installation.generator.diffusion.source import model_size
from installation.messages import Controls


class DiffusionStage:
    """The diffusion model repainting the image it is given (img2img).

    Parameters
    ----------
    model
        The loaded pipelines.
    prompts
        The moods' prompts and their blend.
    seed
        Seed of the repainting noise (the same for every image).
    """

    name = "diffusion"

    def __init__(self, model: LoadedModel, prompts: PromptBlend, seed: int) -> None:
        self.model = model
        self.prompts = prompts
        self.seed = seed
        self.spec = model.spec
        self.last_strength = 0.0

    def strength(self, controls: Controls) -> float:
        """The strength at ``controls``: ``strength_range`` mapped from ``strength_control``
        (clipped to 0..1), or the constant ``strength``."""
        spec = self.spec
        if not spec.strength_control:
            return spec.strength
        value = min(1.0, max(0.0, float(controls.get(spec.strength_control, 0.0))))
        lo, hi = spec.strength_range
        return lo + (hi - lo) * value

    def reset(self) -> None:
        """Nothing carries over between images (the noise is the same for each)."""
        self.last_strength = 0.0

    @torch.inference_mode()
    def __call__(self, image: torch.Tensor, controls: Controls) -> torch.Tensor:
        model = self.model
        strength = self.strength(controls)
        self.last_strength = strength
        timesteps = trailing_timesteps(strength, self.spec.steps, model.train_steps,
                                       model.grid)
        if not timesteps:
            return image  # nothing to repaint at (almost) zero strength
        height, width = image.shape[-2:]
        paint_w, paint_h = model_size(model, (width, height))
        x = image.to(model.device, model.dtype)
        if (paint_h, paint_w) != (height, width):
            x = nn.functional.interpolate(x, size=(paint_h, paint_w), mode="bilinear",
                                          align_corners=False)
        positive, negative = self.prompts.conditioning(controls)
        generator = torch.Generator(model.device).manual_seed(self.seed)
        out = model.img2img(
            **pipeline_kwargs(positive, negative),
            image=x.clamp(0.0, 1.0), strength=1.0, timesteps=timesteps,
            guidance_scale=self.spec.guidance, generator=generator,
            output_type="pt", return_dict=False,
        )[0]
        if tuple(out.shape[-2:]) != (height, width):
            out = nn.functional.interpolate(out, size=(height, width), mode="bilinear",
                                            align_corners=False)
        return out.clamp(0.0, 1.0).to(image.device, image.dtype)
