"""TEMPORARY ADAPTER (issue 12): diffusion wired into today's generator.

The generator chain (``installation/generator/chain.py``, ``[[generator.stages]]``) is not
on main yet. Until it is, :func:`make_diffusion_generator` (called from ``factory.py``) builds

* ``[generator] model = "diffusion"``: :class:`~.source.DiffusionSource` as the model, and
* ``[diffusion] repaint = true``: the ``[generator]`` model followed by
  :class:`~.stage.DiffusionStage`,

inside :class:`DiffusionGenerator`, a ``LatentGenerator`` that calls ``render_controls`` and
guards the stage the way the chain will (bypass on error or non-finite output, off for the
run on a memory error, one logged line). Against main's chain (``chain.GeneratorChain``,
``sources.make_source``, ``stages.KINDS``), the lead moves:

* the stage: ``stages/diffusion.py`` with ``build(spec, show, device, dtype)`` returning
  :func:`build_stage` ``(show, device, dtype)``, the line ``"diffusion":
  "installation.generator.stages.diffusion:build"`` in ``KINDS`` and ``"diffusion"`` in
  ``StageSpec.kind``; ``[diffusion] repaint = true`` becomes ``[[generator.stages]] kind =
  "diffusion"`` (drop ``repaint`` and its two checks in ``show._check_references``);
* the source: ``make_source`` gets no show, and this source needs the show (moods,
  ``[diffusion]``, the show path for errors) and its own walk, so ``make_generator`` takes
  ``source, walk = build_source(show, dev, inference_dtype(dev))`` when ``spec.model ==
  "diffusion"`` instead of ``make_source``/``make_walk`` (``GeneratorChain`` already calls
  ``render_controls``);
* ``set_prompt``/``hud_line``/``save_blend`` onto ``GeneratorChain`` (forwarding to the
  :class:`~.prompts.PromptBlend` of the source or of the diffusion stage; rehearsal finds
  them with ``getattr``);

and deletes :class:`DiffusionGenerator`, its guard (``chain.GuardedStage`` does the same)
and the ``factory.py`` hook.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from pathlib import Path

import torch

from installation.generator.diffusion.loading import LoadedModel, load_model
from installation.generator.diffusion.offline import key_where
from installation.generator.diffusion.prompts import PromptBlend, PromptEncoder
from installation.generator.diffusion.source import DiffusionSource
from installation.generator.diffusion.stage import DiffusionStage
from installation.generator.latent_walk import LatentWalk
from installation.generator.moods import Encoder, MoodSpace, MoodWalk, resolve_anchors
from installation.generator.stage import ImageModel, LatentGenerator, Walk
from installation.messages import Controls, GeneratedImage
from installation.show import Show

_log = logging.getLogger(__name__)
LOG_EVERY_S = 10.0


def make_prompts(show: Show, model: LoadedModel) -> PromptBlend:
    """The show's prompts, blended where its moods are."""
    space = MoodSpace(show.generator, show.moods) if show.moods else None
    return PromptBlend(show.moods, show.diffusion, space, PromptEncoder(model),
                       embedding_where=lambda key: key_where(show.path, key))


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
    """``model = "diffusion"``: the txt2img source and the walk of its noise latent."""
    model = load_model(show.path, show.diffusion, device, dtype)
    source = DiffusionSource(model, make_prompts(show, model), show.generator.size,
                             show.generator.seed)
    return source, diffusion_walk(show, source.latent_dim)


def build_stage(show: Show, device: torch.device, dtype: torch.dtype) -> DiffusionStage:
    """The img2img stage (chain registry: ``kind = "diffusion"``)."""
    model = load_model(show.path, show.diffusion, device, dtype)
    return DiffusionStage(model, make_prompts(show, model), show.generator.seed + 3)


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    first = text.splitlines()[0][:120] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


class DiffusionGenerator(LatentGenerator):
    """A ``LatentGenerator`` whose model may read the controls and whose image a stage may
    repaint (what the chain will do for every source and stage)."""

    def __init__(self, model: ImageModel, walk: Walk, size: tuple[int, int],
                 device: torch.device, dtype: torch.dtype, buffers: int = 2,
                 stage: DiffusionStage | None = None, prompts: PromptBlend | None = None
                 ) -> None:
        super().__init__(model, walk, size, device, dtype, buffers)
        self.stage = stage
        self.prompts = prompts
        self.stage_off = False
        self._last_log = -math.inf

    @torch.inference_mode()
    def generate(self, controls: Controls, slot: int) -> GeneratedImage:
        self._z.copy_(self.walk(controls))
        render_controls = getattr(self.model, "render_controls", None)
        rgb = (render_controls(self._z, controls) if render_controls is not None
               else self.model.render(self._z))
        if self.stage is not None and not self.stage_off:
            rgb = self._repaint(rgb, controls)
        pixels = self.buffers.write(rgb, slot)
        image = GeneratedImage(t=controls.t, index=self._index, pixels=pixels)
        self._index += 1
        return image

    def _repaint(self, rgb: torch.Tensor, controls: Controls) -> torch.Tensor:
        assert self.stage is not None
        image = rgb.permute(2, 0, 1)[None].to(self.dtype)
        try:
            out = self.stage(image, controls)
        except (torch.cuda.OutOfMemoryError, MemoryError) as error:
            self.stage_off = True
            _log.error("stage %s: out of memory, off for this run; the source's image goes"
                       " on (%s)", self.stage.name, _reason(error))
            return rgb
        except Exception as error:  # the artist's model: bypass this image, keep the piece
            self._log_bypass(_reason(error))
            return rgb
        if out.shape != image.shape or not bool(torch.isfinite(out).all()):
            self._log_bypass("non-finite or misshapen image")
            return rgb
        return out[0].permute(1, 2, 0)

    def _log_bypass(self, reason: str) -> None:
        now = time.monotonic()
        if now - self._last_log >= LOG_EVERY_S:  # rate-limited: one line per 10 s at most
            self._last_log = now
            assert self.stage is not None
            _log.warning("stage %s bypassed for this image: %s", self.stage.name, reason)

    # -- the generator-side API for rehearsal (live prompting, saving a blend) -------------
    def set_prompt(self, name: str, text: str) -> None:
        """``/prompt NAME "text"``: mood ``name`` paints ``text`` from the next image on.

        Raises
        ------
        KeyError
            No mood has that name.
        """
        if self.prompts is None:
            raise KeyError("this generator has no prompts")
        self.prompts.set_prompt(name, text)

    def hud_line(self) -> str:
        """One HUD line: the strongest moods' weights and prompts (and the strength)."""
        if self.prompts is None:
            return ""
        last = self.prompts.last
        texts = self.prompts.texts()
        if last is None:
            return "prompt: " + " | ".join(f"{n}: {t[:24]}" for n, t in texts.items())
        top = sorted(last.weights.items(), key=lambda kv: -kv[1])[:2]
        parts = [f"{w:.0%} {n}: {texts[n][:28]!r}" for n, w in top if w >= 0.01]
        strength = ("" if self.stage is None else
                    "  off (memory)" if self.stage_off else
                    f"  strength {self.stage.last_strength:.2f}")
        return "prompt " + " | ".join(parts) + strength

    def save_blend(self, path: Path) -> str:
        """Save the current prompt blend as ``path`` (.safetensors); returns the TOML lines
        of the mood entry that uses it (rehearsal's ``m``)."""
        from installation.generator.diffusion.saving import save_blend

        if self.prompts is None or self.prompts.last is None:
            return ""
        return save_blend(self.prompts.last, path)


def make_diffusion_generator(show: Show, model: ImageModel | None, encoder: Encoder | None,
                             device: torch.device, dtype: torch.dtype, buffers: int
                             ) -> DiffusionGenerator:
    """``factory.make_generator`` for shows that use diffusion (temporary, see above).

    Parameters
    ----------
    model
        The ``[generator]`` model to repaint (``repaint = true``), or ``None`` for
        ``model = "diffusion"``.
    encoder
        The VAE's image encoder for image moods (only with a VAE source).
    """
    spec = show.generator
    if model is None:
        source, walk = build_source(show, device, dtype)
        return DiffusionGenerator(source, walk, spec.size, device, dtype, buffers,
                                  prompts=source.prompts)
    from installation.generator.factory import make_walk

    stage = build_stage(show, device, dtype)
    walk = make_walk(spec, show.moods, model.latent_dim, encoder)
    return DiffusionGenerator(model, walk, spec.size, device, dtype, buffers, stage=stage,
                              prompts=stage.prompts)
