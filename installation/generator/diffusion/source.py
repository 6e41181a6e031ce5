"""txt2img as a generator source: the walked noise latent + the blended prompt -> an image.

Follows the chain's source protocol (docs/generator.md, interfaces): ``latent_dim``,
``render(z)`` and ``render_controls(z, controls)``. ``z`` is the walked noise latent,
flattened: the walk moves it, drifts it and the heartbeat kicks it, exactly as it moves a
CPPN's latent; the controls also place the body among the moods, whose prompt embeddings
are blended (:class:`~.prompts.PromptBlend`).
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from installation.generator.chain import Walk
from installation.generator.diffusion.loading import LoadedModel, load_model
from installation.generator.diffusion.prompts import PromptBlend, pipeline_kwargs, show_prompts
from installation.generator.diffusion.schedule import trailing_timesteps
from installation.generator.latent_walk import LatentWalk
from installation.generator.models import fit_cover
from installation.generator.moods import MoodWalk, resolve_anchors
from installation.messages import Controls
from installation.show import Show


def model_size(model: LoadedModel, size: tuple[int, int]) -> tuple[int, int]:
    """Width, height the model paints at: ``[diffusion] size``, else ``size`` rounded up to
    whole latent cells."""
    if model.spec.size is not None:
        return model.spec.size
    f = model.vae_scale
    return (-(-size[0] // f) * f, -(-size[1] // f) * f)


class DiffusionSource:
    """The diffusion model as a source (txt2img).

    Parameters
    ----------
    model
        The loaded pipelines.
    prompts
        The moods' prompts and their blend.
    size
        ``(width, height)`` handed out (the model's image is scaled to cover it).
    seed
        Seeds the sampler's own noise (ancestral steps), the same for every image, so a
        replay is byte-identical and the picture moves only as the latent and prompts do.
    """

    name = "diffusion"

    def __init__(self, model: LoadedModel, prompts: PromptBlend, size: tuple[int, int],
                 seed: int) -> None:
        self.model = model
        self.prompts = prompts
        self.size = size
        self.seed = seed
        width, height = model_size(model, size)
        f = model.vae_scale
        self.latent_shape = (1, model.latent_channels, height // f, width // f)
        self.latent_dim = model.latent_channels * (height // f) * (width // f)
        self.paint_size = (width, height)
        self.timesteps = trailing_timesteps(1.0, model.spec.steps, model.train_steps,
                                            model.grid)

    def render(self, z: torch.Tensor) -> torch.Tensor:
        return self.render_controls(z, Controls(t=0.0, values={}))

    @torch.inference_mode()
    def render_controls(self, z: torch.Tensor, controls: Controls) -> torch.Tensor:
        """``z`` ``(latent_dim,)`` unit-variance noise -> ``(height, width, 3)`` in 0..1."""
        model = self.model
        positive, negative = self.prompts.conditioning(controls)
        latents = z.reshape(self.latent_shape).to(model.device, model.dtype)
        generator = torch.Generator(model.device).manual_seed(self.seed)
        out = model.txt2img(
            **pipeline_kwargs(positive, negative),
            latents=latents, timesteps=list(self.timesteps),
            guidance_scale=model.spec.guidance, generator=generator,
            width=self.paint_size[0], height=self.paint_size[1],
            output_type="pt", return_dict=False,
        )[0]
        images = fit_cover(out.clamp(0.0, 1.0), *self.size)
        return images[0].permute(1, 2, 0)


def diffusion_walk(show: Show, latent_dim: int) -> Walk:
    """The walk of the noise latent: the moods' walk (or the two-anchor walk) in its space.

    ``max_step`` and ``pulse_kick`` are lengths in latent space, set for a latent of
    ``generator.latent_dim`` values; the noise latent has ``latent_dim`` (thousands), so both
    scale by ``sqrt(latent_dim / generator.latent_dim)`` to move the picture as much.
    """
    spec = show.generator
    scale = math.sqrt(latent_dim / spec.latent_dim)
    spec = replace(spec, latent_dim=latent_dim, max_step=spec.max_step * scale,
                   pulse_kick=spec.pulse_kick * scale)
    if not show.moods:
        return LatentWalk(spec)
    return MoodWalk(spec, show.moods, resolve_anchors(show.moods, latent_dim,
                                                      shared_seed=spec.seed))


def build_source(show: Show, device: torch.device, dtype: torch.dtype
                 ) -> tuple[DiffusionSource, Walk]:
    """``[generator] model = "diffusion"``: the txt2img source and the walk of its noise
    latent (``sources.SOURCES["diffusion"]``).

    Raises
    ------
    ModelError
        One line naming the ``[diffusion]`` key (see :func:`~.loading.load_model`).
    """
    model = load_model(show.path, show.diffusion, device, dtype)
    source = DiffusionSource(model, show_prompts(show, model), show.generator.size,
                             show.generator.seed)
    return source, diffusion_walk(show, source.latent_dim)
