"""img2img as an image stage: the image of the link before it, repainted by the body.

Follows the chain's stage protocol (``chain.ImageStage``): ``name``, ``__call__(image,
controls)`` with ``image`` ``(1, 3, H, W)`` in 0..1 on the chain's device, and ``reset()``.
The strength (how much of the noise range is repainted) comes from the stage's control; the
prompt blend from the body's place among the moods. Its noise is seeded the same for every
image: the repainting follows the source's image and the body instead of flickering with
fresh noise each time (as StreamDiffusion does for the same reason). Failures are the
chain's to handle (``chain.GuardedStage``: bypassed, or off for the run on a memory error).
"""

from __future__ import annotations

import torch
from torch import nn

from installation.generator.diffusion.loading import LoadedModel
from installation.generator.diffusion.prompts import PromptBlend, pipeline_kwargs
from installation.generator.diffusion.schedule import trailing_timesteps
from installation.generator.diffusion.source import model_size
from installation.messages import Controls
from installation.show import StageSpec


def _clip01(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


class DiffusionStage:
    """The diffusion model repainting the image it is given (img2img).

    Parameters
    ----------
    model
        The loaded pipelines (``model.spec``: ``[diffusion]``, steps and guidance).
    prompts
        The moods' prompts and their blend.
    seed
        Seed of the repainting noise (the same for every image).
    settings
        The stage's ``[[generator.stages]]`` entry: strength, its control, mix.
    """

    def __init__(self, model: LoadedModel, prompts: PromptBlend, seed: int,
                 settings: StageSpec) -> None:
        self.model = model
        self.prompts = prompts
        self.seed = seed
        self.spec = model.spec
        self.settings = settings
        self.name = settings.label
        self.last_strength = 0.0

    def strength(self, controls: Controls) -> float:
        """The strength at ``controls``: ``strength_range`` mapped from ``strength_control``
        (clipped to 0..1; a missing control reads 0), or the constant ``strength``."""
        settings = self.settings
        if not settings.strength_control:
            return settings.strength
        value = _clip01(controls.get(settings.strength_control, 0.0))
        lo, hi = settings.strength_range
        return lo + (hi - lo) * value

    def mix(self, controls: Controls) -> float:
        """Share of the repainted image over the stage's input (``mix``, scaled by
        ``mix_control``), as for every stage."""
        settings = self.settings
        scale = _clip01(controls.get(settings.mix_control, 1.0)) if settings.mix_control else 1.0
        return settings.mix * scale

    def hud_status(self) -> str:
        """The rehearsal HUD's part: the strength of the latest image."""
        return f"{self.name} strength {self.last_strength:.2f}"

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
        mix = self.mix(controls)
        if not timesteps or mix <= 0.0:
            return image  # nothing to repaint at (almost) zero strength, or nothing shown
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
        out = out.clamp(0.0, 1.0).to(image.device, image.dtype)
        return out if mix >= 1.0 else torch.lerp(image, out, mix)
